"""Learning-rate sensitivity: a network and its twin trained at each learning rate of a grid.

The claim tested: residual networks tolerate higher learning rates than their plain twins (the
skip path keeps the signal and its gradient well scaled, so a large step is less likely to throw
the weights where the loss blows up; see e.g. Balduzzi et al. 2017, arXiv 1702.08591, and the
"shattered gradients" page). Everything but the peak learning rate is fixed: the data recipe,
the schedule, the seed, the epochs. Each (network, lr) is one run (:mod:`.runs`), so a repeated
sweep loads instead of training.

A run **trains** when its final training error (eval mode, whole training set, after the last
epoch) is below a threshold (:data:`TRAINS_BELOW`, said beside every result); it **diverged**
when its loss became NaN/Inf or its final training error is at chance (within
:data:`CHANCE_MARGIN` of guessing). :func:`summarise_variant` says, per network, where it trains;
:func:`resnet_explain.content.training_lr.state_result` turns a sweep table into one honest
paragraph, including when the data show no difference.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..chance import chance_error
from ..content.your_network import why_untrainable
from ..errors import Stopped
from ..spec import NetSpec, check_budget
from ..stored_assets import assets_dir
from ..train.budgets import BUDGETS, EXPERIMENTS, Budget, named
from ..train.concurrent import Job, on_cuda, train_runs
from ..train.config import TrainError
from ..train.runs import RunRequest, RunStore, train_run
from .degradation import network

DEFAULT_LRS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # factor 2
TRAINS_BELOW = 0.10  # "trains": final training error below 10 %
CHANCE = chance_error()  # guessing on the balanced shapes (10 classes): 90 % error
CHANCE_MARGIN = 0.02  # final error within 2 points of chance counts as "learned nothing"
MAX_LRS = 16


class SweepError(TrainError):
    """A sweep that cannot be run or read (bad learning rates, no stored sweep)."""
COLUMNS = ["variant", "depth", "lr", "run_id", "train_error", "test_error", "best_epoch",
           "best_epoch_train_error", "train_loss", "diverged", "trains", "seconds", "loaded",
           "seed"]


def log_grid(lo: float, hi: float, factor: float = 2.0) -> tuple[float, ...]:
    """``lo, lo*factor, ...`` up to ``hi`` (inclusive within rounding)."""
    if not (lo > 0 and hi >= lo and factor > 1):
        raise SweepError(f"a learning-rate grid needs 0 < lo <= hi and factor > 1, got {lo}, {hi}, {factor}")
    n = math.floor(math.log(hi / lo) / math.log(factor) + 1e-9) + 1
    return tuple(float(f"{lo * factor ** k:.6g}") for k in range(n))


def check_lrs(lrs: Sequence[float]) -> tuple[float, ...]:
    """Sorted, distinct learning rates in (0, 10]; raises SweepError otherwise."""
    try:
        vals = sorted({float(v) for v in lrs})
    except (TypeError, ValueError):
        raise SweepError(f"learning rates must be numbers, got {list(lrs)[:5]!r}") from None
    if not vals:
        raise SweepError("give at least one learning rate")
    if len(vals) > MAX_LRS:
        raise SweepError(f"at most {MAX_LRS} learning rates, got {len(vals)}")
    bad = [v for v in vals if not (math.isfinite(v) and 0 < v <= 10)]
    if bad:
        raise SweepError(f"learning rates must be in (0, 10], got {bad[0]!r}")
    return tuple(vals)


def variant_of(spec: NetSpec) -> str:
    return spec.arch


def experiment_request(exp: Budget | str, depth: int, arch: str = "residual", seed: int = 0,
                       device: str = "cpu") -> RunRequest:
    """The run of a degradation budget's network at ``depth``: the exact data recipe and training
    config of that budget (``exp`` may be its name, one of :data:`~..train.budgets.EXPERIMENTS`)."""
    exp = named(exp, EXPERIMENTS, SweepError) if isinstance(exp, str) else exp
    return exp.request(network(exp, arch, depth), seed=seed, device=device)


def base_request(spec: NetSpec | None, base: Budget | RunRequest | str, seed: int | None = None,
                 device: str = "auto", epochs: int | None = None,
                 n_train: int | None = None) -> RunRequest:
    """The request every lr of the sweep varies: a budget's run of ``spec``, or ``base`` itself
    (with ``spec``, ``seed``, ``epochs`` and the number of training images put in when given)."""
    if isinstance(base, str):
        base = named(base, BUDGETS, SweepError)
    if spec is not None and (why := why_untrainable(spec)):
        raise SweepError(why.replace("**", ""))
    if isinstance(base, Budget):
        if spec is None:
            raise SweepError("a budget needs a network spec")
        return _resized(base.request(spec, seed=0 if seed is None else seed, device=device), epochs,
                        n_train)
    req = base if spec is None else replace(base, spec=spec.to_query())
    if seed is not None:
        req = replace(req, config=replace(req.config, seed=int(seed)))
    return _resized(req, epochs, n_train)


def _resized(req: RunRequest, epochs: int | None, n_train: int | None) -> RunRequest:
    if epochs is not None:
        req = replace(req, config=replace(req.config, epochs=int(epochs)))
    if n_train is not None:
        req = replace(req, data=replace(req.data, n_train=int(n_train)))
    req.config.validate()
    return req


def sweep_requests(base: RunRequest, lrs: Sequence[float]) -> list[RunRequest]:
    """The runs of a sweep, in order: at each lr (ascending) the network, then its twin."""
    out = []
    for lr in check_lrs(lrs):
        r = replace(base, config=replace(base.config, lr=lr))
        out.extend([r, r.twin()])
    return out


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def _row(run, req: RunRequest, loaded: bool) -> dict:
    h = run.history
    losses = pd.to_numeric(h["train_loss"], errors="coerce").to_numpy(dtype=float)
    final_loss = _num(run.meta.get("train_loss"))  # None in meta.json when it was not finite
    train_err = float(run.meta["train_error"])
    nonfinite = (not np.isfinite(losses).all()) or not math.isfinite(final_loss)
    at_chance = train_err >= CHANCE - CHANCE_MARGIN
    errs = pd.to_numeric(h["train_error"], errors="coerce")
    best = int(h["epoch"].iloc[int(np.nanargmin(errs.to_numpy(dtype=float)))]) if errs.notna().any() else 0
    return {"variant": variant_of(req.netspec), "depth": req.netspec.depth, "lr": req.config.lr,
            "run_id": run.run_id, "train_error": train_err,
            "test_error": _num(run.meta.get("test_error")),
            "best_epoch": best,
            "best_epoch_train_error": float(errs.min()) if errs.notna().any() else float("nan"),
            "train_loss": final_loss, "diverged": bool(nonfinite or at_chance),
            "trains": bool(train_err < TRAINS_BELOW and not nonfinite),
            "seconds": _num(run.meta.get("seconds")), "loaded": bool(loaded),
            "seed": int(req.config.seed)}


def lr_sweep(spec: NetSpec | None, base: Budget | RunRequest | str, lrs: Sequence[float] = DEFAULT_LRS,
             seed: int | None = None, store: RunStore | None = None,
             progress: Callable[[dict], None] | None = None,
             should_stop: Callable[[], bool] | None = None, device: str = "auto",
             together: bool | None = None) -> pd.DataFrame:
    """Train ``spec`` and its twin at each learning rate in ``lrs``, everything else fixed.

    ``base`` is a budget (or its name: the budget's run of ``spec``) or a request (``spec`` None
    keeps its network; ``device`` applies to a budget's request). Each run goes through :func:`~.runs.train_run`: a run trained before is
    loaded. Returns one row per (variant, lr), :data:`COLUMNS`, sorted by variant then lr;
    ``attrs`` holds ``stopped``, ``runs`` (planned) and ``wall_seconds``.

    ``progress(record)`` gets each epoch's record (its schedule value as ``lr_now``; ``lr`` is the
    sweep's peak learning rate) plus ``variant``, ``run`` (1-based),
    ``runs`` and ``epochs``, and, when a run is done or loaded, ``{"done": True, ...}``.
    ``should_stop()`` ends the sweep: the runs finished so far are returned
    (``attrs["stopped"]``); the run that was stopped is not stored.

    ``together``: every run at once through :func:`~..train.concurrent.train_runs` (the network
    at its learning rates as one vmapped stack, its twin as another, on CUDA concurrently; the
    same runs up to float rounding; "done" records come when all have finished); None = on CUDA.
    False: one run after another, each exactly :func:`~..train.trainer.train`.
    """
    req0 = base_request(spec, base, seed=seed, device=device)
    reqs = sweep_requests(req0, lrs)
    store = store or RunStore()
    t0 = time.perf_counter()
    rows, data, stopped = [], None, False
    if together is None:
        together = on_cuda(Job(req.netspec, req.config, None) for req in reqs)
    try:
        if together:
            rows, stopped = _train_together(reqs, store, progress, should_stop)
        for k, req in enumerate([] if together else reqs):
            tag = _tag(k, req, len(reqs))
            if should_stop is not None and should_stop():
                raise Stopped
            if data is None and not store.has(req.run_id):
                data = req.data.load()  # made once, only when something must be trained
            cb = None if progress is None else (
                lambda rec, tag=tag: progress({**rec, "lr_now": rec.get("lr"), **tag}))
            run, loaded = train_run(req, store, progress=cb, should_stop=should_stop, data=data)
            rows.append(_row(run, req, loaded))
            if progress is not None:
                progress({**tag, "done": True, "loaded": loaded, "train_error": rows[-1]["train_error"]})
    except Stopped:
        stopped = True  # the one place a stop is decided: the runs finished so far are the result
    df = pd.DataFrame(rows, columns=COLUMNS)
    if len(df):
        df["variant"] = pd.Categorical(df["variant"], ["plain", "residual"])
        df = df.sort_values(["variant", "depth", "lr"]).reset_index(drop=True)
        df["variant"] = df["variant"].astype(str)
    df.attrs.update(stopped=stopped, runs=len(reqs), wall_seconds=time.perf_counter() - t0)
    return df


def _tag(k: int, req: RunRequest, runs: int) -> dict:
    return {"variant": variant_of(req.netspec), "lr": req.config.lr, "run": k + 1, "runs": runs,
            "epochs": req.config.epochs}


def _train_together(reqs: list[RunRequest], store: RunStore, progress,
                    should_stop) -> tuple[list[dict], bool]:
    """The sweep's runs at once (:func:`~..train.concurrent.train_runs`): (the rows of those that
    finished, in order; whether a stop came first)."""
    tags = [_tag(k, req, len(reqs)) for k, req in enumerate(reqs)]
    report = None if progress is None else (
        lambda k, rec: progress({**rec, "lr_now": rec.get("lr"), **tags[k]}))
    got = train_runs(reqs, store, together=True, progress=report, should_stop=should_stop)
    rows = []
    for tag, req, done in zip(tags, reqs, got):
        if done is not None:
            rows.append(_row(done[0], req, done[1]))
            if progress is not None:
                progress({**tag, "done": True, "loaded": done[1], "train_error": rows[-1]["train_error"]})
    return rows, len(rows) < len(reqs)


def sweep_curves(table: pd.DataFrame, store: RunStore) -> pd.DataFrame:
    """Per-epoch curves of a sweep's runs (read from ``store``): variant, depth, lr, run_id +
    the trainer's history columns."""
    parts = []
    for r in table.itertuples(index=False):
        h = store.get(r.run_id).history.copy()
        h.insert(0, "run_id", r.run_id)
        h.insert(0, "lr_peak", r.lr)
        h.insert(0, "depth", r.depth)
        h.insert(0, "variant", r.variant)
        parts.append(h)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ---------------------------------------------------------------------------------------------
