"""The numbers of one gradient measurement (:class:`Norms`): tensors' 2-norms and 0-dim scalars,
reduced on the device and copied to the host once, as float64.

Every norm is reduced on the device in one fused call per dtype (``torch._foreach_norm``), stacked
with the other scalars of the measurement and copied to the host once, with each tensor's largest
entry: no per-tensor ``.item()``. A norm small enough that its squares may have underflowed (or one
that overflowed), of a tensor that is not all zeros, is measured again with scaling by the largest
entry (:func:`safe_norm`) — a second copy, only then — so a gradient of 1e-41 still gets its
value; a gradient that is exactly 0 in float32 stays 0 (:mod:`resnet_explain.magnitude` shows it
as underflow), never dropped. The hooks that catch what is measured are
:mod:`resnet_explain.measurement`'s.

On a CPU a reduction is dispatched tensor by tensor (``_foreach_norm`` loops there), ~1.3 µs each
however small the tensor: tensors of a few hundred entries (BatchNorm parameters, a launch-bound
step's block gradients) are instead copied side by side in one flatten and summed in float64 on
the host (:func:`_host_norms`; ResNet-56 at batch 1: 276 tensors in 0.18 ms instead of 0.37). The
squares of float32 (or narrower) entries can neither underflow nor overflow in float64, so those
norms need no rescue: a gradient of 1e-41 comes out as it is, zeros as 0, NaN and Inf as
:func:`safe_norm` gives them. Their last bits can differ from a float32 sum's (float64 is the
more exact of the two).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

import numpy as np
import torch

_F64 = torch.float64
_LOW_PRECISION = (torch.bfloat16, torch.float16)  # norms of these accumulate in float32
_HOST_SUMMED = (torch.float32,) + _LOW_PRECISION  # squares exact-range in float64 (_host_norms)
# Entries: a CPU tensor up to this size is summed on the host (a norm's break-even against its
# reduction, measured on ResNet-56's tensors; a sum and a norm together break even later).
_HOST_MAX, _HOST_MAX_MOMENTS = 512, 2048


def on_host(device: torch.device) -> bool:
    """Whether a device's numbers live in host memory (a CPU): reading one there is no copy and no
    wait, and a reduction is a loop of dispatches, so a measurement makes its CPU-only choices
    (small tensors summed on the host, big gradients reduced as they arrive, zeros told apart by
    their 1-norms) where this says so, and a GPU's everywhere else. Every such choice asks here:
    tests/unit/test_gpu_paths.py makes it say False to run a GPU's path on a CPU."""
    return device.type == "cpu"


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


