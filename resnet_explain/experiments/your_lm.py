"""Train your network, when it is a Transformer: the pair's table, its validation curves and the
reference they are read against.

The pair is trained by :func:`resnet_explain.experiments.your_network.train_pair` like an image
network's (:mod:`resnet_explain.train.lm_trainer` under the hood, the runs stored in the one run
store with the corpus hash in their ids). What differs is what a number means: a loss in nats per
byte, read against the **byte-frequency loss** — the validation loss of a model that knows how
often each byte occurs in the training windows and nothing about context
(:func:`resnet_explain.data.text.unigram_loss`), computed here from the run's own data recipe. A
network that stays at that loss learnt no context: :func:`resnet_explain.chance.unfair_lm_sides`,
the one rule of a fair pair, says so.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from ..chance import unfair_lm_sides
from ..data.text import TextRecipe, unigram_loss

if TYPE_CHECKING:
    from ..train.runs import Run
    from .your_network import PlannedRun

LM_TABLE_COLUMNS = ["network", "architecture", "layers", "training loss", "validation loss",
                    "below byte frequencies", "seconds", "run id", "source"]
LM_CURVE_COLUMNS = ["net", "role", "arch", "step", "train_loss", "val_loss"]


@lru_cache(maxsize=8)
def reference_loss(recipe: TextRecipe, windows: int | None = None) -> float:
    """The byte-frequency loss (nats per byte) on ``recipe``'s validation split (its first
    ``windows`` windows: those a lesion is measured on), fit on its training split
    (:func:`resnet_explain.data.text.unigram_loss`): what learning no context scores."""
    train, val = recipe.load()
    return unigram_loss(train, val if windows is None else val.subset(int(windows)))


def lm_table(pair: list[tuple[PlannedRun, Run]], reference: float, trained_here=()) -> pd.DataFrame:
    """One row per run from its stored meta: final training and validation losses (nats per byte,
    eval mode), how far the validation loss is below ``reference``, seconds, id, source."""
    rows = [{"network": r.role, "architecture": r.arch, "layers": r.depth,
             "training loss": round(float(run.meta["train_loss"]), 3),
             "validation loss": round(float(run.meta["val_loss"]), 3),
             "below byte frequencies": round(reference - float(run.meta["val_loss"]), 3),
             "seconds": round(float(run.meta["seconds"]), 1), "run id": run.run_id,
             "source": "trained now" if run.run_id in set(trained_here) else "loaded (stored)"}
            for r, run in pair]
    return pd.DataFrame(rows, columns=LM_TABLE_COLUMNS)


def lm_curves(pair: list[tuple[PlannedRun, Run]]) -> pd.DataFrame:
    """The runs' recorded rows (validation loss every ``eval_every`` steps, from step 0) in long
    form, tagged with the net's name, role and architecture."""
    parts = [run.history.assign(net=r.net, role=r.role, arch=r.arch)[LM_CURVE_COLUMNS]
             for r, run in pair]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LM_CURVE_COLUMNS)


def records_curves(records: list[dict]) -> pd.DataFrame:
    """A running job's progress records (:func:`~.your_network.train_pair`'s) as :func:`lm_curves`."""
    if not records:
        return pd.DataFrame(columns=LM_CURVE_COLUMNS)
    return pd.DataFrame(records)[LM_CURVE_COLUMNS]


def lm_findings(pair: list[tuple[PlannedRun, Run]], reference: float) -> dict:
    """The numbers the page's sentence reads: per role its net, validation loss, gain below
    ``reference`` and the fair-pair flag (:func:`~resnet_explain.chance.unfair_lm_sides`)."""
    losses = {r.role: float(run.meta["val_loss"]) for r, run in pair}
    flags = unfair_lm_sides(losses, reference)
    sides = {r.role: {"net": r.net, "arch": r.arch, "val_loss": losses[r.role],
                      "gain": reference - losses[r.role] if math.isfinite(losses[r.role]) else math.nan,
                      "diverged": bool(run.meta.get("diverged")), "flag": flags.get(r.role)}
             for r, run in pair}
    steps = int(pair[0][1].meta.get("steps", 0)) if pair else 0
    return {"reference": float(reference), "sides": sides, "steps": steps}
