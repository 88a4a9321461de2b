"""What we record about gradients while training: per block, every K steps, from the step itself.

On a snapshot step (``step % K == 0``, 0-based, so step 0 measures the initial model) we record
for every block (:func:`resnet_explain.model.find_blocks`) and for the stem and head as
pseudo-blocks:

* ``grad_norm`` ‖∂L/∂x‖ at the module's output: the quantity :func:`resnet_explain.probe.probe`
  measures, taken by a tensor hook during the step's own backward (for the head, x is the logits);
* ``weight_grad_norm`` ‖∂L/∂W‖ of all the module's parameters together (sqrt of the sum of squares
  of every parameter gradient, shortcut projections and norm scales included);
* ``weight_norm`` ‖W‖ of those parameters *before* the step (where the gradient was taken);
* ``update_ratio`` ‖ΔW‖/‖W‖ with ΔW = W_after − W_before, the optimiser step's actual change
  (momentum and weight decay included). ΔW is measured, not derived from the gradient and the
  optimiser state: the parameters are copied before ``opt.step()`` on snapshot steps only.

No extra forward or backward pass: hooks live for the snapshot step's forward only and keep the
gradients on the device. Norms are float32 (``torch._foreach_norm``), combined per block in
float64 where the device has it; nothing is added to them, so a norm that is exactly 0 stays 0
(shown as underflow by :mod:`resnet_explain.magnitude`). Results stay on the device until
:meth:`GradSnapshots.end_epoch`: one host copy per epoch, no per-block ``.item()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import magnitude
from ..model import find_blocks

GRAD_COLUMNS = ["step", "epoch", "block", "position", "kind", "grad_norm", "weight_grad_norm",
                "weight_norm", "update_ratio"]
_PSEUDO = ("stem", "head")


def empty_grads() -> pd.DataFrame:
    """The snapshot table of a run that recorded none."""
    return pd.DataFrame({c: pd.Series(dtype="object" if c in ("block", "kind") else
                                      ("int64" if c in ("step", "epoch", "position") else "float64"))
                         for c in GRAD_COLUMNS})


class GradSnapshots:
    """Records the quantities above every ``every`` steps of a training loop. The trainer calls,
    on a step where :meth:`start` returns True: forward, backward, :meth:`before_update`,
    ``opt.step()``, :meth:`after_update`; and :meth:`end_epoch` after each epoch."""

    def __init__(self, model: nn.Module, every: int):
        self.every = int(every)
        blocks = find_blocks(model)
        # The stem and head (our Net's children of those names) as pseudo-blocks, unless block
        # discovery already lists them (a foreign model's top-level children).
        children = dict(model.named_children())
        listed = {id(m) for _, m in blocks}
        extra = {k: children[k] for k in _PSEUDO
                 if isinstance(children.get(k), nn.Module) and id(children[k]) not in listed}
        units: list[tuple[str, str, nn.Module]] = [("stem", "stem", extra["stem"])] if "stem" in extra else []
        units += [(name, "block", mod) for name, mod in blocks]
        units += [("head", "head", extra["head"])] if "head" in extra else []
        self.names = [u[0] for u in units]
        self.kinds = [u[1] for u in units]
        self.modules = [u[2] for u in units]
        first = 1 if self.kinds and self.kinds[0] == "stem" else 0
        self.positions = [i - first for i in range(len(units))]  # blocks 0.. as in probe(); stem -1
        # Every parameter that belongs to a unit, and which unit (a parameter counts once).
        self.params: list[nn.Parameter] = []
        owner: list[int] = []
        seen: set[int] = set()
        for u, mod in enumerate(self.modules):
            for p in mod.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    self.params.append(p)
                    owner.append(u)
        dev = self.params[0].device if self.params else torch.device("cpu")
        self._acc = torch.float32 if dev.type == "mps" else torch.float64
        self._owner = torch.tensor(owner, dtype=torch.long, device=dev)
        self._nan = torch.full((), float("nan"), dtype=torch.float32, device=dev)
        self._handles: list = []
        self._out_grads: dict[int, torch.Tensor] = {}
        self._before: list[torch.Tensor] = []
        self._pending: list[torch.Tensor] = []  # (4, units) per snapshot, on the device
        self._steps: list[tuple[int, int]] = []
        self._host: list[tuple[list[tuple[int, int]], np.ndarray]] = []
        self._current: tuple[int, int] | None = None

    # ---- the training loop's calls -----------------------------------------------------------
    def start(self, step: int, epoch: int) -> bool:
        """On a snapshot step, hook the unit outputs for this step's forward; True if it is one."""
        if self.every <= 0 or step % self.every:
            return False
        self._current = (int(step), int(epoch))
        self._out_grads = {}
        for u, mod in enumerate(self.modules):
            self._handles.append(mod.register_forward_hook(self._out_hook(u)))
        return True

    def _out_hook(self, u: int):
        def keep(g: torch.Tensor) -> None:
            self._out_grads[u] = g.detach()

        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor) and out.requires_grad:
                out.register_hook(keep)
        return hook

    def before_update(self) -> None:
        """After backward, before ``opt.step()``: drop the hooks, reduce the output gradients and
        the parameter gradients, and copy the parameters (for ΔW)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        have = sorted(self._out_grads)
        norms = dict(zip(have, _norms([self._out_grads[u] for u in have])))
        # A unit whose output got no gradient is NaN (not measured); stacked in unit order, so no
        # index tensor goes to the device (a copy from the host could wait for the device).
        self._out = torch.stack([norms.get(u, self._nan) for u in range(len(self.modules))]).to(self._acc)
        self._out_grads = {}
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        self._gnorm = self._per_unit(_norms(grads))
        self._wnorm = self._per_unit(_norms([p.detach() for p in self.params]))
        self._before = [p.detach().clone() for p in self.params]

    def after_update(self) -> None:
        """After ``opt.step()``: ‖W_after − W_before‖ per unit, and the snapshot's row block."""
        delta = torch._foreach_sub([p.detach() for p in self.params], self._before)
        dnorm = self._per_unit(_norms(delta))
        self._before = []
        self._pending.append(torch.stack([self._out, self._gnorm, self._wnorm, dnorm / self._wnorm]))
        self._steps.append(self._current)
        self._current = None

    def end_epoch(self) -> None:
        """One host copy of the epoch's snapshots (the only sync this module makes)."""
        if self._pending:
            self._host.append((self._steps, torch.stack(self._pending).cpu().double().numpy()))
        self._pending, self._steps = [], []

    def frame(self) -> pd.DataFrame:
        """Every snapshot so far, one row per (step, unit) in GRAD_COLUMNS (stem, blocks, head)."""
        self.end_epoch()
        for h in self._handles:  # a step that never reached before_update (stopped, raised)
            h.remove()
        self._handles = []
        rows = []
        for steps, values in self._host:
            for (step, epoch), v in zip(steps, values):
                for u, name in enumerate(self.names):
                    rows.append((step, epoch, name, self.positions[u], self.kinds[u],
                                 v[0, u], v[1, u], v[2, u], v[3, u]))
        if not rows:
            return empty_grads()
        return pd.DataFrame(rows, columns=GRAD_COLUMNS)

    # ---- helpers -----------------------------------------------------------------------------
    def _per_unit(self, norms: list[torch.Tensor]) -> torch.Tensor:
        """sqrt(sum of squares) of per-parameter norms, per unit (float64 where available, so
        combining tiny norms does not underflow; a unit whose norms are all 0 stays 0)."""
        out = torch.zeros(len(self.modules), dtype=self._acc, device=self._owner.device)
        if not norms:
            return out
        return out.index_add_(0, self._owner, torch.stack(norms).to(self._acc).square()).sqrt()


