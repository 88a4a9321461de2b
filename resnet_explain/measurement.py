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
    """Plain ``ord``-norms of tensors of one dtype (2, 1, or inf: the largest entry) in one fused
    call (no host sync); bfloat16 and float16 entries are summed in float32."""
    if tensors[0].dtype in _LOW_PRECISION:
        return torch._foreach_norm(tensors, ord, dtype=torch.float32)
    return torch._foreach_norm(tensors, ord)


def _vector(scalars: list[torch.Tensor]) -> torch.Tensor:
    """0-dim tensors of one dtype as one 1-D tensor. Where a fused reduction wrote them side by
    side into one buffer (CUDA's ``_foreach_norm`` does), that buffer itself, as a view: a stack
    would dispatch an op per scalar (host time, on a GPU). Else (a CPU reduces tensor by tensor)
    one stack. The view is taken only where every scalar sits at its place in it."""
    first = scalars[0]
    p0, step = first.data_ptr(), first.element_size()
    if len(scalars) > 1 and all(s.data_ptr() == p0 + i * step for i, s in enumerate(scalars)):
        try:
            return first.as_strided((len(scalars),), (1,))
        except RuntimeError:  # beyond its storage: they only happen to be adjacent
            pass
    return torch.stack(scalars)


def _to_host(vectors: list[torch.Tensor]) -> np.ndarray:
    """1-D tensors -> one float64 host vector: one cat (widening, exact), one cast, one copy."""
    flat = torch.cat(vectors) if len(vectors) > 1 else vectors[0]
    return flat.to(_host_dtype(flat.device)).cpu().numpy().astype(np.float64, copy=False)


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


