"""What we record about gradients while training: per block, every K steps, from the step itself.

On a snapshot step (``step % K == 0``, 0-based, so step 0 measures the initial model) we record
for every block (:func:`resnet_explain.model.find_blocks`) and for the stem and head as
pseudo-blocks:

* ``grad_norm`` ‖∂L/∂x‖ at the module's output: the quantity :func:`resnet_explain.probe.probe`
  measures, caught by the same hooks during the step's own backward (for the head, x is the logits);
* ``weight_grad_norm`` ‖∂L/∂W‖ of all the module's parameters together (sqrt of the sum of squares
  of every parameter gradient, shortcut projections and norm scales included);
* ``weight_norm`` ‖W‖ of those parameters *before* the step (where the gradient was taken);
* ``update_ratio`` ‖ΔW‖/‖W‖ with ΔW = W_after − W_before, the optimiser step's actual change
  (momentum and weight decay included). ΔW is measured, not derived from the gradient and the
  optimiser state: the parameters are copied before ``opt.step()`` on snapshot steps only.

No extra forward or backward pass: hooks live for the snapshot step's forward only. The hooks and
the norms are the probe's (:mod:`resnet_explain.measurement`): fused reductions and one host copy
before the update and one after it, per snapshot step (none per block, none on other steps); a norm
whose squares may have underflowed is measured again with scaling (one more, small copy), as in
the probe. Per-parameter norms are combined per block in float64 on the host. Nothing is added to
them, so a norm that is exactly 0 stays 0 (shown as underflow by :mod:`resnet_explain.magnitude`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import magnitude
from ..measurement import BlockHooks, Norms
from ..model import find_blocks

GRAD_COLUMNS = ["step", "epoch", "block", "position", "kind", "grad_norm", "weight_grad_norm",
                "weight_norm", "update_ratio"]
_PSEUDO = ("stem", "head")


def empty_grads() -> pd.DataFrame:
    """The snapshot table of a run that recorded none."""
    return pd.DataFrame({c: pd.Series(dtype="object" if c in ("block", "kind") else
                                      ("int64" if c in ("step", "epoch", "position") else "float64"))
                         for c in GRAD_COLUMNS})


def _units(model: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """(name, kind, module): the blocks, and the stem and head (our Net's children of those names)
    as pseudo-blocks, unless block discovery already lists them (a foreign model's children)."""
    blocks = find_blocks(model)
    children = dict(model.named_children())
    listed = {id(m) for _, m in blocks}
    extra = {k: children[k] for k in _PSEUDO
             if isinstance(children.get(k), nn.Module) and id(children[k]) not in listed}
    units = [("stem", "stem", extra["stem"])] if "stem" in extra else []
    units += [(name, "block", mod) for name, mod in blocks]
    return units + ([("head", "head", extra["head"])] if "head" in extra else [])


class GradSnapshots:
    """Records the quantities above every ``every`` steps of a training loop. The trainer calls,
    on a step where :meth:`start` returns True: forward, backward, :meth:`before_update`,
    ``opt.step()``, :meth:`after_update`; and :meth:`frame` at the end."""

    def __init__(self, model: nn.Module, every: int):
        self.every = int(every)
        units = _units(model)
        self.names = [u[0] for u in units]
        self.kinds = [u[1] for u in units]
        self._blocks = [(u[0], u[2]) for u in units]
        first = 1 if self.kinds and self.kinds[0] == "stem" else 0
        self.positions = [i - first for i in range(len(units))]  # blocks 0.. as in probe(); stem -1
        # Every parameter that belongs to a unit, and which unit (a parameter counts once).
        self.params: list[nn.Parameter] = []
        owner: list[int] = []
        seen: set[int] = set()
        for u, (_name, _kind, mod) in enumerate(units):
            for p in mod.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    self.params.append(p)
                    owner.append(u)
        self._owner = np.array(owner, dtype=np.int64)
        self._hooks: BlockHooks | None = None
        self._before: list = []
        self._measured: dict[str, np.ndarray] = {}
        self._rows: list[tuple[int, int, np.ndarray]] = []  # (step, epoch, (4, units)) per snapshot
        self._current: tuple[int, int] | None = None

    # ---- the training loop's calls -----------------------------------------------------------
    def start(self, step: int, epoch: int) -> bool:
        """On a snapshot step, hook the unit outputs for this step's forward; True if it is one."""
        if self.every <= 0 or step % self.every:
            return False
        self._current = (int(step), int(epoch))
        self._hooks = BlockHooks(self._blocks, split=False, activations=False).install()
        return True

    def before_update(self) -> None:
        """After backward, before ``opt.step()``: drop the hooks, read the output gradients', the
        parameter gradients' and the parameters' norms, and copy the parameters (for ΔW)."""
        hooks, self._hooks = self._hooks, None
        hooks.remove()
        norms = Norms()
        hooks.add_to(norms)
        for i, p in enumerate(self.params):
            if p.grad is not None:  # none: its norm is 0
                norms.norm(("pgrad", i), p.grad)
            norms.norm(("pnorm", i), p.detach())
        v = norms.read()
        # A unit whose output got no gradient is NaN (not measured).
        self._measured = {
            "grad_norm": np.array([v.get(("grad", n), math.nan) for n in self.names]),
            "weight_grad_norm": self._per_unit([v.get(("pgrad", i), 0.0) for i in range(len(self.params))]),
            "weight_norm": self._per_unit([v[("pnorm", i)] for i in range(len(self.params))])}
        self._before = [p.detach().clone() for p in self.params]

    def after_update(self) -> None:
        """After ``opt.step()``: ‖W_after − W_before‖ per unit, and the snapshot's rows."""
        norms = Norms()
        if self.params:
            norms.norms(enumerate(torch._foreach_sub([p.detach() for p in self.params], self._before)))
        v = norms.read()
        self._before = []
        m, self._measured = self._measured, {}
        dnorm = self._per_unit([v[i] for i in range(len(self.params))])
        with np.errstate(divide="ignore", invalid="ignore"):  # a unit without parameters: 0/0, NaN
            ratio = dnorm / m["weight_norm"]
        step, epoch = self._current
        self._rows.append((step, epoch, np.stack([m["grad_norm"], m["weight_grad_norm"],
                                                  m["weight_norm"], ratio])))
        self._current = None

    def frame(self) -> pd.DataFrame:
        """Every snapshot so far, one row per (step, unit) in GRAD_COLUMNS (stem, blocks, head)."""
        if self._hooks is not None:  # a step that never reached before_update (stopped, raised)
            self._hooks.remove()
            self._hooks = None
        rows = [(step, epoch, name, self.positions[u], self.kinds[u], *v[:, u])
                for step, epoch, v in self._rows for u, name in enumerate(self.names)]
        if not rows:
            return empty_grads()
        return pd.DataFrame(rows, columns=GRAD_COLUMNS)

    def _per_unit(self, norms: list[float]) -> np.ndarray:
        """sqrt(sum of squares) of per-parameter norms, per unit, in float64 (a unit whose norms
        are all 0, or that has no parameters, is 0)."""
        sq = np.square(np.asarray(norms, dtype=np.float64))
        return np.sqrt(np.bincount(self._owner, weights=sq, minlength=len(self.names)))


# ---------------------------------------------------------------------------------------------
# Reading the numbers: do the first blocks learn?
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LearningPace:
    """The first block's median update ratio against the last block's, over a run's snapshots."""

    first_block: str
    last_block: str
    first: float  # median ‖ΔW‖/‖W‖ of the first block
    last: float
    ratio: float  # first / last
    snapshots: int
    band: str  # magnitude.judge_ratio's band of ``ratio`` (NO_GRADIENT_BAND: the last block is still)

    @property
    def learns(self) -> bool:
        """False when the first block's updates vanish next to the last block's, are 0, or
        cannot be judged (NaN/Inf)."""
        return self.first > 0 and self.band not in ("vanishes", magnitude.UNDERFLOW_BAND,
                                                     magnitude.NOT_FINITE_BAND)


def learning_pace(grads: pd.DataFrame) -> LearningPace | None:
    """Does the first block of a network learn at all? Median update ratio of the first and the
    last block over the snapshots, and their ratio judged with the bands of
    :func:`resnet_explain.magnitude.judge_ratio` (the words: content.your_network.pace_sentence).
    None without snapshots."""
    b = grads[grads["kind"] == "block"] if len(grads) else grads
    if not len(b):
        return None
    first_pos, last_pos = b["position"].min(), b["position"].max()
    first_rows, last_rows = b[b["position"] == first_pos], b[b["position"] == last_pos]
    first = float(first_rows["update_ratio"].median(skipna=False))
    last = float(last_rows["update_ratio"].median(skipna=False))
    ratio = first / last if (last != 0 and math.isfinite(last)) else float("nan")
    n = int(first_rows["step"].nunique())
    fb, lb = str(first_rows["block"].iloc[0]), str(last_rows["block"].iloc[0])
    band = (magnitude.NO_GRADIENT_BAND if math.isfinite(last) and last == 0
            else magnitude.judge_ratio(ratio).band)
    return LearningPace(fb, lb, first, last, ratio, n, band)
