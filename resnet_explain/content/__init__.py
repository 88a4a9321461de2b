"""What the app says, apart from code: the story's page order and workshop acts (:mod:`.story`),
the quiz's questions (:mod:`.quiz`), the papers' published numbers with where each was read
(:mod:`.papers`) and the "common claims, checked" box built from them and our measurements
(:mod:`.claims`)."""
