"""Every sentence the app shows, apart from code: functions that take numbers (or an experiment's
result) and return words, so the experiments return data only and a page only places text.

* the story: page order and workshop acts (:mod:`.story`), the quiz's questions (:mod:`.quiz`);
* the papers' published numbers with where each was read (:mod:`.papers`) and the "common claims,
  checked" box built from them and our measurements (:mod:`.claims`);
* per page or experiment: :mod:`.vanishing`, :mod:`.highway`, :mod:`.shattered`,
  :mod:`.misconceptions`, :mod:`.architectures`, :mod:`.your_network`, :mod:`.training`,
  :mod:`.training_lr`, :mod:`.landscape`, :mod:`.lesion`, :mod:`.attribution`;
* shared: a probe's block table in words (:mod:`.verdict`), a background job's state
  (:mod:`.job_status`).
"""