def _norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """float32 2-norms of many tensors, one fused call per dtype (no host sync)."""
    out: list = [None] * len(tensors)
    for dt in {t.dtype for t in tensors}:
        idx = [i for i, t in enumerate(tensors) if t.dtype == dt]
        for i, v in zip(idx, torch._foreach_norm([tensors[i] for i in idx], 2, dtype=torch.float32)):
            out[i] = v
    return out


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
    band: str  # magnitude.judge_ratio's band of ``ratio``
    text: str

    @property
    def learns(self) -> bool:
        """False when the first block's updates vanish next to the last block's, are 0, or
        cannot be judged (NaN/Inf)."""
        return self.first > 0 and self.band not in ("vanishes", magnitude.UNDERFLOW_BAND,
                                                     magnitude.NOT_FINITE_BAND)


def learning_pace(grads: pd.DataFrame, name: str = "plain") -> LearningPace | None:
    """Does the first block of ``name``'s network learn at all? Median update ratio of the first
    and the last block over the snapshots, their ratio judged with the bands of
    :func:`resnet_explain.magnitude.judge_ratio`, and a sentence with the numbers. None without
    snapshots."""
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

    def fmt(v: float) -> str:
        return magnitude.fmt_ratio(v, 2, zero="0")

    said = (f"In the {name} net the first block ({fb}) changes its weights by a median "
            f"{fmt(first)} of their size per step (‖ΔW‖/‖W‖ over {n} snapshots), the last block "
            f"({lb}) by {fmt(last)}: ")
    if math.isfinite(last) and last == 0:
        band = magnitude.NO_GRADIENT_BAND
        verdict = "the last block did not move at all, so there is no pace to compare with."
    else:
        band = magnitude.judge_ratio(ratio).band
        inv = _times(1 / ratio) if ratio else "∞"
        verdict = {
            magnitude.UNDERFLOW_BAND: "the first block's weights did not change at all: it does not learn.",
            magnitude.NOT_FINITE_BAND: "an update ratio is NaN or Inf, so the pace cannot be compared.",
            "vanishes": f"the first block learns {inv}× slower than the last, hardly at all.",
            "shrinks": f"the first block learns {inv}× slower than the last.",
            "about the same": f"both learn at about the same pace ({ratio:.3g}×, within 2×).",
            "grows": f"the first block moves {_times(ratio)}× faster than the last.",
            "explodes": f"the first block moves {_times(ratio)}× faster than the last: its updates explode.",
        }[band]
    return LearningPace(fb, lb, first, last, ratio, n, band, said + verdict)


def _times(x: float) -> str:
    """A factor for "N× slower": 2.8, 25, 1,000, 3.2e+07."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2g}" if x < 100 else (f"{x:,.0f}" if x < 1e6 else f"{x:.1e}")
