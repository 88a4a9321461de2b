"""Every sentence of the Learning Rates page: a sweep's table -> what it shows, in words.

:func:`state_result` says, depth by depth, up to which learning rate each network trains, where
it diverged or ended at chance, and when the data show no difference; :func:`sweep_text` and
:func:`live_status` say how far a live sweep is; :func:`stored_caption` where the stored sweep
came from. The numbers: :mod:`resnet_explain.experiments.lr_sweep`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..experiments.lr_sweep import CHANCE, CHANCE_MARGIN, TRAINS_BELOW, summarise_variant, sweep_fraction
from ..numbers import number, percent
from .job_status import job_status
from .training import schedule_words

if TYPE_CHECKING:
    import pandas as pd

    from ..experiments.lr_sweep import StoredSweep

CHART_TITLE = "Final training error after training at each peak learning rate"
DIVERGED_NOTE = "✕ diverged (loss not finite) or ended at chance"  # the chart's subtitle, when one did


def _where(lrs: list[float], grid: list[float]) -> str:
    """"at every lr tried", "from lr X" (X and every larger lr of the grid) or "at lr a, b"."""
    if lrs == grid:
        return "at every lr tried"
    if len(lrs) > 1 and lrs == grid[len(grid) - len(lrs):]:
        return f"from lr {_lr(lrs[0])}"
    return f"at lr {', '.join(_lr(x) for x in lrs)}"


def _lr(v: float) -> str:
    return f"{v:g}"




def state_result(table: pd.DataFrame, threshold: float | None = None) -> str:
    """One paragraph on what a sweep table shows. ``trains`` is recomputed from ``threshold``
    (default :data:`~resnet_explain.experiments.lr_sweep.TRAINS_BELOW`: final training error
    below it and a finite loss); one depth after another."""
    threshold = TRAINS_BELOW if threshold is None else threshold
    if table is None or len(table) == 0:
        return "No runs finished, so there is nothing to compare."
    t = table.copy()
    finite = np.isfinite(t["train_loss"].to_numpy(dtype=float)) if "train_loss" in t else True
    t["trains"] = (t["train_error"].to_numpy(dtype=float) < threshold) & finite
    out = []
    depths = sorted({int(d) for d in t["depth"]}) if "depth" in t else [None]
    for depth in depths:
        d = t if depth is None else t[t["depth"] == depth]
        out.append(_state_depth(d, depth, threshold))
    seeds = sorted({int(s) for s in t["seed"]}) if "seed" in t else []
    if len(seeds) == 1:
        out.append(f"One seed ({seeds[0]}) per run: a difference of one grid step may be chance.")
    return " ".join(out)


def _state_depth(d: pd.DataFrame, depth, threshold: float) -> str:
    name = {v: f"{v}-{depth}" if depth is not None else v for v in ("plain", "residual")}
    grid = sorted({float(v) for v in d["lr"]})
    crit = f"(final training error below {percent(threshold)})"
    s = {v: summarise_variant(d[d["variant"] == v]) for v in ("plain", "residual")
         if (d["variant"] == v).any()}
    if len(s) < 2:
        (v, one), = s.items()
        if one["max_lr"] is None:
            return (f"Only {name[v]} ran; it does not train {crit} at any lr tried "
                    f"({_lr(grid[0])}–{_lr(grid[-1])}).")
        return f"Only {name[v]} ran; it trains {crit} up to lr {_lr(one['max_lr'])}: no twin to compare."
    p, r = s["plain"], s["residual"]
    parts = []
    if p["max_lr"] is None and r["max_lr"] is None:
        parts.append(f"Neither {name['plain']} nor {name['residual']} trains {crit} at any learning "
                     f"rate tried ({_lr(grid[0])}–{_lr(grid[-1])}): this sweep shows no difference.")
    elif p["max_lr"] is None:
        parts.append(f"{name['plain'].capitalize()} does not train {crit} at any learning rate tried "
                     f"({_lr(grid[0])}–{_lr(grid[-1])}), not even the smallest, so this depth cannot "
                     f"show how far its tolerance reaches; {name['residual']} trains up to lr "
                     f"{_lr(r['max_lr'])}.")
    elif r["max_lr"] is None:
        parts.append(f"{name['residual'].capitalize()} does not train {crit} at any learning rate "
                     f"tried ({_lr(grid[0])}–{_lr(grid[-1])}), not even the smallest; {name['plain']} "
                     f"trains up to lr {_lr(p['max_lr'])}.")
    else:
        head = (f"{name['plain'].capitalize()} trains {crit} up to lr {_lr(p['max_lr'])}, "
                f"{name['residual']} up to lr {_lr(r['max_lr'])}")
        if r["max_lr"] > p["max_lr"]:
            parts.append(f"{head}: the residual net tolerates a {r['max_lr'] / p['max_lr']:g}× "
                         "higher learning rate on this grid.")
        elif r["max_lr"] < p["max_lr"]:
            parts.append(f"{head}: here the plain net tolerates the higher learning rate, the "
                         "opposite of the claim.")
        elif p["max_lr"] == grid[-1]:
            parts.append(f"Both train {crit} at every learning rate up to the largest tried "
                         f"({_lr(grid[-1])}): the grid does not reach where either fails, so it "
                         "shows no difference in tolerance.")
        else:
            parts.append(f"Both train {crit} up to lr {_lr(p['max_lr'])} and not above: this "
                         "sweep shows no difference in tolerance.")
    for v, one in (("plain", p), ("residual", r)):
        if one["fails_below_max"]:
            parts.append(f"{name[v].capitalize()} does not train at lr "
                         f"{', '.join(_lr(x) for x in one['fails_below_max'])} although it does "
                         "at a higher one.")
    d = d.assign(finite=np.isfinite(d["train_loss"].to_numpy(dtype=float)) if "train_loss" in d else True)
    flagged = []
    at_chance = (f"Ended at chance (within {100 * CHANCE_MARGIN:.0f} points of {percent(CHANCE)}, "
                 "learned nothing)")
    for what, sel in (("Loss not finite", ~d["finite"]),
                      (at_chance, d["diverged"].astype(bool) & d["finite"])):
        where = [f"{name[v]} {_where(sorted(float(x) for x in d.loc[sel & (d['variant'] == v), 'lr']), grid)}"
                 for v in ("plain", "residual") if (sel & (d["variant"] == v)).any()]
        if where:
            flagged.append(f"{what}: {'; '.join(where)}.")
    parts += flagged or ["No run diverged or ended at chance."]
    if p["best_error"] is not None and r["best_error"] is not None:
        parts.append(f"Lowest final training error: {name['plain']} {percent(p['best_error'])} at lr "
                     f"{_lr(p['best_lr'])}, {name['residual']} {percent(r['best_error'])} at lr "
                     f"{_lr(r['best_lr'])}.")
    return " ".join(parts)


def stored_statement(stored: StoredSweep) -> str:
    """:func:`state_result` of the stored sweep, at the threshold it was stored with."""
    return state_result(stored.table, stored.meta.get("trains_below"))


def _pct2(v: float) -> str:  # two significant digits: 0.39 %, 12 %, 100 %
    return f"{number(100 * v, 2)} %"


def warmup_counterexample(stored: StoredSweep) -> str:
    """He et al. 2015's ResNet-110 warm-up (the claim's strongest counterexample) beside the deepest
    residual net of the stored sweep: its final training error at its best lr, at the largest lr
    where it trains (below the sweep's threshold) and at the next lr of the grid — each read from
    the sweep's table."""
    from .papers import HE15_WARMUP_110 as w  # papers imports pandas: on demand, like the sweep

    said = (f"The strongest counterexample to the claim is in {w.paper} itself (arXiv {w.arxiv}, {w.where}): for "
            f"{w.label} they write {w.shown}; their footnote 5 adds that at 0.1 it "
            "\"starts converging (<90% error) after several epochs, but still reaches similar accuracy\".")
    table, threshold = stored.table, stored.meta["trains_below"]
    schedule = next(iter(stored.meta.get("recipe", {}).values()), {}).get("config", {}).get("schedule")
    r = table[table["variant"] == "residual"]
    if not len(r):
        return said
    depth = int(r["depth"].max())
    r = r[r["depth"] == depth].sort_values("lr")
    lr, err = r["lr"].to_numpy(dtype=float), r["train_error"].to_numpy(dtype=float)
    best = int(err.argmin())
    ok = [i for i in range(best, len(lr)) if err[i] < threshold]
    last = max(ok) if ok else best
    if last + 1 >= len(lr) or last == best:
        return said + f" Our residual-{depth} has no larger learning rate on this grid to show it."
    pts = (best, last, last + 1)
    rises = err[best] < err[last] < err[last + 1]
    return said + (f" Our stored sweep has a limit too: residual-{depth}'s final training error "
                   f"{'rises' if rises else 'goes'} " + " → ".join(_pct2(err[i]) for i in pts)
                   + " over lr " + " → ".join(_lr(lr[i]) for i in pts) + " (its best lr, the largest "
                   "where it trains, the next one)" + (", although its schedule already starts at a tenth of the "
                   "peak (one-cycle warm-up)" if schedule == "onecycle" else "")
                   + ". Residual nets tolerate larger steps here, not any step.")


def sweep_text(records: Sequence[dict], runs: int) -> str:
    """How far a live sweep is, from :func:`~resnet_explain.experiments.lr_sweep.lr_sweep`'s
    progress records: runs done, and the running (or last finished) run's numbers."""
    runs = max(1, int(runs))
    done = sum(1 for r in records if r.get("done"))
    last = records[-1] if records else None
    text = f"{done} of {runs} runs"
    if last is not None and not last.get("done"):
        text += (f" · {last['variant']} at lr {last['lr']:g}: epoch {last['epoch']} of "
                 f"{last['epochs']}, running training error {100 * last['train_error']:.1f} %")
    elif last is not None:
        how = "loaded" if last.get("loaded") else "trained"
        text += (f" · {last['variant']} at lr {last['lr']:g} {how}: final training error "
                 f"{100 * last['train_error']:.1f} %")
    return text


def live_status(records: list[dict], runs: int, elapsed: float, *, state: str,
                error: str | None = None, stopping: bool = False, finished: int | None = None,
                abandoned: bool = False) -> tuple[str, str, float, str]:
    """(label, status state, fraction, text) of a live sweep for ``ui.show_job``; ``finished``:
    the runs in the result once the job is done (None while it runs)."""
    n = finished or 0
    label, st = job_status(state=state, elapsed=elapsed, error=error, stopping=stopping,
                           abandoned=abandoned, finished=state == "done" and n >= runs,
                           running="Sweeping", done=f"Finished: {runs} runs", got=f"{n} of {runs} runs, ",
                           stopping_text="Stopping at the next training step…")
    return label, st, sweep_fraction(records, runs), sweep_text(records, runs)


def stored_caption(meta: dict) -> str:
    """Where the stored sweep came from: recipe, machine, wall time, the command."""
    rec = next(iter(meta["recipe"].values()))
    d, c = rec["data"], rec["config"]
    depths = "/".join(str(x) for x in meta["depths"])
    return (f"{meta['label']} — the `{meta['experiment']}` recipe of the degradation experiment: "
            f"ResNet-{depths} (width 8) and its plain twin, {d['n_train']:,} training images "
            f"{d['size']}×{d['size']}, {c['epochs']} epochs, batch {c['batch_size']}, "
            f"{schedule_words(c['schedule'])}, seed {meta['seed']}; only the peak learning rate varies. "
            f"Measured on {meta.get('detail', meta.get('device'))} (torch {meta['torch']}) on "
            f"{meta['created']}: {len(meta.get('lrs', []))} learning rates × 2 networks × "
            f"{len(meta['depths'])} depth{'s' if len(meta['depths']) > 1 else ''}, "
            f"{meta.get('train_seconds', meta['wall_seconds']) / 60:.0f} min of training, by "
            f"`{meta['command']}` (assets/lr_sweep/README.md).")
