"""How fast a network trains, in numbers: steps (and epochs) to reach a training-error threshold
and the area under its training-error curve, per network with the spread over seeds.

He et al. 2015 (arXiv 1512.03385, sec. 4.1 and fig. 4/6) also say the ResNet "converges faster"
at the start than its plain twin; their evidence is the curves. Here the same curves become
numbers, read off each run's history at the finest resolution it has:

* **step resolution** (a run with a per-step curve, :mod:`resnet_explain.train.step_history`: the
  running training error of the mini-batches per window of K steps): **steps to reach** a
  threshold is the end of the first window whose running error is at or below it (so resolved to
  K steps; a window of K batches is a noisy estimate, see ``STEP_EVERY``'s comment), and its
  epoch the epoch that window lies in;
* **epoch resolution** (a run stored with its per-epoch history only, as every result stored
  before the per-step curve existed): the first epoch whose running training error (the mean over
  that epoch's own mini-batches, train mode) is at or below the threshold, times the steps per
  epoch — the step at which the epoch that got there ended, an upper bound resolved to one epoch.

"Never" (NaN, and 0 of the seeds) when no window or epoch got there. An epoch's error is the
weighted mean of its windows', so a window at or below a threshold comes no later than the end of
the first epoch that is: step resolution only ever moves the number earlier (tested).

* **area under the curve** (``auc``): the mean running error over every step of the run, i.e. the
  area under the per-step training-error curve divided by the steps: 0 for a net that is right
  from its first step, the chance error for one that never learns. Both resolutions give the same
  number (the windows weighted by their steps; the epochs, which have equal steps, equally).

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


def _run_steps(steps: pd.DataFrame | None) -> dict:
    """(arch, depth, seed) -> that run's windows (sorted by step), from a steps table with those
    columns (empty: no run has a per-step curve)."""
    if steps is None or not len(steps):
        return {}
    return {(a, int(d), int(s)): g.sort_values("step")
            for (a, d, s), g in steps.groupby(["arch", "depth", "seed"], sort=False)}


def first_window_at(windows: pd.DataFrame, threshold: float) -> dict | None:
    """The first window (a row of a per-step curve) whose running error is at or below
    ``threshold``, as a dict; None when none is."""
    hit = windows[np.isfinite(windows["train_error"]) & (windows["train_error"] <= threshold)]
    return None if hit.empty else hit.iloc[0].to_dict()


def window_area(windows: pd.DataFrame) -> float:
    """Mean running error over every step the windows hold (each window weighted by its steps)."""
    ok = windows[np.isfinite(windows["train_error"])]
    n = ok["steps"].to_numpy(dtype=float)
    return float((ok["train_error"].to_numpy(dtype=float) * n).sum() / n.sum()) if n.sum() else float("nan")


def per_run(curves: pd.DataFrame, spe: int, thresholds: Sequence[float] = THRESHOLDS,
            steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (arch, depth, seed): ``resolution`` ("step" where ``steps`` holds the run's
    per-step curve, else "epoch"), ``auc`` and, per threshold, ``{key}_epochs`` and
    ``{key}_steps`` (NaN: never reached)."""
    rows = []
    if curves is None or not len(curves):
        return pd.DataFrame(columns=["arch", "depth", "seed", "epochs", "resolution", "auc"])
    windows = _run_steps(steps)
    for (arch, depth, seed), g in curves.groupby(["arch", "depth", "seed"], sort=True):
        errs = g.sort_values("epoch")["train_error"].to_numpy(dtype=float)
        w = windows.get((arch, int(depth), int(seed)))
        r = {"arch": arch, "depth": int(depth), "seed": int(seed), "epochs": len(errs),
             "resolution": "epoch" if w is None else "step",
             "auc": curve_area(errs) if w is None else window_area(w)}
        for t in thresholds:
            if w is None:
                e = first_epoch_at(errs, t)
                at = None if e is None else (float(e), float(e * spe))
            else:
                hit = first_window_at(w, t)
                at = None if hit is None else (float(hit["epoch"]), float(hit["step"]))
            r[f"{key(t)}_epochs"], r[f"{key(t)}_steps"] = at or (float("nan"), float("nan"))
        rows.append(r)
    return pd.DataFrame(rows)


def resolution(runs: pd.DataFrame) -> str:
    """"step" when every run was read at step resolution, "epoch" when none was, else "mixed"."""
    got = set(runs["resolution"]) if len(runs) else {"epoch"}
    return got.pop() if len(got) == 1 else "mixed"


def _spread(v: np.ndarray) -> dict:
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}


def convergence_table(curves: pd.DataFrame, spe: int,
                      thresholds: Sequence[float] = THRESHOLDS,
                      steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (arch, depth): ``seeds``, ``auc_mean/min/max`` and per threshold ``{key}_reached``
    (seeds that got there) and ``{key}_steps_mean/min/max``, ``{key}_epochs_mean/min/max`` over
    the seeds that got there (NaN where none did: "never"). ``steps``: the runs' per-step curves
    (arch, depth, seed + step_history.STEP_COLUMNS), where they have one. ``attrs`` hold the
    thresholds, the steps per epoch, the ``resolution`` ("step", "epoch" or "mixed") and
    ``window_steps`` (K of the per-step curve; None at epoch resolution)."""
    runs = per_run(curves, spe, thresholds, steps)
    out = []
    for (arch, depth), g in runs.groupby(["arch", "depth"], sort=True):
        r = {"arch": arch, "depth": int(depth), "seeds": len(g), "resolution": resolution(g)}
        r.update({f"auc_{k}": v for k, v in _spread(g["auc"].to_numpy(dtype=float)).items()})
        for t in thresholds:
            reached = g[f"{key(t)}_steps"].to_numpy(dtype=float)
            r[f"{key(t)}_reached"] = int(np.isfinite(reached).sum())
            for what in ("steps", "epochs"):
                s = _spread(g[f"{key(t)}_{what}"].to_numpy(dtype=float))
                r.update({f"{key(t)}_{what}_{k}": v for k, v in s.items()})
        out.append(r)
    df = pd.DataFrame(out)
    res = resolution(runs)
    window = int(steps["steps"].max()) if res != "epoch" else None
    df.attrs.update({"thresholds": [float(t) for t in thresholds], "steps_per_epoch": int(spe),
                     "resolution": res, "window_steps": window})
    return df


def steps_are(attrs: dict) -> str:
    """What a convergence table's step counts are, at its resolution (the CLI JSON says it)."""
    if attrs.get("resolution") == "step":
        when = (f"end of the first window of {attrs.get('window_steps')} steps whose running "
                "training error is at or below the threshold")
    elif attrs.get("resolution") == "mixed":
        when = ("step resolution where a run has its per-step curve (end of the first window at "
                "or below the threshold), else the end of the first epoch at or below it")
    else:
        when = ("end of the first epoch whose running training error is at or below the threshold "
                "(resolved to one epoch: the runs have no per-step curve)")
    return (f"{when} (null: never reached); auc: mean running training error over every step "
            "(= area under the per-step curve / steps)")


def pairs(table: pd.DataFrame) -> list[tuple[dict, dict]]:
    """(residual row, plain row) of each depth that has both twins, shallowest first."""
    out = []
    rows = table.to_dict("records") if len(table) else []
    for depth in sorted({int(r["depth"]) for r in rows}):
        by = {r["arch"]: r for r in rows if int(r["depth"]) == depth}
        if "residual" in by and "plain" in by:
            out.append((by["residual"], by["plain"]))
    return out
