"""Training Transformers: a learning-rate x warm-up grid for pre-LN vs post-LN, and the no-skip twin.

Xiong et al. 2020 (arXiv 2002.04745) argue that post-LN Transformers need a learning-rate warm-up
(their gradients near the output are large at initialisation) and that pre-LN ones train without
it. The grid asks that of our small character model: the same network trained at each learning
rate with each linear warm-up length, for both norm placements, and the twin without skips (pre-LN's
norms, every skip off) at each learning rate with the budget's warm-up. Each cell is a stored run
(:mod:`resnet_explain.train.runs`): asked again, it is loaded, never retrained.

Results are tidy: :func:`grid_frames` gives one row per cell (final losses, diverged or not) and
one row per (cell, recorded step) for the curves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import Stopped
from ..spec import NetSpec
from ..spec.transformer import transformer_spec
from ..train.budgets import LM_BUDGETS, Budget
from ..train.runs import Run, RunRequest, RunStore, train_run

GRID_LRS = (3e-4, 1e-3, 3e-3, 1e-2)  # AdamW peak learning rates (half a decade apart)
GRID_WARMUPS = (0, 15, 60)  # linear warm-up steps: none, 10 % and 40 % of the 150-step budget
# The networks the grid compares, as transformer_spec's knobs.
VARIANTS: dict[str, dict] = {
    "pre-LN": dict(norm="pre"),
    "post-LN": dict(norm="post"),
    "no skips": dict(norm="pre", skips=False),  # pre-LN's norms and weights, every skip off
}
GRID_VARIANTS = ("pre-LN", "post-LN")
CELL_COLUMNS = ["variant", "lr", "warmup_steps", "depth", "seed"]
FINAL_COLUMNS = CELL_COLUMNS + ["train_loss", "val_loss", "diverged", "steps", "seconds", "run_id",
                                "corpus_sha256", "spec"]
CURVE_COLUMNS = CELL_COLUMNS + ["step", "train_loss", "val_loss", "grad_norm_max", "lr_now"]


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a network variant at a learning rate and a warm-up length."""

    variant: str
    lr: float
    warmup_steps: int
    depth: int = 6
    seed: int = 0

    def spec(self, **sizes) -> NetSpec:
        return transformer_spec(depth=self.depth, **VARIANTS[self.variant], **sizes)

    def request(self, budget: Budget | None = None, device: str = "auto", **sizes) -> RunRequest:
        b = budget or LM_BUDGETS["lm-quick"]
        cfg = replace(b.config, lr=float(self.lr), warmup_steps=int(self.warmup_steps),
                      seed=int(self.seed), device=device)
        return RunRequest(spec=self.spec(context=b.data.context, **sizes).to_query(), data=b.data,
                          config=cfg)

    def label(self) -> dict:
        return {"variant": self.variant, "lr": self.lr, "warmup_steps": self.warmup_steps,
                "depth": self.depth, "seed": self.seed}


def grid_cells(lrs=GRID_LRS, warmups=GRID_WARMUPS, depth: int = 6, seed: int = 0,
               no_skip_warmup: int | None = None) -> list[Cell]:
    """pre-LN and post-LN at every (lr, warm-up), then the no-skip twin at every lr with
    ``no_skip_warmup`` (default: the budget's warm-up, 15 steps)."""
    ns = LM_BUDGETS["lm-quick"].config.warmup_steps if no_skip_warmup is None else no_skip_warmup
    cells = [Cell(v, lr, w, depth, seed) for v in GRID_VARIANTS for w in warmups for lr in lrs]
    return cells + [Cell("no skips", lr, ns, depth, seed) for lr in lrs]


def pair_cells(lr: float = 1e-3, warmup_steps: int = 15, depth: int = 6, seed: int = 0) -> list[Cell]:
    """The quick pair the page trains live: pre-LN and its twin without skips."""
    return [Cell("pre-LN", lr, warmup_steps, depth, seed), Cell("no skips", lr, warmup_steps, depth, seed)]


def train_cells(cells: list[Cell], store: RunStore | None = None, *, budget: Budget | None = None,
                device: str = "auto", progress: Callable[[int, int, dict], None] | None = None,
                should_stop: Callable[[], bool] | None = None, keep_going: bool = False,
                sizes: dict | None = None) -> list[tuple[Cell, Run]]:
    """Train (or load) each cell's run, in order. ``progress(done, total, row)`` after each history
    row; a stop raises :class:`Stopped` unless ``keep_going``, which returns the finished cells.
    ``sizes``: other transformer_spec sizes (width, heads; tests use tiny ones)."""
    store = store or RunStore()
    done: list[tuple[Cell, Run]] = []
    for i, cell in enumerate(cells):
        def row_progress(row, i=i, cell=cell):
            if progress is not None:
                progress(i, len(cells), {**cell.label(), **row})
        try:
            run, _ = train_run(cell.request(budget, device, **(sizes or {})), store, progress=row_progress,
                               should_stop=should_stop, name=f"{cell.variant} d{cell.depth}",
                               label=f"lr {cell.lr:g}, warm-up {cell.warmup_steps}")
        except Stopped:
            if keep_going:
                return done
            raise
        done.append((cell, run))
        if progress is not None:
            progress(i + 1, len(cells), cell.label())
    return done


def grid_frames(runs: list[tuple[Cell, Run]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(finals: one row per cell; curves: one row per cell and recorded step)."""
    finals, curves = [], []
    for cell, run in runs:
        m = run.meta
        finals.append({**cell.label(), "train_loss": m.get("train_loss"), "val_loss": m.get("val_loss"),
                       "diverged": bool(m.get("diverged")), "steps": m.get("steps"),
                       "seconds": m.get("seconds"), "run_id": run.run_id,
                       "corpus_sha256": m.get("corpus_sha256"), "spec": run.request.spec})
        h = run.history.rename(columns={"lr": "lr_now"})
        for rec in h.to_dict("records"):
            curves.append({**cell.label(), **{k: rec.get(k) for k in CURVE_COLUMNS[5:]}})
    return (pd.DataFrame(finals, columns=FINAL_COLUMNS).astype({"train_loss": float, "val_loss": float}),
            pd.DataFrame(curves, columns=CURVE_COLUMNS))


# The grid's cells run again with more seeds (scripts/make_transformers.py --only seeds): post-LN at
# lr 1e-3, where seed 0 stayed at byte frequencies with 15 warm-up steps and trained with 0 and 60.
SEED_CELLS = dict(variant="post-LN", lr=1e-3, warmups=(0, 15, 60), seeds=(1, 2))


def seed_cells() -> list[Cell]:
    c = SEED_CELLS
    return [Cell(c["variant"], c["lr"], w, 6, seed) for seed in c["seeds"] for w in c["warmups"]]


def seed_table(finals: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The grid's seed-0 rows of :data:`SEED_CELLS` with the rows of the other seeds: one row per
    (warm-up, seed), sorted."""
    c = SEED_CELLS
    grid = finals[(finals["variant"] == c["variant"]) & np.isclose(finals["lr"], c["lr"])
                  & finals["warmup_steps"].isin(c["warmups"])]
    return (pd.concat([grid, seeds], ignore_index=True).sort_values(["warmup_steps", "seed"])
            .reset_index(drop=True))
