"""Train the visitor's network and its twin (every skip toggled) with one budget, side by side.

The page "Train your network" is widgets -> :func:`plan` -> a background job running
:func:`train_pair` -> the table, curves and sentences made here. A plan knows, before anything
starts, which of the two runs are already stored (they load at once, 0 s), the rough time of the
others (:func:`~resnet_explain.train.estimate.estimate_run_seconds`) and whether the host's cap
refuses them. Gradient snapshots are on (``SNAPSHOT_EVERY``), so the stored runs carry the block ×
step record of gradient flow during training.

Settings (environment): ``RESNET_EXPLAIN_MAX_TRAIN_SECONDS`` caps the estimate on a CPU host
(default 120 s; ``off`` for none; no cap when CUDA trains), and ``RESNET_EXPLAIN_TRAIN_BUDGET``
adds a budget of the host's own (JSON, inline or a file: ``{"name": ..., "data": {DataRecipe
fields}, "config": {TrainConfig fields}}``), chosen by default: a small host or a test can train a
tiny recipe through the same page.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..spec import NetSpec
from ..train.config import SNAPSHOT_EVERY, TrainConfig
from ..train.runs import BUDGETS, Budget, DataRecipe, Run, RunRequest, RunStore, train_run

BUDGET_ENV = "RESNET_EXPLAIN_TRAIN_BUDGET"
CAP_ENV = "RESNET_EXPLAIN_MAX_TRAIN_SECONDS"
CPU_CAP_SECONDS = 120.0
DATA_CHANNELS, DATA_CLASSES = 3, 10  # the generated shapes (data/shapes.py): RGB, 10 classes
ROLES = ("your network", "its twin")


class BudgetError(UserError):
    """A host setting for this page that cannot be read."""


# ---------------------------------------------------------------------------------------------
# Settings: the budgets, the host's cap
# ---------------------------------------------------------------------------------------------
def budgets(env: Mapping[str, str] | None = None) -> dict[str, Budget]:
    """quick and full (:data:`~resnet_explain.train.runs.BUDGETS`), plus the host's own budget
    from ``RESNET_EXPLAIN_TRAIN_BUDGET`` when it is set (listed first)."""
    raw = (os.environ if env is None else env).get(BUDGET_ENV, "").strip()
    if not raw:
        return dict(BUDGETS)
    try:
        d = json.loads(raw if raw.startswith("{") else Path(raw).read_text())
        name = str(d.get("name", "host"))
        data, cfg = DataRecipe(**d.get("data", {})), TrainConfig(**d.get("config", {})).validate()
    except (OSError, ValueError, TypeError, AttributeError, UserError) as exc:
        raise BudgetError(f"{BUDGET_ENV} cannot be read ({exc}); expected JSON like "
                          '{"name": "tiny", "data": {"n_train": 64}, "config": {"epochs": 2}}') from None
    label = d.get("label") or (f"{name} (set by this host): {data.size}×{data.size} images, "
                               f"{data.n_train:,} training images, {cfg.epochs} epochs")
    return {name: Budget(name, str(label), data, cfg), **BUDGETS}


def default_budget(names, device_type: str) -> str:
    """The host's own budget when there is one, else full on CUDA and quick elsewhere."""
    names = list(names)
    extra = [n for n in names if n not in BUDGETS]
    return extra[0] if extra else ("full" if device_type == "cuda" else "quick")


def cap_seconds(device_type: str, env: Mapping[str, str] | None = None) -> float | None:
    """The most estimated seconds this host trains for one Start: none when CUDA trains; on a
    CPU ``RESNET_EXPLAIN_MAX_TRAIN_SECONDS`` (``off`` = none), default 120 s."""
    if device_type == "cuda":
        return None
    raw = (os.environ if env is None else env).get(CAP_ENV, "").strip().lower()
    if raw in ("off", "none"):
        return None
    try:
        cap = float(raw) if raw else CPU_CAP_SECONDS
    except ValueError:
        raise BudgetError(f"{CAP_ENV} must be a number of seconds or 'off', got {raw[:20]!r}") from None
    if not (math.isfinite(cap) and cap > 0):
        raise BudgetError(f"{CAP_ENV} must be positive, got {raw[:20]!r}")
    return cap


