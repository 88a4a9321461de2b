"""The Transformers page's live run: pre-LN and its twin without skips trained here under the quick
budget, then the lesion and the logit lens on both — with an estimate made before, from real
training steps timed here and now (a shared server is slower than the machine of the stored runs)."""

from __future__ import annotations

import time
from typing import Callable

import pandas as pd
import torch

from ..model import build_model
from ..train.budgets import LM_BUDGETS, Budget
from ..train.lm_trainer import EVAL_WINDOWS, lm_loss, make_optimizer
from ..train.runs import LM_TRAIN_WINDOWS, RunStore
from . import transformers_trained as tft
from . import transformers_train as tfg

LIVE_BUDGET = "lm-quick"
LIVE_SIZES: dict = {}  # transformer_spec sizes beyond the defaults (tests make them tiny)
LIVE_WINDOWS = 64  # validation windows for the live lesion and lens (4,096 next bytes)


def budget() -> Budget:
    return LM_BUDGETS[LIVE_BUDGET]


def seconds_per_step(depth: int = 6, device: str = "cpu", steps: int = 2) -> float:
    """One training step of the pre-LN network at the budget's batch and context, timed here (the
    last of ``steps``; the first warms up the allocator)."""
    b = budget()
    model = build_model(tfg.Cell("pre-LN", 1e-3, 0, depth).spec(context=b.data.context, **LIVE_SIZES),
                        seed=0).to(device)
    opt = make_optimizer(model, b.config)
    x = torch.randint(0, 256, (b.config.batch_size, b.data.context), device=device)
    dt = 0.0
    for _ in range(steps):
        t = time.perf_counter()
        loss = lm_loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t
    return dt


def pair_step_equivalents() -> float:
    """Training steps plus what the evaluations cost, in steps (a forward pass of a batch is about a
    third of a training step): the history's evaluations, the final losses, the lesion and the lens."""
    c = budget().config
    bs = c.batch_size
    evals = (c.max_steps // max(1, c.eval_every or c.max_steps) + 1) * EVAL_WINDOWS / bs
    final = (LM_TRAIN_WINDOWS + budget().data.n_val) / bs
    analysis = (2 * 6 + 6 + 2) * LIVE_WINDOWS / bs  # lesions of layers and sublayers, intact, lens
    return c.max_steps + (evals + final + analysis) / 3


def estimate_pair_seconds(per_step: float) -> float:
    """Seconds for the pair (two networks) from one step's measured time."""
    return 2 * pair_step_equivalents() * per_step


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