# What the numbers say
# ---------------------------------------------------------------------------------------------
def summarise_variant(g: pd.DataFrame) -> dict:
    """For one variant's rows: the lrs where it trains, the largest, the first diverged lr, the
    lowest final training error and its lr, and whether training fails below an lr where it
    trains (not monotone)."""
    g = g.sort_values("lr")
    lrs = [float(v) for v in g["lr"]]
    ok = [float(v) for v in g.loc[g["trains"].astype(bool), "lr"]]
    div = [float(v) for v in g.loc[g["diverged"].astype(bool), "lr"]]
    errs = g["train_error"].to_numpy(dtype=float)
    i = int(np.nanargmin(errs)) if np.isfinite(errs).any() else None
    top = max(ok) if ok else None
    gaps = [v for v in lrs if top is not None and v < top and v not in ok]
    return {"lrs": lrs, "trains_at": ok, "max_lr": top, "diverged_at": div,
            "first_diverged": min(div) if div else None,
            "best_lr": lrs[i] if i is not None else None,
            "best_error": float(errs[i]) if i is not None else None, "fails_below_max": gaps}


def parse_lrs(text: str) -> tuple[float, ...]:
    """``"0.05,0.1 0.2"`` -> (0.05, 0.1, 0.2); a SweepError names the bad part."""
    out = []
    for part in str(text).replace(",", " ").split():
        try:
            out.append(float(part))
        except ValueError:
            raise SweepError("learning rates: expected numbers such as 0.05,0.1,0.2, got "
                             f"{part[:20]!r}") from None
    return check_lrs(out)