def why_untrainable(spec: NetSpec) -> str | None:
    """Why this network cannot be trained here, or None. The runs train image networks on the
    generated shapes: 3-channel images of 10 classes."""
    if spec.family != "cnn":
        return (f"This network is of the **{spec.family}** family (fully connected layers on a flat "
                "vector). The runs here train image networks (**cnn**) on the generated shapes, "
                "so switch its family to cnn in the Network Builder to train it.")
    if spec.in_channels != DATA_CHANNELS:
        return (f"This network expects {spec.in_channels}-channel images; the generated shapes "
                f"have {DATA_CHANNELS} (RGB). Set its input channels to {DATA_CHANNELS} in the "
                "Network Builder to train it.")
    if spec.classes < DATA_CLASSES:
        return (f"This network has {spec.classes} outputs; the generated shapes have "
                f"{DATA_CLASSES} classes. Give it {DATA_CLASSES} classes in the Network Builder.")
    return None


# ---------------------------------------------------------------------------------------------
# The plan: two runs, what is stored, how long the rest takes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedRun:
    role: str  # "your network" or "its twin"
    arch: str  # "plain" (no skip) or "residual" (any skip)
    request: RunRequest
    stored: bool  # loads at once
    estimate: float  # seconds; 0 for a stored run

    @property
    def depth(self) -> int:
        return self.request.netspec.depth

    @property
    def net(self) -> str:
        return f"{self.arch}-{self.depth}"


@dataclass(frozen=True)
class Plan:
    budget: Budget
    runs: tuple[PlannedRun, ...]
    cap: float | None  # seconds; None = no cap

    @property
    def estimate(self) -> float:
        return sum(r.estimate for r in self.runs)

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.request.run_id for r in self.runs)

    @property
    def to_train(self) -> list[PlannedRun]:
        return [r for r in self.runs if not r.stored]

    @property
    def planned_epochs(self) -> int:
        return sum(r.request.config.epochs for r in self.to_train)

    @property
    def refused(self) -> bool:
        return self.cap is not None and self.estimate > self.cap

    def caption(self) -> str:
        """What Start will do, per run: load (stored) or train, with the rough time."""
        parts = [f"{r.role} ({r.net}): " + ("stored, loads at once (0 s)" if r.stored else
                                            f"train, roughly {_secs(r.estimate)}") for r in self.runs]
        said = "; ".join(parts)
        size = self.budget.data.size
        s = (f"Budget **{self.budget.label}** (the network takes its {size}×{size} images: the only "
             f"change made to it). {said[:1].upper()}{said[1:]}.")
        if not self.to_train:
            s += " Nothing to train: both are shown below."
        else:
            s += (f" Together roughly {_secs(self.estimate)}, at the speed a few training steps of "
                  "this network took on this server just now (it changes with the server's load).")
        return s

    def refusal(self) -> str | None:
        if not self.refused:
            return None
        cap = _secs(self.cap) if self.cap >= 1 else f"{self.cap:g} s"
        return (f"This budget would take roughly {_secs(self.estimate)} here, over this host's "
                f"limit of {cap} ({CAP_ENV}): choose the quick budget or a smaller network.")


def plan(spec: NetSpec, budget: Budget, seed: int, device: str, store: RunStore,
         cap: float | None, estimate: Callable[[RunRequest], float] | None = None) -> Plan:
    """Your network and its twin under ``budget`` with snapshots on; which are stored; the time
    of the others (``estimate``, default :func:`~resnet_explain.train.estimate.estimate_run_seconds`).
    Raises SpecError/RunError when the network cannot take the budget's images."""
    if estimate is None:
        from ..train.estimate import estimate_run_seconds as estimate
    base = budget.request(spec, seed, device)
    mine = replace(base, config=replace(base.config, snapshot_every=SNAPSHOT_EVERY))
    runs = []
    for role, req in zip(ROLES, (mine, mine.twin())):
        stored = store.has(req.run_id)
        arch = req.netspec.arch
        runs.append(PlannedRun(role, arch, req, stored, 0.0 if stored else float(estimate(req))))
    return Plan(budget, tuple(runs), cap)


