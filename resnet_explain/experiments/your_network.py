"""Train the visitor's network and its twin (every skip toggled) with one budget, side by side.

The page "Train your network" is widgets -> :func:`plan` -> a background job running
:func:`train_pair` -> the table, curves and gradient records made here. A plan knows, before anything
starts, which of the two runs are already stored (they load at once, 0 s), the rough time of the
others (:func:`~resnet_explain.train.estimate.estimate_run_seconds`: this host's one measurement)
and whether the host's cap refuses them. Gradient snapshots are on (``SNAPSHOT_EVERY``), so the stored runs carry the block ×
step record of gradient flow during training.

The budgets offered and the host's cap: :mod:`resnet_explain.train.budgets`; every sentence the
page shows: :mod:`resnet_explain.content.your_network`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd

from ..data.text import VOCAB
from ..errors import Stopped, UserError
from ..spec import NetSpec, cifar_resnet
from ..train.budgets import HE2015_DEPTHS, Budget, over_cap
from ..train.config import SNAPSHOT_EVERY
from ..train.estimate import HostSpeed, estimate_run_seconds, lm_steps
from ..train.runs import Run, RunRequest, RunStore, train_run

DATA_CHANNELS, DATA_CLASSES = 3, 10  # the generated shapes (data/shapes.py): RGB, 10 classes
ROLES = ("your network", "its twin")


def untrainable(spec: NetSpec) -> str | None:
    """Which of the network's settings keeps it from training here ("family", "in_channels",
    "classes" or "vocab"), or None: the runs train image networks on the generated shapes,
    3-channel images of 10 classes, and Transformers on bytes (256 symbols, data/text.py) (the
    words: :func:`resnet_explain.content.your_network.why_untrainable`)."""
    if spec.family == "transformer":
        return "vocab" if spec.vocab < VOCAB else None
    if spec.family != "cnn":
        return "family"
    if spec.in_channels != DATA_CHANNELS:
        return "in_channels"
    if spec.classes < DATA_CLASSES:
        return "classes"
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
    def rows(self) -> int:
        """Progress records its training sends: one per epoch (an image network), one per
        ``eval_every`` steps (a language model, :mod:`~..train.lm_trainer`)."""
        cfg = self.request.config
        if self.request.netspec.family != "transformer":
            return int(cfg.epochs)
        steps = lm_steps(self.request)
        return math.ceil(steps / (cfg.eval_every or steps))

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
        """Progress records still to come (epochs; a language model's rows, :attr:`PlannedRun.rows`)."""
        return sum(r.rows for r in self.to_train)

    @property
    def language(self) -> bool:
        """A Transformer pair: trained on text, its numbers are losses in nats per byte."""
        return self.runs[0].request.netspec.family == "transformer"

    @property
    def refused(self) -> bool:
        return over_cap(self.estimate, self.cap)


def plan(spec: NetSpec, budget: Budget, seed: int, device: str, store: RunStore,
         cap: float | None, estimate: Callable[[RunRequest], float] | None = None) -> Plan:
    """Your network and its twin under ``budget`` with snapshots on; which are stored; the time
    of the others (``estimate``, default :func:`~resnet_explain.train.estimate.estimate_run_seconds`).
    Raises SpecError/RunError when the network cannot take the budget's images."""
    estimate = estimate or estimate_run_seconds
    base = budget.request(spec, seed, device)
    # gradient snapshots: image networks only (the language-model trainer records none)
    snap = SNAPSHOT_EVERY if spec.family == "cnn" else 0
    mine = replace(base, config=replace(base.config, snapshot_every=snap))
    runs = []
    for role, req in zip(ROLES, (mine, mine.twin())):
        stored = store.has(req.run_id)
        arch = req.netspec.arch
        runs.append(PlannedRun(role, arch, req, stored, 0.0 if stored else float(estimate(req))))
    return Plan(budget, tuple(runs), cap)


def budget_seconds(spec: NetSpec, budget: Budget, seed: int, store: RunStore,
                   speed: HostSpeed | None = None) -> float:
    """The estimate of :func:`plan` under ``budget`` at ``speed`` (inf when the network cannot
    take the budget's images): what another budget on the page would take."""
    try:
        return plan(spec, budget, seed, budget.config.device, store, None,
                    lambda r: estimate_run_seconds(r, speed)).estimate
    except UserError:
        return math.inf


@dataclass(frozen=True)
class DepthOffer:
    """He et al.'s CIFAR ResNets (width 16) and their plain twins at each depth under one budget:
    the rough time of each pair on this host, and which fit its cap (None = no cap: a GPU)."""

    budget: Budget
    seconds: dict  # depth -> rough seconds for the pair (net + twin)
    cap: float | None

    @property
    def fits(self) -> list[int]:
        return [d for d, s in self.seconds.items() if self.cap is None or s <= self.cap]

    @property
    def need_gpu(self) -> list[int]:
        return [d for d in self.seconds if d not in self.fits]


def depth_offer(budget: Budget, cap: float | None, speed: HostSpeed | None = None,
                depths=HE2015_DEPTHS) -> DepthOffer:
    """Which of He et al.'s depths (20/32/44/56/110) this host trains within its cap under
    ``budget``: each pair's time at ``speed`` (default: this host's one measurement,
    :func:`~..train.estimate.host_speed`; nothing is trained)."""
    seconds = {}
    for d in depths:
        req = budget.request(cifar_resnet(d, width=16), 0, budget.config.device)
        seconds[d] = estimate_run_seconds(req, speed) + estimate_run_seconds(req.twin(), speed)
    return DepthOffer(budget, seconds, cap)


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
        report = _tagged(progress, tag) if progress else None
        try:
            run, loaded = train_run(r.request, store, progress=report, should_stop=should_stop,
                                    name=r.net, label=r.role)
        except Stopped:  # the stopped run is not stored; what finished before it is the result
            out.stopped = r
            break
        out.runs.append((r, run, loaded))
    return out


def _tagged(progress: Callable[[dict], None], tag: dict) -> Callable[[dict], None]:
    """A run's records tagged with its run; a language model's ``seconds`` (since its start)
    made per record, as an image network's epochs are (:func:`remaining_seconds` sums them)."""
    last = [0.0]

    def report(rec: dict) -> None:
        if "step" in rec and "epoch" not in rec:
            total = float(rec["seconds"])
            rec = {**rec, "seconds": total - last[0]}
            last[0] = total
        progress({**rec, **tag})
    return report


def stored_pair(p: Plan, store: RunStore) -> list[tuple[PlannedRun, Run]] | None:
    """Both runs from the store when both are there (else None)."""
    if not all(store.has(r.request.run_id) for r in p.runs):
        return None
    return [(r, store.get(r.request.run_id)) for r in p.runs]


def remaining_seconds(p: Plan, records: list[dict], elapsed: float = 0.0) -> float:
    """Time left for the runs still to train: the estimate of the epochs not yet done, scaled by
    how the measured epochs so far compare with their estimate; before the first epoch is
    measured, the estimate less the ``elapsed`` seconds (never below 0)."""
    per_epoch = {i: r.estimate / max(1, r.rows) for i, r in enumerate(p.runs, 1)}
    done_est = sum(per_epoch[rec["run"]] for rec in records)
    measured = sum(float(rec["seconds"]) for rec in records)
    left = max(0.0, sum(r.estimate for r in p.to_train) - done_est)
    if records and done_est > 0:
        return left * measured / done_est
    return max(0.0, left - float(elapsed))


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


def curves_frame(pair: list[tuple[PlannedRun, Run]]) -> pd.DataFrame:
    """The runs' per-epoch history with ``arch`` and ``depth``: the input of
    :func:`resnet_explain.charts.training.curves_long`."""
    parts = [run.history.assign(arch=r.arch, depth=r.depth) for r, run in pair]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def grad_frames(pair: list[tuple[PlannedRun, Run]]) -> dict[str, pd.DataFrame]:
    """{arch: the run's gradient snapshots} for :mod:`resnet_explain.charts.grad_history`."""
    return {r.arch: run.grads for r, run in pair}
