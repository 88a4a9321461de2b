"""How fast a network trains, in numbers: steps (and epochs) to reach a training-error threshold
and the area under its training-error curve, per network with the spread over seeds.

He et al. 2015 (arXiv 1512.03385, sec. 4.1 and fig. 4/6) also say the ResNet "converges faster"
at the start than its plain twin; their evidence is the curves. Here the same curves become
numbers, read off each run's per-epoch history (the degradation experiment's ``curves``):

* **steps to reach** a threshold: the first epoch whose running training error (the mean over
  that epoch's own mini-batches, train mode) is at or below the threshold, times the steps per
  epoch — the step at which the epoch that got there ended, so an upper bound resolved to one
  epoch; "never" (NaN, and 0 of the seeds) when no epoch got there.
* **area under the curve** (``auc``): the mean of the per-epoch running errors. Each epoch's
  running error is the mean of its steps' errors and every epoch has the same number of steps,
  so this is exactly the area under the per-step training-error curve divided by the steps: 0
  for a net that is right from its first step, the chance error for one that never learns.

The default thresholds, 50 % and 20 % training error, are the halfway mark on 10 classes (chance
90 %) and a net that clearly works; both are parameters (:data:`THRESHOLDS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

THRESHOLDS = (0.5, 0.2)  # training error (fractions): halfway from chance on 10 classes; working


def steps_per_epoch(meta: dict) -> int:
    """Optimizer steps per epoch of a degradation result (its ``meta``): recorded, or, for
    results stored before it was, the trainer's rule (the ragged last batch dropped)."""
    if meta.get("steps_per_epoch"):
        return int(meta["steps_per_epoch"])
    n = int(meta["n_train"])
    return max(1, n // min(int(meta["train_config"]["batch_size"]), n))


def first_epoch_at(errors: Sequence[float], threshold: float) -> int | None:
    """The first epoch (1-based) whose error is at or below ``threshold``; None when none is."""
    for i, e in enumerate(errors):
        if np.isfinite(e) and e <= threshold:
            return i + 1
    return None


def curve_area(errors: Sequence[float]) -> float:
    """Mean of the per-epoch running errors: the area under the per-step curve / the steps."""
    v = np.asarray(errors, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")


def key(threshold: float) -> str:
    """The column prefix of a threshold: 0.2 -> "to20"."""
    return f"to{round(threshold * 100):g}"


def per_run(curves: pd.DataFrame, spe: int, thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """One row per (arch, depth, seed): ``auc`` and, per threshold, ``{key}_epochs`` and
    ``{key}_steps`` (NaN: never reached)."""
    rows = []
    if curves is None or not len(curves):
        return pd.DataFrame(columns=["arch", "depth", "seed", "epochs", "auc"])
    for (arch, depth, seed), g in curves.groupby(["arch", "depth", "seed"], sort=True):
        errs = g.sort_values("epoch")["train_error"].to_numpy(dtype=float)
        r = {"arch": arch, "depth": int(depth), "seed": int(seed), "epochs": len(errs),
             "auc": curve_area(errs)}
        for t in thresholds:
            e = first_epoch_at(errs, t)
            r[f"{key(t)}_epochs"] = float("nan") if e is None else float(e)
            r[f"{key(t)}_steps"] = float("nan") if e is None else float(e * spe)
        rows.append(r)
    return pd.DataFrame(rows)


def _spread(v: np.ndarray) -> dict:
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}


def convergence_table(curves: pd.DataFrame, spe: int,
                      thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """Per (arch, depth): ``seeds``, ``auc_mean/min/max`` and per threshold ``{key}_reached``
    (seeds that got there) and ``{key}_steps_mean/min/max``, ``{key}_epochs_mean/min/max`` over
    the seeds that got there (NaN where none did: "never"). ``attrs`` hold the thresholds and
    the steps per epoch."""
    runs = per_run(curves, spe, thresholds)
    out = []
    for (arch, depth), g in runs.groupby(["arch", "depth"], sort=True):
        r = {"arch": arch, "depth": int(depth), "seeds": len(g)}
        r.update({f"auc_{k}": v for k, v in _spread(g["auc"].to_numpy(dtype=float)).items()})
        for t in thresholds:
            steps = g[f"{key(t)}_steps"].to_numpy(dtype=float)
            r[f"{key(t)}_reached"] = int(np.isfinite(steps).sum())
            for what in ("steps", "epochs"):
                s = _spread(g[f"{key(t)}_{what}"].to_numpy(dtype=float))
                r.update({f"{key(t)}_{what}_{k}": v for k, v in s.items()})
        out.append(r)
    df = pd.DataFrame(out)
    df.attrs.update({"thresholds": [float(t) for t in thresholds], "steps_per_epoch": int(spe)})
    return df


def pairs(table: pd.DataFrame) -> list[tuple[dict, dict]]:
    """(residual row, plain row) of each depth that has both twins, shallowest first."""
    out = []
    rows = table.to_dict("records") if len(table) else []
    for depth in sorted({int(r["depth"]) for r in rows}):
        by = {r["arch"]: r for r in rows if int(r["depth"]) == depth}
        if "residual" in by and "plain" in by:
            out.append((by["residual"], by["plain"]))
    return out
