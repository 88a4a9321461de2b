"""One gradient measurement: the hooks that catch ∂L/∂x at block outputs during a forward and its
backward, and the numerics that turn what they caught into norms on the host. The probe
(:func:`resnet_explain.probe.probe`, at initialisation) and the trainer's snapshots
(:class:`resnet_explain.train.snapshots.GradSnapshots`, while training) both measure with it: the
same hooks, the same numbers.

**Hooks** (:class:`BlockHooks`, installed for one forward; the tensor hooks they put on that
forward's outputs fire in its backward). Per block output x_l: the gradient ∂L/∂x_l and,
optionally, the forward activation's sum and 2-norm (for its mean and std). With ``split``, for a
residual block y = act(s), s = F(x) + S(x) (S the shortcut, identity or projection), the split of
the backward signal reaching x:

    dL/dx = S'(x)^T g  +  J_F(x)^T g,     g = dL/ds
            identity term   residual-branch term

In a gated block, s = (1 - g(x)) S(x) + g(x) F(x) (Highway's carry and transform), the identity
term is the carry path's share, the residual term the transform path's, and the gate term the share
that flows back through the gate g(x) itself. In a dense block (s = concat(x, F(x))) the identity
term is the gradient the concatenation hands straight to x. Each path gets its own alias of x (a
``view_as``), so the gradient caught there is that path's share only.

**Numbers** (:class:`Norms`). Every norm is reduced on the device in one fused call per dtype
(``torch._foreach_norm``), stacked with the other scalars of the measurement and copied to the host
once, with each tensor's largest entry: no per-tensor ``.item()``. A norm small enough that its
squares may have underflowed (or one that overflowed), of a tensor that is not all zeros, is
measured again with scaling by the largest entry (:func:`safe_norm`) — a second copy, only
then — so a gradient of 1e-41 still gets its value; a gradient that is exactly 0 in
float32 stays 0 (:mod:`resnet_explain.magnitude` shows it as underflow), never dropped.

Nothing here knows about a training loop: install the hooks around any forward, put what they
caught (and any parameter tensors) into a :class:`Norms` after the backward, and read it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

import numpy as np
import torch
from torch import nn

from .residuals import split_graph

_F64 = torch.float64
_LOW_PRECISION = (torch.bfloat16, torch.float16)  # norms of these accumulate in float32


def safe_norm(t: torch.Tensor) -> torch.Tensor:
    """||t||_2 as a float64 0-dim tensor, without overflow or underflow of the squares:
    max|t| * ||t / max|t|||, the scaling LAPACK's nrm2 uses. Stays on t's device (no sync)."""
    t = t.detach()
    if not t.numel():
        return t.new_zeros((), dtype=_F64)
    lo, hi = torch.aminmax(t)
    amax = torch.maximum(-lo, hi)
    scale = torch.where(amax > 0, amax, torch.ones_like(amax))
    scale = torch.where(torch.isfinite(scale), scale, torch.ones_like(scale))
    return torch.linalg.vector_norm(t / scale).to(_F64) * scale.to(_F64)


def _by_dtype(tensors: list[torch.Tensor]) -> dict[torch.dtype, list[int]]:
    groups: dict[torch.dtype, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(t.dtype, []).append(i)
    return groups


def _accumulates_in(dtype: torch.dtype) -> torch.dtype:
    """The dtype a norm of ``dtype`` entries is summed in: float32 for bfloat16/float16."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def _host_dtype(device: torch.device) -> torch.dtype:
    """What scalars are stacked as before the copy: float64, but float32 on MPS (it has no float64;
    the host makes them float64)."""
    return torch.float32 if device.type == "mps" else _F64


def _fast_norms(tensors: list[torch.Tensor], ord: float = 2) -> list[torch.Tensor]:
    """Plain ``ord``-norms of many tensors (2, or inf: the largest entry), one fused call per
    dtype (no host sync); bfloat16 and float16 entries are summed in float32."""
    out: list = [None] * len(tensors)
    for dt, idx in _by_dtype(tensors).items():
        group = [tensors[i] for i in idx]
        norms = (torch._foreach_norm(group, ord, dtype=torch.float32) if dt in _LOW_PRECISION
                 else torch._foreach_norm(group, ord))
        for i, v in zip(idx, norms):
            out[i] = v
    return out


