"""What the app says, apart from code: the story's page order and workshop acts (:mod:`.story`)
and the quiz's questions (:mod:`.quiz`)."""