# ---------------------------------------------------------------------------------------------
# Before and during a live sweep: the time it will take, how far it is
# ---------------------------------------------------------------------------------------------
def sweep_fraction(records: Sequence[dict], runs: int) -> float:
    """The fraction done, from :func:`lr_sweep`'s progress records: finished runs plus each
    running one's share of its epochs (runs trained together advance together)."""
    runs = max(1, int(runs))
    done, share = set(), {}
    for r in records:
        if r.get("done"):
            done.add(r.get("run"))
        else:
            share[r.get("run")] = float(r["epoch"]) / max(1, int(r["epochs"]))
    frac = (len(done) + sum(v for k, v in share.items() if k not in done)) / runs
    return min(1.0, frac)


MAX_STEP_FLOPS = 3e10  # a training step (about 3x the forward FLOPs) over this: ~1 s on a CPU, refused live


def check_size(request: RunRequest, max_memory_bytes: int) -> None:
    """Refuse (SweepError, or SpecError "budget") a network too large to time or train live: its
    training-step memory over ``max_memory_bytes`` or its step over :data:`MAX_STEP_FLOPS`."""
    bs = min(request.config.batch_size, request.data.n_train)
    cost = check_budget(request.netspec, bs, max_memory_bytes)
    step = 3 * cost.flops * bs
    if step > MAX_STEP_FLOPS:
        raise SweepError(f"one training step needs about {step / 1e9:,.0f} GFLOP (limit "
                         f"{MAX_STEP_FLOPS / 1e9:,.0f}): too large for a live sweep here; use fewer "
                         "or narrower blocks")