def _safe_norms(tensors: list[torch.Tensor]) -> np.ndarray:
    """:func:`safe_norm` of many tensors at once, on the host as float64: the same scaling by the
    largest entry, in a few fused calls (``_foreach_*``) instead of ~10 kernels per tensor, and one
    copy (the scaled norm and its scale; their product is taken on the host)."""
    order: list[int] = []
    parts = []
    for dt, idx in _by_dtype(tensors).items():
        group = [tensors[i].detach() for i in idx]
        if dt in _LOW_PRECISION:
            group = [t.float() for t in group]
        amax = torch.stack(torch._foreach_norm(group, ord=float("inf")))
        scale = torch.where((amax > 0) & torch.isfinite(amax), amax, torch.ones_like(amax))
        scaled = torch.stack(torch._foreach_norm(torch._foreach_div(group, list(scale.unbind()))))
        parts.append(torch.stack([scaled, scale]).to(_host_dtype(scale.device)))
        order += idx
    host = torch.cat(parts, dim=1).cpu().numpy().astype(np.float64)
    out = np.empty(len(tensors), dtype=np.float64)
    out[order] = host[0] * host[1]
    return out


def _suspect(norm: float, dtype: torch.dtype) -> bool:
    """True when a plain norm may be wrong because squares left the dtype's range: it is tiny
    (squares of entries below sqrt(tiny) underflow) or not finite (squares overflowed, or the
    tensor really holds NaN/Inf, which safe_norm then reports as such)."""
    tiny = float(torch.finfo(dtype).tiny) if dtype.is_floating_point else 0.0
    return not math.isfinite(norm) or norm < math.sqrt(tiny) * 1e3


def _stack_to_host(scalars: list[torch.Tensor]) -> np.ndarray:
    """0-dim tensors -> one float64 host vector: one stack and one cast per dtype present (on CUDA
    a cast per scalar would be a kernel launch each), one copy."""
    dtype = _host_dtype(scalars[0].device)
    groups = _by_dtype(scalars)
    if len(groups) == 1:
        return torch.stack(scalars).to(dtype).cpu().numpy().astype(np.float64)
    order = [i for idx in groups.values() for i in idx]
    stacked = torch.cat([torch.stack([scalars[i] for i in idx]).to(dtype) for idx in groups.values()])
    out = np.empty(len(scalars), dtype=np.float64)
    out[order] = stacked.cpu().numpy()
    return out


