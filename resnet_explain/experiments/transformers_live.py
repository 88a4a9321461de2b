"""The Transformers page's live run: pre-LN and its twin without skips trained here under the quick
budget, then the lesion and the logit lens on both — with an estimate made before by the one
estimator every page uses (train/estimate.py: this host timed once, then arithmetic)."""

from __future__ import annotations

from typing import Callable

import pandas as pd

from ..train.budgets import LM_BUDGETS, Budget
from ..train.estimate import HostSpeed, host_speed
from ..train.runs import RunStore
from . import lm_lesion
from . import transformers_trained as tft
from . import transformers_train as tfg

LIVE_BUDGET = "lm-quick"
LIVE_SIZES: dict = {}  # transformer_spec sizes beyond the defaults (tests make them tiny)
LIVE_WINDOWS = 64  # validation windows for the live lesion and lens (4,096 next bytes)


def budget() -> Budget:
    return LM_BUDGETS[LIVE_BUDGET]


def estimate_pair_seconds(device: str = "cpu", speed: HostSpeed | None = None) -> float:
    """Seconds for the pair on this host by the one estimator (train/estimate.py, the host timed
    once): each network's training and evaluations (:meth:`HostSpeed.run_seconds`), then its lesion
    (:func:`.lm_lesion.estimate_seconds`) and its logit lens (one forward pass) on LIVE_WINDOWS."""
    speed = speed or host_speed(device)
    total = 0.0
    for cell in tfg.pair_cells():  # the learning rate and warm-up do not change the cost
        spec = (req := cell.request(budget(), device, **LIVE_SIZES)).netspec
        total += (speed.run_seconds(req) + lm_lesion.estimate_seconds(spec, LIVE_WINDOWS, speed)
                  + speed.forward_seconds(spec, LIVE_WINDOWS, lm_lesion.FORWARD_BATCH))
    return float(total)


def live_pair(lr: float, warmup_steps: int, device: str = "cpu", store: RunStore | None = None,
              progress: Callable[[int, int, dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> dict[str, pd.DataFrame]:
    """Train (or load) pre-LN and its twin without skips at ``lr`` and ``warmup_steps``, then the
    lesion and the logit lens of both: {"finals", "curves", "lesion", "lens"}."""
    cells = tfg.pair_cells(lr, warmup_steps)
    runs = tfg.train_cells(cells, store, budget=budget(), device=device, progress=progress,
                           should_stop=should_stop, sizes=LIVE_SIZES)
    finals, curves = tfg.grid_frames(runs)
    _, val = budget().data.load()
    les, lens = [], []
    for cell, run in runs:
        model, _, _ = run.load_model()
        les.append(tft.lesion(model, val, LIVE_WINDOWS).assign(variant=cell.variant))
        lens.append(tft.logit_lens(model, val, LIVE_WINDOWS).assign(variant=cell.variant))
    return {"finals": finals, "curves": curves, "lesion": pd.concat(les, ignore_index=True),
            "lens": pd.concat(lens, ignore_index=True)}
