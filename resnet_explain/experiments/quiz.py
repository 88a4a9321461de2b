"""The quiz's measuring and scoring: the predict-then-measure items' numbers, measured live with
the probe, and the score of a visitor's answers. The questions, options and explanations (the
words) are :mod:`resnet_explain.content.quiz`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..content.quiz import PREDICTIONS, QUESTIONS, RATIO_BINS, Prediction
from ..probe import probe_spec
from ..spec import preset
from .vanishing import SWEEP_BATCH


def ratio_bin(ratio: float) -> int | None:
    """Index into RATIO_BINS of a measured ratio (0 goes to the lowest bin); None for NaN/Inf."""
    if ratio is None or not np.isfinite(ratio) or ratio < 0:
        return None
    for i, (_, lo, hi) in enumerate(RATIO_BINS):
        if lo <= ratio < hi:
            return i
    return None


def measure_prediction(p: Prediction, seed: int = 0, batch: int = SWEEP_BATCH) -> float:
    """The first/last block gradient ratio of the prediction's network (the number to guess)."""
    return probe_spec(preset(p.preset), seed=seed, batch=batch).ratio


def score_quiz(choices: dict[str, int | None], measured: dict[str, float] | None = None,
               questions=QUESTIONS, predictions=PREDICTIONS) -> pd.DataFrame:
    """One row per item: the chosen and the correct option and whether they agree. A prediction is
    correct when the chosen bin contains the measured value; unanswered items count as wrong.
    Predictions without a measurement in ``measured`` are left out."""
    measured = measured or {}
    rows = []
    for q in questions:
        c = choices.get(q.key)
        rows.append({"key": q.key, "kind": "concept", "prompt": q.prompt,
                     "chosen": q.options[c] if c is not None else None,
                     "correct_option": q.options[q.answer], "correct": c == q.answer,
                     "measured": np.nan, "explanation": q.explanation, "page": q.page})
    for p in predictions:
        if p.key not in measured:
            continue
        c = choices.get(p.key)
        r = measured[p.key]
        right = ratio_bin(r)
        rows.append({"key": p.key, "kind": "prediction", "prompt": p.prompt,
                     "chosen": RATIO_BINS[c][0] if c is not None else None,
                     "correct_option": RATIO_BINS[right][0] if right is not None else "not finite",
                     "correct": c is not None and c == right, "measured": r,
                     "explanation": p.explanation, "page": p.page})
    return pd.DataFrame(rows)