# ---------------------------------------------------------------------------------------------
# Training the pair (in a background job)
# ---------------------------------------------------------------------------------------------
@dataclass
class PairResult:
    runs: list[tuple[PlannedRun, Run, bool]] = field(default_factory=list)  # (planned, run, loaded)
    stopped: PlannedRun | None = None  # the run that was stopped (not stored)


def train_pair(p: Plan, store: RunStore, progress: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> PairResult:
    """Train (or load) your network, then its twin, with :func:`train_run`. Each finished epoch
    reaches ``progress`` tagged with its run (``run``, ``role``, ``arch``, ``depth``). A stop
    ends the pair: the stopped run is not stored, the twin after it not started."""
    out = PairResult()
    for i, r in enumerate(p.runs, 1):
        tag = {"run": i, "runs": len(p.runs), "role": r.role, "arch": r.arch, "depth": r.depth,
               "net": r.net}
        report = (lambda rec, tag=tag: progress({**rec, **tag})) if progress else None
        run, loaded = train_run(r.request, store, progress=report, should_stop=should_stop,
                                name=r.net, label=r.role)
        if run is None:
            out.stopped = r
            break
        out.runs.append((r, run, loaded))
    return out


def stored_pair(p: Plan, store: RunStore) -> list[tuple[PlannedRun, Run]] | None:
    """Both runs from the store when both are there (else None)."""
    if not all(store.has(r.request.run_id) for r in p.runs):
        return None
    return [(r, store.get(r.request.run_id)) for r in p.runs]


def remaining_seconds(p: Plan, records: list[dict], elapsed: float = 0.0) -> float:
    """Time left for the runs still to train: the estimate of the epochs not yet done, scaled by
    how the measured epochs so far compare with their estimate; before the first epoch is
    measured, the estimate less the ``elapsed`` seconds (never below 0)."""
    per_epoch = {i: r.estimate / r.request.config.epochs for i, r in enumerate(p.runs, 1)}
    done_est = sum(per_epoch[rec["run"]] for rec in records)
    measured = sum(float(rec["seconds"]) for rec in records)
    left = max(0.0, sum(r.estimate for r in p.to_train) - done_est)
    if records and done_est > 0:
        return left * measured / done_est
    return max(0.0, left - float(elapsed))


def progress_line(p: Plan, records: list[dict], elapsed: float, *, state: str,
                  error: str | None = None, stopping: bool = False,
                  result: PairResult | None = None, abandoned: bool = False) -> tuple[str, str, float, str]:
    """(label, st.status state, fraction done, text) of the pair's job from its epoch records."""
    done, total = len(records), max(1, p.planned_epochs)
    frac, text = min(1.0, done / total), f"{done} / {p.planned_epochs} epochs"
    if error:
        return f"Failed: {error}", "error", frac, text
    if state == "done" and (result is None or result.stopped is not None):  # None: never began
        who = result.stopped if result is not None else (p.to_train or list(p.runs))[0]
        why = " (nobody was watching)" if abandoned else ""
        return (f"Stopped{why} after {done} of {p.planned_epochs} epochs, {elapsed:.0f} s: "
                f"{who.net} ({who.role}) was not stored"), "complete", frac, text
    if state == "done":
        n = sum(1 for _, _, loaded in result.runs if not loaded)
        return (f"Finished: {n} trained, {len(result.runs) - n} loaded, in {elapsed:.0f} s",
                "complete", 1.0, text)
    if stopping:
        return "Stopping at the next training step…", "running", frac, text
    if state == "queued":
        return "Queued: waiting for the server…", "running", frac, text
    left_s = remaining_seconds(p, records, elapsed)
    left = (f"about {_secs(left_s)} left" if records or left_s > 0 else
            f"past the rough estimate of {_secs(p.estimate)}: the first epoch will tell")
    if records:
        r = records[-1]
        epochs = p.runs[r["run"] - 1].request.config.epochs
        return (f"Training {r['net']} ({r['role']}): epoch {r['epoch']} of {epochs} done · "
                f"{elapsed:.0f} s · {left}"), "running", frac, text
    first = p.to_train[0] if p.to_train else p.runs[0]
    return f"Training {first.net} ({first.role})… {elapsed:.0f} s · {left}", "running", frac, text


def epoch_line(r: dict) -> str:
    return (f"{r['net']} ({r['role']}) epoch {r['epoch']}: training error {r['train_error']:.1%}, "
            f"test error {r['test_error']:.1%}, {r['seconds']:.1f} s")


# ---------------------------------------------------------------------------------------------
# Results: table, curves, gradient flow
# ---------------------------------------------------------------------------------------------
TABLE_COLUMNS = ["network", "architecture", "depth", "training error (%)", "test error (%)",
                 "seconds", "run id", "source"]


def pair_table(pair: list[tuple[PlannedRun, Run]], trained_here=()) -> pd.DataFrame:
    """One row per run from its stored meta: errors in %, its training seconds, its id, and
    whether it was trained in this session (``trained_here``: run ids) or loaded from the store."""
    rows = [{"network": r.role, "architecture": r.arch, "depth": r.depth,
             "training error (%)": round(100 * float(run.meta["train_error"]), 2),
             "test error (%)": round(100 * float(run.meta["test_error"]), 2),
             "seconds": round(float(run.meta["seconds"]), 1), "run id": run.run_id,
             "source": "trained now" if run.run_id in set(trained_here) else "loaded (stored)"}
            for r, run in pair]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


TABLE_CAPTION = ("Training error: eval mode on the whole training set after the last epoch; test "
                 "error: the run's test split after the last epoch; seconds: the run's training "
                 "time where it was trained (from its stored meta). The curves' training error is "
                 "the running error of each epoch's mini-batches in train mode.")


def curves_frame(pair: list[tuple[PlannedRun, Run]]) -> pd.DataFrame:
    """The runs' per-epoch history with ``arch`` and ``depth``: the input of
    :func:`resnet_explain.charts.training.curves_long`."""
    parts = [run.history.assign(arch=r.arch, depth=r.depth) for r, run in pair]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def grad_frames(pair: list[tuple[PlannedRun, Run]]) -> dict[str, pd.DataFrame]:
    """{arch: the run's gradient snapshots} for :mod:`resnet_explain.charts.grad_history`."""
    return {r.arch: run.grads for r, run in pair}


def pace_sentences(pair: list[tuple[PlannedRun, Run]]) -> list[str]:
    """Per run (plain first), :func:`~resnet_explain.train.snapshots.learning_pace`: does its
    first block learn, next to its last? Then the two first blocks side by side, measured."""
    from ..magnitude import fmt_ratio
    from ..train.snapshots import _times as times  # the factor format of learning_pace's sentences
    from ..train.snapshots import learning_pace

    out, first = [], {}
    for r, run in sorted(pair, key=lambda t: t[0].arch != "plain"):
        pace = learning_pace(run.grads, r.arch)
        if pace is None:
            out.append(f"The {r.arch} net ({r.role}) has no gradient snapshots stored, so its "
                       "pace cannot be read.")
            continue
        out.append(pace.text)
        first[r.arch] = pace.first
    p, q = first.get("plain"), first.get("residual")
    if p is not None and q is not None:
        s = (f"First blocks side by side (median ‖ΔW‖/‖W‖ per step): plain {fmt_ratio(p, 2)}, "
             f"residual {fmt_ratio(q, 2)}")
        if p > 0 and q > 0 and math.isfinite(p) and math.isfinite(q):
            more, less, x = ("plain", "residual", p / q) if p >= q else ("residual", "plain", q / p)
            s += f": the {more} net's first block moves {times(x)}× as much as the {less} net's"
        out.append(s + ".")
    return out


def _secs(s: float) -> str:
    return "under 1 s" if s < 1 else (f"{s:.0f} s" if s < 180 else f"{s / 60:.1f} min")