def estimate_sweep_seconds(requests: Sequence[RunRequest], run_seconds: float,
                           store: RunStore | None = None) -> float:
    """Rough seconds to train the runs of ``requests`` that ``store`` does not hold yet, each taking
    ``run_seconds`` (one run's estimate, :func:`~.estimate.estimate_run_seconds` of the sweep's base
    request: the runs of a sweep differ only in the learning rate, which costs nothing, and in the
    skips, which are cheap next to the convolutions)."""
    todo = sum(1 for r in requests if store is None or not store.has(r.run_id))
    return todo * float(run_seconds)


# ---------------------------------------------------------------------------------------------
# The stored sweep (scripts/make_lr_sweep.py)
# ---------------------------------------------------------------------------------------------
STORED_DIR = assets_dir("lr_sweep")


@dataclass(frozen=True)
class StoredSweep:
    table: pd.DataFrame  # table.csv: one row per (variant, depth, lr)
    curves: pd.DataFrame  # curves.csv: one row per epoch per run
    meta: dict  # results.json's meta: recipe, machine, wall time, command


def load_stored(folder: str | Path = STORED_DIR) -> StoredSweep:
    """The stored sweep in ``folder``; a missing or unreadable one raises :class:`SweepError`."""
    folder = Path(folder)
    try:
        return StoredSweep(pd.read_csv(folder / "table.csv"), pd.read_csv(folder / "curves.csv"),
                           json.loads((folder / "results.json").read_text())["meta"])
    except (OSError, ValueError, KeyError) as exc:
        raise SweepError(f"no readable stored sweep in {folder}: {exc}; make it with "
                         "scripts/make_lr_sweep.py") from None