class Norms:
    """The numbers of one measurement: tensors whose 2-norms to take (:meth:`norm`) and 0-dim
    scalars to read as they are (:meth:`scalar`), each under a key. :meth:`read` reduces them on
    the device, copies them to the host once (twice if a norm needs rescuing, see the module
    docstring) and returns ``{key: float}``."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._keys: list[Hashable] = []
        self._tensors: list[torch.Tensor] = []
        self._scalar_keys: list[Hashable] = []
        self._scalars: list[torch.Tensor] = []

    def norm(self, key: Hashable, tensor: torch.Tensor) -> None:
        self._keys.append(key)
        self._tensors.append(tensor)

    def norms(self, items: Iterable[tuple[Hashable, torch.Tensor]]) -> None:
        for key, tensor in items:
            self.norm(key, tensor)

    def scalar(self, key: Hashable, value: torch.Tensor) -> None:
        self._scalar_keys.append(key)
        self._scalars.append(value)

    def read(self) -> dict[Hashable, float]:
        """Every norm and scalar as a float (float64 on the host); the tensors are let go."""
        keys, tensors, scalar_keys, scalars = self._keys, self._tensors, self._scalar_keys, self._scalars
        self._reset()
        if not tensors and not scalars:
            return {}
        # On a GPU the largest entries come in the same copy: a tensor of zeros (a BatchNorm
        # bias at initialisation) then needs no rescue, and no second copy (a sync). On a CPU a
        # copy is free and the max-norm a slow loop, so zeros are rescued (to 0) there instead.
        with_max = tensors[0].device.type != "cpu" if tensors else False
        with torch.no_grad():
            host = _stack_to_host([s.reshape(()) for s in scalars] + _fast_norms(tensors)
                                  + (_fast_norms(tensors, float("inf")) if with_max else []))
        k, n = len(scalars), len(tensors)
        values = dict(zip(scalar_keys + keys, host[:k + n].tolist()))
        norms, amax = host[k:k + n], (host[k + n:] if with_max else np.ones(n))
        redo = [j for j, t in enumerate(tensors)
                if amax[j] != 0 and _suspect(norms[j], _accumulates_in(t.dtype))]
        if redo:
            with torch.no_grad():
                fixed = _safe_norms([tensors[j] for j in redo])
            values.update(zip([keys[j] for j in redo], fixed.tolist()))
        return values


class BlockHooks:
    """Hooks on blocks for one forward and its backward; a context manager (installed on enter,
    removed on exit), or :meth:`install` / :meth:`remove`.

    ``caught`` maps ``(which, block name)`` to a tensor caught in the backward: ``"grad"``, the
    gradient at the block's output; with ``split``, ``"identity"``, ``"residual"`` and ``"gate"``,
    the shares of dL/dx that come back through a block's ``shortcut``, ``body`` and ``gate``
    modules (where it has them; see the module docstring), or, in any other block with a
    residual add (:mod:`resnet_explain.residuals`), through its shortcut and its branch. With
    ``activations``, ``acts`` maps a block name to its forward output's (sum, 2-norm, count)."""

    PATHS = (("residual", "body"), ("identity", "shortcut"), ("gate", "gate"))

    def __init__(self, blocks: list[tuple[str, nn.Module]], *, split: bool = True,
                 activations: bool = True):
        self.blocks = list(blocks)
        self.split, self.activations = split, activations
        self.caught: dict[tuple[str, str], torch.Tensor] = {}
        self.acts: dict[str, tuple[torch.Tensor, torch.Tensor, int]] = {}
        self._handles: list = []
        self._swapped: list = []  # (block, its own instance forward or None, its two taps)

    def __enter__(self) -> BlockHooks:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()

    def install(self) -> BlockHooks:
        """Hook the blocks for the next forward (what an earlier one caught is forgotten)."""
        self.caught, self.acts = {}, {}
        for name, mod in self.blocks:
            self._handles.append(mod.register_forward_hook(self._on_output(name)))
            if self.split:
                self._hook_paths(name, mod)
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for mod, forward, identity, residual in self._swapped:
            if forward is None:
                del mod.forward
            else:
                mod.forward = forward
            identity.on_alias = residual.on_alias = None
        self._swapped = []

    def _catch(self, key: tuple[str, str]):
        def hook(g: torch.Tensor) -> None:
            self.caught[key] = g.detach()  # reduced after the backward, all at once
        return hook

    def _on_output(self, name: str):
        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor):
                if self.activations:
                    a = out.detach()
                    # Two reductions in the tensor's dtype (a float64 sum casts: slow on CPU;
                    # std_mean is ~40x slower there); the float64 arithmetic is done on the host.
                    self.acts[name] = (a.sum(), torch.linalg.vector_norm(a), a.numel())
                if out.requires_grad:
                    out.register_hook(self._catch(("grad", name)))
        return hook

    def _hook_paths(self, name: str, mod: nn.Module) -> None:
        if not (isinstance(getattr(mod, "body", None), nn.Module)
                and isinstance(getattr(mod, "shortcut", None), nn.Module)):
            self._hook_traced_paths(name, mod)
            return
        for which, attr in self.PATHS:  # a gated block's third path back to x: through g(x)
            path = getattr(mod, attr, None)
            if isinstance(path, nn.Module):
                self._handles.append(path.register_forward_pre_hook(self._on_path_input(name, which)))

    def _hook_traced_paths(self, name: str, mod: nn.Module) -> None:
        """A block of any other model: for this forward it runs as its traced graph, in which the
        shortcut and the branch read the input through taps (:func:`residuals.split_graph`: the
        same computation, the block's own modules). Nothing is changed where it has no add."""
        split = split_graph(mod)
        if split is None:
            return
        gm, identity, residual = split
        identity.on_alias = self._on_alias(("identity", name))
        residual.on_alias = self._on_alias(("residual", name))
        self._swapped.append((mod, mod.__dict__.get("forward"), identity, residual))
        mod.forward = gm.forward

    def _on_alias(self, key: tuple[str, str]):
        def on_alias(alias: torch.Tensor) -> None:
            alias.register_hook(self._catch(key))
        return on_alias

    def _on_path_input(self, name: str, which: str):
        # Give this path its own alias of x, so its gradient is this path's share only.
        def hook(_mod, args):
            x = args[0]
            if not (isinstance(x, torch.Tensor) and x.requires_grad):
                return None
            alias = x.view_as(x)
            alias.register_hook(self._catch((which, name)))
            return (alias,) + tuple(args[1:])
        return hook

    def add_to(self, norms: Norms) -> None:
        """Put what was caught into ``norms``: the norms of the gradients under their keys, and
        each block's activation sum and norm as scalars ``("act_sum", name)``, ``("act_norm", name)``."""
        norms.norms(self.caught.items())
        for name, (s, n, _count) in self.acts.items():
            norms.scalar(("act_sum", name), s)
            norms.scalar(("act_norm", name), n)

    def activation_stats(self, values: dict) -> dict[str, tuple[float, float]]:
        """Per block with an activation: its (mean, unbiased std), in float64 from ``values``
        (a :meth:`Norms.read` of :meth:`add_to`)."""
        names = list(self.acts)
        if not names:
            return {}
        sums = np.array([values[("act_sum", n)] for n in names])
        norms = np.array([values[("act_norm", n)] for n in names])
        count = np.array([self.acts[n][2] for n in names], dtype=np.float64)
        mean = sums / count
        var = np.clip(norms * norms - count * mean * mean, 0, None) / np.maximum(count - 1, 1)
        return dict(zip(names, zip(mean.tolist(), np.sqrt(var).tolist())))