def norm_now(t: torch.Tensor) -> float:
    """||t||_2 of a CPU tensor, at once (a CPU's numbers are on the host: reading one is no copy
    and no wait): the plain norm, or :func:`safe_norm`'s where the plain one may be wrong
    (:func:`_suspects`: underflowed, overflowed, or NaN/Inf, which safe_norm then reports)."""
    plain = torch.linalg.vector_norm(t, dtype=torch.float32 if t.dtype in _LOW_PRECISION else None)
    value = plain.numpy().astype(np.float64).reshape(1)
    if _suspects(value, t.dtype)[0]:
        value = safe_norm(t).numpy().reshape(1)
    return float(value[0])


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
    """The numbers of one measurement: tensors whose 2-norms to take (:meth:`norm`), 0-dim
    scalars to read as they are (:meth:`scalar`) and tensors whose sum and 2-norm to take
    (:meth:`moments`), each under a key. :meth:`read` reduces them on the device, copies them to
    the host once (twice if a norm needs rescuing, see the module docstring) and returns
    ``{key: float}``."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._keys: list[Hashable] = []
        self._tensors: list[torch.Tensor] = []
        self._scalar_keys: list[Hashable] = []
        self._scalars: list[torch.Tensor] = []
        self._moments: list[tuple[Hashable, Hashable, torch.Tensor]] = []
        self._values: dict[Hashable, float] = {}

    def norm(self, key: Hashable, tensor: torch.Tensor) -> None:
        self._keys.append(key)
        self._tensors.append(tensor)

    def norms(self, items: Iterable[tuple[Hashable, torch.Tensor]]) -> None:
        for key, tensor in items:
            self._keys.append(key)
            self._tensors.append(tensor)

    def scalar(self, key: Hashable, value: torch.Tensor) -> None:
        self._scalar_keys.append(key)
        self._scalars.append(value)

    def value(self, key: Hashable, value: float) -> None:
        """A number already on the host (a norm taken as its gradient arrived: :func:`norm_now`)."""
        self._values[key] = value

    def moments(self, sum_key: Hashable, norm_key: Hashable, tensor: torch.Tensor) -> None:
        """The sum of ``tensor``'s entries under ``sum_key`` and its 2-norm under ``norm_key``
        (an activation's mean and std follow from them and its size)."""
        self._moments.append((sum_key, norm_key, tensor))

    def read(self) -> dict[Hashable, float]:
        """Every norm and scalar as a float (float64 on the host); the tensors are let go."""
        keys, tensors, scalar_keys, scalars = self._keys, self._tensors, self._scalar_keys, self._scalars
        moments, on_host = self._moments, self._values
        self._reset()
        with torch.no_grad():
            if moments:  # a reduction or two each, or a few tensors' worth on the host
                sizes = _host_sizes([t for _, _, t in moments], _HOST_MAX_MOMENTS)
                few = [i for i, n in enumerate(sizes) if n]
                for i in (i for i, n in enumerate(sizes) if not n):
                    sum_key, norm_key, t = moments[i]
                    scalar_keys.append(sum_key)
                    scalars.append(t.sum())
                    keys.append(norm_key)
                    tensors.append(t)
                if few:
                    sums, norms = _host_moments([moments[i][2] for i in few], [sizes[i] for i in few])
                    on_host.update(zip([moments[i][0] for i in few], sums.tolist()))
                    on_host.update(zip([moments[i][1] for i in few], norms.tolist()))
            # On a CPU, a tensor of few entries costs more to reduce alone (a dispatched
            # reduction each) than to copy: those are summed together on the host.
            sizes = _host_sizes(tensors, _HOST_MAX)
            small = [i for i, n in enumerate(sizes) if n]
            if small:
                on_host.update(zip([keys[i] for i in small], _host_norms(
                    [tensors[i] for i in small], [sizes[i] for i in small]).tolist()))
                rest = [i for i, n in enumerate(sizes) if not n]
                keys, tensors = [keys[i] for i in rest], [tensors[i] for i in rest]
        values = _device_values(keys, tensors, scalar_keys, scalars)
        values.update(on_host)
        return values


def _host_sizes(tensors: list[torch.Tensor], most: int) -> list[int]:
    """Per tensor, its number of entries where it is summed on the host, else 0: on a CPU (the
    first tensor's device: one measurement's tensors share it), tensors of float32 or narrower
    entries, up to ``most`` of them (an empty one is reduced as it is: a sum of nothing)."""
    if not tensors or not on_host(tensors[0].device):
        return [0] * len(tensors)
    summed = _HOST_SUMMED
    sizes = [t.numel() if t.dtype in summed else 0 for t in tensors]
    return [n if n <= most else 0 for n in sizes]


def _host_moments(tensors: list[torch.Tensor], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Sums and 2-norms of CPU tensors of float32 (or narrower) entries (``sizes`` of them), in
    float64 on the host (as :func:`_host_norms`): one flatten, three numpy passes."""
    host = np.asarray(_flat(tensors), dtype=np.float64)
    starts = np.cumsum([0] + sizes[:-1])
    return np.add.reduceat(host, starts), np.sqrt(np.add.reduceat(host * host, starts))


def _host_norms(tensors: list[torch.Tensor], sizes: list[int]) -> np.ndarray:
    """2-norms of CPU tensors of float32 (or narrower) entries (``sizes`` of them), summed in
    float64 on the host: one flatten (a C++ loop of copies) and two numpy calls, where a
    reduction per tensor costs more in dispatch than these small tensors' copy. The squares of
    such entries neither underflow nor overflow in float64, so no norm needs rescuing (NaN and
    Inf come out as safe_norm's)."""
    starts = np.cumsum([0] + sizes[:-1])
    return np.sqrt(np.add.reduceat(np.square(_flat(tensors), dtype=np.float64), starts))


def _flat(tensors: list[torch.Tensor]) -> np.ndarray:
    """CPU tensors' entries side by side, as float32 on the host (bfloat16/float16 widened: exact)."""
    flat = torch._utils._flatten_dense_tensors(tensors)
    return (flat if flat.dtype == torch.float32 else flat.float()).numpy()


def _device_values(keys: list[Hashable], tensors: list[torch.Tensor], scalar_keys: list[Hashable],
                   scalars: list[torch.Tensor]) -> dict[Hashable, float]:
    """The norms (reduced on the tensors' device) and scalars as floats, in one copy, and a
    second only where a norm needs rescuing."""
    # On a GPU the largest entries come in the same copy: a tensor of zeros (a BatchNorm
    # bias at initialisation) then needs no rescue, and no second copy (a sync). On a CPU a
    # copy is free and the max-norm a slow loop: there zeros are told apart by their 1-norms.
    with_max = not on_host(tensors[0].device) if tensors else False
    if not tensors and not scalars:
        return {}
    s_groups, t_groups = _by_dtype(scalars), _by_dtype(tensors)
    order = [i for idx in t_groups.values() for i in idx]  # the norms' order on the host
    with torch.no_grad():
        vectors = [_vector([scalars[i] if scalars[i].dim() == 0 else scalars[i].reshape(())
                            for i in idx]) for idx in s_groups.values()]
        vectors += [_vector(_fast_norms([tensors[i] for i in idx])) for idx in t_groups.values()]
        if with_max:  # an empty tensor has no largest entry (the fused call refuses it): 0
            vectors += [_vector(_fast_norms([t if t.numel() else t.new_zeros(1) for t in
                                             (tensors[i] for i in idx)], float("inf")))
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