def _suspects(norms: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """Which plain norms of ``dtype`` tensors may be wrong because squares left the range of the
    dtype they were summed in: tiny ones (squares of entries below sqrt(tiny) underflow) and ones
    not finite (squares overflowed, or the tensor really holds NaN/Inf, which safe_norm then
    reports as such)."""
    acc = _accumulates_in(dtype)
    tiny = float(torch.finfo(acc).tiny) if acc.is_floating_point else 0.0
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(norms) | (norms < math.sqrt(tiny) * 1e3)


def _all_zeros(tensors: list[torch.Tensor]) -> np.ndarray:
    """Which tensors are all zeros, for norms that came out exactly 0 (a BatchNorm bias at
    initialisation, or squares that underflowed): their 1-norms, a sum of |x| that no nonzero
    entry can bring to 0, in one fused call per dtype and one copy."""
    groups = _by_dtype(tensors)
    l1 = _to_host([_vector(_fast_norms([tensors[i] for i in idx], 1)) for idx in groups.values()])
    out = np.empty(len(tensors), dtype=bool)
    out[[i for idx in groups.values() for i in idx]] = l1 == 0
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
        # copy is free and the max-norm a slow loop: there zeros are told apart by their 1-norms.
        with_max = tensors[0].device.type != "cpu" if tensors else False
        s_groups, t_groups = _by_dtype(scalars), _by_dtype(tensors)
        order = [i for idx in t_groups.values() for i in idx]  # the norms' order on the host
        with torch.no_grad():
            vectors = [_vector([scalars[i] if scalars[i].dim() == 0 else scalars[i].reshape(())
                                for i in idx]) for idx in s_groups.values()]
            for ord in (2, float("inf")) if with_max else (2,):
                vectors += [_vector(_fast_norms([tensors[i] for i in idx], ord))
                            for idx in t_groups.values()]
            host = _to_host(vectors)
        k, n = len(scalars), len(tensors)
        values = dict(zip([scalar_keys[i] for idx in s_groups.values() for i in idx]
                          + [keys[i] for i in order], host[:k + n].tolist()))
        norms, suspect, start = host[k:k + n], np.zeros(n, dtype=bool), 0
        for dt, idx in t_groups.items():
            suspect[start:start + len(idx)] = _suspects(norms[start:start + len(idx)], dt)
            start += len(idx)
        if with_max:
            suspect &= host[k + n:] != 0
        elif suspect.any():
            zero = np.flatnonzero(suspect & (norms == 0))
            if len(zero):
                with torch.no_grad():
                    suspect[zero[_all_zeros([tensors[order[j]] for j in zero])]] = False
        if suspect.any():
            redo = [order[j] for j in np.flatnonzero(suspect)]
            with torch.no_grad():
                fixed = _safe_norms([tensors[i] for i in redo])
            values.update(zip([keys[i] for i in redo], fixed.tolist()))
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
                 activations: bool = True, capture: bool = False):
        self.blocks = list(blocks)
        self.split, self.activations, self.capture = split, activations, capture
        self.caught: dict[tuple[str, str], torch.Tensor] = {}
        self.acts: dict[str, tuple[torch.Tensor, torch.Tensor, int]] = {}
        self._targets: list[tuple[tuple[str, str], torch.Tensor]] = []  # with ``capture``
        self._handles: list = []
        self._swapped: list = []  # (block, its own instance forward or None, its two taps)

    def __enter__(self) -> BlockHooks:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()

    def install(self) -> BlockHooks:
        """Hook the blocks for the next forward (what an earlier one caught is forgotten)."""
        self.caught, self.acts, self._targets = {}, {}, []
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

    def _watch(self, key: tuple[str, str], t: torch.Tensor) -> None:
        """Catch the gradient at ``t`` in the backward: a tensor hook, or with ``capture`` a
        target of :meth:`backward`'s one autograd call."""
        if self.capture:
            self._targets.append((key, t))
        else:
            t.register_hook(self._catch(key))

    def backward(self, loss: torch.Tensor, params: list[torch.Tensor]) -> None:
        """``zero_grad(set_to_none=True); loss.backward()`` for a caller that owns the backward
        (the probe). With ``capture``, one ``torch.autograd.grad`` call returns every caught
        gradient and the parameters' gradients at once, so no Python hook runs inside the
        backward (each is a call into Python, on CUDA from the autograd engine's own thread). They
        are the gradients tensor hooks would catch: the engine captures a tensor's gradient where
        a hook on it would fire. Each parameter's ``.grad`` becomes its gradient (None where it got
        none); no other leaf gets a ``.grad`` (an input that requires grad: use hooks there)."""
        if not self.capture:  # the tensor hooks catch, in a plain backward
            for p in params:
                p.grad = None
            loss.backward()
            return
        targets, self._targets = self._targets, []
        wanted = [p for p in params if p.requires_grad]
        if targets or wanted:
            grads = torch.autograd.grad(loss, [t for _, t in targets] + wanted, allow_unused=True)
        else:  # nothing to catch: autograd.grad would refuse; backward still runs (or raises)
            loss.backward()
            grads = ()
        self.caught = {k: g for (k, _), g in zip(targets, grads) if g is not None}
        got = dict(zip(map(id, wanted), grads[len(targets):]))
        for p in params:
            p.grad = got.get(id(p))

    def _on_output(self, name: str):
        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor):
                if self.activations:
                    a = out.detach()
                    # Two reductions in the tensor's dtype (a float64 sum casts: slow on CPU;
                    # std_mean is ~40x slower there); the float64 arithmetic is done on the host.
                    self.acts[name] = (a.sum(), torch.linalg.vector_norm(a), a.numel())
                if out.requires_grad:
                    self._watch(("grad", name), out)
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
            self._watch(key, alias)
        return on_alias

    def _on_path_input(self, name: str, which: str):
        # Give this path its own alias of x, so its gradient is this path's share only.
        def hook(_mod, args):
            x = args[0]
            if not (isinstance(x, torch.Tensor) and x.requires_grad):
                return None
            alias = x.view_as(x)
            self._watch((which, name), alias)
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
