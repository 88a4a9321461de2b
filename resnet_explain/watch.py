"""A gradient monitor around your own training loop: ``with resnet_explain.watch(model) as w:``.

    with resnet_explain.watch(model, every=8) as w:
        for x, y in loader:                      # your loop, unchanged: any data, any optimizer
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
    w.history                                    # one row per (recorded step, block)
    w.chart()                                    # the block × step heatmap and the profile

A *step* is one forward of ``model`` with gradients enabled (forwards under ``torch.no_grad`` —
your validation — are not counted); step 0 is recorded, then every ``every``-th. On a recorded step
the measurement is :mod:`resnet_explain.measurement`'s, as in the probe and the trainer's
snapshots: hooks on the blocks' outputs for that forward only, the gradients caught in *your*
backward, and, around your ``optimizer.step()`` (any ``torch.optim`` optimizer: found through
PyTorch's global step hooks, acting only on one that holds this model's parameters), the parameters
copied before the step so that ΔW is the step's real change (into one buffer, allocated at the first
record and reused: a watch holds one copy of the blocks' parameters). Everything is reduced on the
device and copied to the host once per record. Per block:

* ``grad_norm`` ‖∂L/∂x‖ at its output; ``identity_norm`` / ``residual_norm`` the split of the
  gradient reaching its input (:mod:`resnet_explain.residuals`; NaN where it has no skip);
* ``weight_grad_norm`` ‖∂L/∂W‖ and ``weight_norm`` ‖W‖ of its parameters, before the step;
* ``update_ratio`` ‖ΔW‖/‖W‖ of the step (NaN when no ``torch.optim`` step followed).

Memory is bounded: at most ``max_records`` records are kept; past that, every other one is dropped
and recording continues at twice the interval, so the history always spans the whole run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from .block_select import select_blocks
from .measurement import BlockHooks, Norms
from .probe import connections

QUANTITIES = ["grad_norm", "weight_grad_norm", "weight_norm", "update_ratio", "identity_norm",
              "residual_norm"]
COLUMNS = ["step", "epoch", "block", "position", "kind", "connection", *QUANTITIES]
VARIANT = "your model"  # the chart's one panel


class Watch:
    """The monitor :func:`watch` returns; see the module docstring."""

    def __init__(self, model: nn.Module, every: int = 8, blocks=None, max_records: int = 1000,
                 split: bool = True):
        if every < 1 or max_records < 2:
            raise ValueError("every must be 1 or more and max_records 2 or more")
        self.model, self.every, self.max_records, self.split = model, int(every), int(max_records), split
        self._blocks = select_blocks(model, blocks)
        self.names = [n for n, _ in self._blocks]
        joins = connections(model, self._blocks)
        self._kinds = [type(m).__name__ for _, m in self._blocks]
        self._joins = [joins[n].connection for n in self.names]
        self.params, owner, seen = [], [], set()
        for b, (_n, mod) in enumerate(self._blocks):
            for p in mod.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    self.params.append(p)
                    owner.append(b)
        self._owner = np.array(owner, dtype=np.int64)
        self._param_ids = seen
        self.steps = 0  # forwards with gradients enabled so far
        self._records: list[tuple[int, np.ndarray]] = []  # (step, (len(QUANTITIES), blocks))
        self._hooks: BlockHooks | None = None
        self._pending: int | None = None  # the step whose backward is being recorded
        self._grads: list | None = None
        self._before: list | None = None  # the parameters before the step (the buffer), or None
        self._buffer: list | None = None
        self._wnorms: list | None = None
        self._handles: list = []

    # ---- context manager ---------------------------------------------------------------------
    def __enter__(self) -> Watch:
        self._handles = [self.model.register_forward_pre_hook(self._on_forward),
                         self.model.register_forward_hook(self._after_forward),
                         register_optimizer_step_pre_hook(self._before_step),
                         register_optimizer_step_post_hook(self._after_step)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._drop_hooks()
        if self._pending is not None:
            self._finish(after=None)
        self._buffer = None

    # ---- hooks -------------------------------------------------------------------------------
    def _on_forward(self, _mod, _args) -> None:
        if not torch.is_grad_enabled():
            return
        if self._pending is not None:  # no optimizer step came: record without ΔW
            self._finish(after=None)
        step, self.steps = self.steps, self.steps + 1
        if step % self.every == 0:
            self._pending = step
            self._hooks = BlockHooks(self._blocks, split=self.split, activations=False).install()

    def _after_forward(self, _mod, _args, _out) -> None:
        self._drop_hooks()  # the tensor hooks on this forward's outputs stay for its backward

    def _drop_hooks(self) -> None:
        if self._hooks is not None:
            self._hooks.remove()

    def _ours(self, opt) -> bool:
        return self._pending is not None and self._before is None and any(
            id(p) in self._param_ids for g in opt.param_groups for p in g["params"])

    def _before_step(self, opt, _args, _kwargs) -> None:
        if self._ours(opt):
            self._grads = [p.grad for p in self.params]
            params = [p.detach() for p in self.params]
            self._wnorms = torch._foreach_norm(params) if params else []  # on the device, no copy
            if self._buffer is None:  # one copy of the parameters, allocated once, reused
                self._buffer = [p.clone() for p in params]
            elif params:
                torch._foreach_copy_(self._buffer, params)
            self._before = self._buffer

    def _after_step(self, opt, _args, _kwargs) -> None:
        if self._pending is not None and self._before is not None:
            self._finish(after=[p.detach() for p in self.params])

    # ---- one record: one read --------------------------------------------------------------
    def _finish(self, after: list | None) -> None:
        hooks, self._hooks = self._hooks, None
        grads = self._grads if self._grads is not None else [p.grad for p in self.params]
        norms = Norms()
        if hooks is not None:
            hooks.add_to(norms)
        for i, g in enumerate(grads):
            if g is not None:
                norms.norm(("pgrad", i), g)
            if self._wnorms is not None:  # ‖W‖ before the step, reduced then
                norms.scalar(("pnorm", i), self._wnorms[i])
            else:
                norms.norm(("pnorm", i), self.params[i].detach())
        if after is not None and self.params:
            torch._foreach_sub_(self._before, after)  # the buffer now holds -ΔW
            norms.norms((("dw", i), d) for i, d in enumerate(self._before))
        v = norms.read()
        nan = math.nan
        wnorm = self._per_block([v[("pnorm", i)] for i in range(len(self.params))])
        dw = (self._per_block([v[("dw", i)] for i in range(len(self.params))]) if after is not None
              else np.full(len(self.names), nan))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = dw / wnorm
        values = np.stack([
            [v.get(("grad", n), nan) for n in self.names],
            self._per_block([v.get(("pgrad", i), 0.0) for i in range(len(self.params))]),
            wnorm, ratio,
            [v.get(("identity", n), nan) for n in self.names],
            [v.get(("residual", n), nan) for n in self.names]])
        self._records.append((self._pending, values))
        self._pending, self._grads, self._before, self._wnorms = None, None, None, None
        if len(self._records) > self.max_records:
            self._thin()

    def _thin(self) -> None:
        """Keep every other record (the first included) and record at twice the interval."""
        self.every *= 2
        self._records = [r for r in self._records if r[0] % self.every == 0]

    def _per_block(self, norms: list[float]) -> np.ndarray:
        sq = np.square(np.asarray(norms, dtype=np.float64))
        return np.sqrt(np.bincount(self._owner, weights=sq, minlength=len(self.names)))

    # ---- reading it ----------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per (recorded step, block), input to output, in COLUMNS (``epoch`` is 0: a
        watch does not know your epochs)."""
        rows = [(step, 0, n, b, self._kinds[b], self._joins[b], *vals[:, b])
                for step, vals in self._records for b, n in enumerate(self.names)]
        df = pd.DataFrame(rows, columns=COLUMNS)
        return df.astype({"step": "int64", "epoch": "int64", "position": "int64"})

    def chart(self, quantity: str = "grad_norm"):
        """The block × step heatmap of ``quantity`` (log10, one colour scale) above its profile at
        the first, middle and last recorded steps: the app's charts
        (:mod:`resnet_explain.charts.grad_history`)."""
        from .charts import grad_history  # altair: imported when a chart is asked for

        frames = {VARIANT: self.history}
        return grad_history.heatmap(frames, quantity) & grad_history.profile_chart(frames, quantity)

    def _repr_mimebundle_(self, include=None, exclude=None):
        if not self._records:
            return {"text/plain": f"watch of {len(self.names)} blocks: nothing recorded yet"}
        return self.chart()._repr_mimebundle_(include=include, exclude=exclude)


def watch(model: nn.Module, every: int = 8, blocks=None, max_records: int = 1000,
          split: bool = True) -> Watch:
    """Record per-block gradient flow while *your* loop trains ``model`` (a context manager; see
    :mod:`resnet_explain.watch`). ``blocks`` chooses the blocks as in
    :func:`resnet_explain.probe.probe`; ``split=False`` skips the identity / residual split."""
    return Watch(model, every=every, blocks=blocks, max_records=max_records, split=split)
