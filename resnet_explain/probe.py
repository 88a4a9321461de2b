"""The gradient probe: one forward + backward pass, measured per block, as tidy DataFrames.

For each block output x_l it records ||dL/dx_l||, the forward activation mean/std, and for a
residual block y = act(s), s = F(x) + S(x) (S the shortcut, identity or projection), the split of
the backward signal reaching x:

    dL/dx = S'(x)^T g  +  J_F(x)^T g,     g = dL/ds
            identity term   residual-branch term

In a gated block, s = (1 - g(x)) S(x) + g(x) F(x) (Highway's carry and transform), the identity
term is the carry path's share, the residual term the transform path's, and ``gate_norm`` the share
that flows back through the gate g(x) itself. In a dense block (s = concat(x, F(x))) the identity
term is the gradient the concatenation hands straight to x.

Everything is reduced on the device in one fused call and copied to the host once, at the end (one
sync per probe, no per-layer ``.item()``). A norm small enough that its squares may have
underflowed (or one that overflowed) is measured again with scaling by the largest entry
(``safe_norm``) — a second copy, only then — so a gradient of 1e-41 still gets its value; a
gradient that is exactly 0 in float32 is flagged, never dropped.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .block_select import select_blocks
from .device import timed
from .magnitude import log10
from .model import build_model, make_batch
from .seeding import sub_seed

_F64 = torch.float64


@dataclass
class ProbeResult:
    blocks: pd.DataFrame  # one row per block, input -> output
    params: pd.DataFrame  # one row per parameter tensor
    meta: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """||dL/dx_first|| / ||dL/dx_last||: <1 means gradients shrink toward the input."""
        return ratio_of(self.blocks["grad_norm"].to_numpy())

    @property
    def log10_ratio(self) -> float:
        g = self.blocks["grad_norm"].to_numpy()
        if len(g) == 0 or not (g[0] > 0 and g[-1] > 0) or not np.isfinite(g[[0, -1]]).all():
            return float("nan")
        return float(np.log10(g[0]) - np.log10(g[-1]))


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


def _safe_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """:func:`safe_norm` of many tensors at once, as one float64 vector: the same scaling by the
    largest entry, in a few fused calls (``_foreach_*``) instead of ~10 kernels per tensor."""
    out = torch.empty(len(tensors), dtype=_F64, device=tensors[0].device)
    for dt in {t.dtype for t in tensors}:
        idx = [i for i, t in enumerate(tensors) if t.dtype == dt]
        group = [tensors[i].detach() for i in idx]
        amax = torch.stack(torch._foreach_norm(group, ord=float("inf")))
        scale = torch.where((amax > 0) & torch.isfinite(amax), amax, torch.ones_like(amax))
        scaled = torch._foreach_div(group, list(scale.unbind()))
        out[idx] = torch.stack(torch._foreach_norm(scaled)).to(_F64) * scale.to(_F64)
    return out


def _fast_norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Plain 2-norms of many tensors in one fused call, grouped by dtype (no host sync)."""
    out: list = [None] * len(tensors)
    for dt in {t.dtype for t in tensors}:
        idx = [i for i, t in enumerate(tensors) if t.dtype == dt]
        for i, v in zip(idx, torch._foreach_norm([tensors[i] for i in idx])):
            out[i] = v
    return out


def _suspect(norm: float, dtype: torch.dtype) -> bool:
    """True when a plain norm may be wrong because squares left the dtype's range: it is tiny
    (squares of entries below sqrt(tiny) underflow) or not finite (squares overflowed, or the
    tensor really holds NaN/Inf, which safe_norm then reports as such)."""
    tiny = float(torch.finfo(dtype).tiny) if dtype.is_floating_point else 0.0
    return not math.isfinite(norm) or norm < math.sqrt(tiny) * 1e3


def _sum_norm(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The two reductions an activation's mean and std need, in the tensor's dtype (a float64
    sum casts: slow on CPU; std_mean is ~40x slower there): two kernels per block; the float64
    arithmetic is done on the host, for all blocks at once (:func:`_mean_std_host`)."""
    return t.sum(), torch.linalg.vector_norm(t), t.numel()


def _stack_f64(scalars: list[torch.Tensor]) -> torch.Tensor:
    """0-dim tensors -> one float64 vector: one stack and one cast per dtype present (on CUDA a
    cast per scalar would be a kernel launch each)."""
    groups: dict = {}
    for i, t in enumerate(scalars):
        groups.setdefault(t.dtype, []).append(i)
    if len(groups) == 1:
        return torch.stack(scalars).to(_F64)
    out = torch.empty(len(scalars), dtype=_F64, device=scalars[0].device)
    for idx in groups.values():
        out[idx] = torch.stack([scalars[i] for i in idx]).to(_F64)
    return out


def _mean_std_host(sums: np.ndarray, norms: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and (unbiased) stds from sums, 2-norms and element counts, in float64."""
    mean = sums / n
    var = np.clip(norms * norms - n * mean * mean, 0, None) / np.maximum(n - 1, 1)
    return mean, np.sqrt(var)


def ratio_of(grad_norms) -> float:
    g = np.asarray(grad_norms, dtype=np.float64)
    if len(g) == 0 or g[-1] == 0 or not np.isfinite(g[-1]):
        return float("nan")
    return float(g[0] / g[-1])



def _stage_of(name: str) -> str:
    return name.split(".")[0] if "." in name else name


def probe(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
          loss_fn=None, train: bool = True, blocks=None,
          dtype: torch.dtype | None = None) -> ProbeResult:
    """Run one forward + backward pass and measure every block.

    ``blocks`` chooses the block boundaries (:func:`resnet_explain.block_select.select_blocks`):
    None for :func:`~resnet_explain.model.find_blocks` (our models, and ``*Block`` modules of
    others), a module type or tuple of types, a name glob (``"layer*.*"``) or ``"re:"`` regex, a
    nesting depth (int), a predicate, or a list of ``(name, module)`` pairs. A selection that
    matches nothing raises :class:`~resnet_explain.block_select.NoBlocksFound` (a UserError).

    ``train=True`` uses batch statistics in BatchNorm, as during training (running statistics are
    updated, as a training step would). Parameter ``.grad`` is reset first and left filled.
    ``dtype=torch.float64`` runs a float64 copy of the model (the original is untouched).
    """
    if dtype is not None:
        model = copy.deepcopy(model).to(dtype=dtype)
        inputs = inputs.to(dtype) if inputs.is_floating_point() else inputs
    device = next(model.parameters()).device
    inputs, targets = inputs.to(device), targets.to(device)
    loss_fn = loss_fn or F.cross_entropy
    blocks = select_blocks(model, blocks)
    names = [n for n, _ in blocks]

    grad: dict[str, torch.Tensor] = {}  # name -> the gradient at the block output (kept to the end)
    fwd: dict[str, tuple[torch.Tensor, torch.Tensor, int]] = {}  # name -> (sum, norm, numel)
    term: dict[tuple[str, str], torch.Tensor] = {}
    handles = []

    def _norm_hook(store, key):
        def hook(g):
            store[key] = g.detach()  # reduced after backward, all at once (one fused call)
        return hook

    def _out_hook(name):
        def hook(mod, _inp, out):
            if isinstance(out, torch.Tensor):
                fwd[name] = _sum_norm(out.detach())
                if out.requires_grad:
                    out.register_hook(_norm_hook(grad, name))
        return hook

    def _alias_hook(name, which):
        # Give this path its own alias of x, so its gradient is this path's share only.
        def hook(mod, args):
            x = args[0]
            if not (isinstance(x, torch.Tensor) and x.requires_grad):
                return None
            alias = x.view_as(x)
            alias.register_hook(_norm_hook(term, (name, which)))
            return (alias,) + tuple(args[1:])
        return hook

    for name, mod in blocks:
        handles.append(mod.register_forward_hook(_out_hook(name)))
        body, sc = getattr(mod, "body", None), getattr(mod, "shortcut", None)
        if isinstance(body, nn.Module) and isinstance(sc, nn.Module):
            handles.append(body.register_forward_pre_hook(_alias_hook(name, "residual")))
            handles.append(sc.register_forward_pre_hook(_alias_hook(name, "identity")))
            gate = getattr(mod, "gate", None)
            if isinstance(gate, nn.Module):  # a gated block's third path back to x: through g(x)
                handles.append(gate.register_forward_pre_hook(_alias_hook(name, "gate")))

    was_training = model.training
    model.train(train)
    model.zero_grad(set_to_none=True)
    try:
        with timed(device) as t:
            out = model(inputs)
            loss = loss_fn(out, targets)
            loss.backward()
            pnames, pgrads, pvals = [], [], []
            for n, p in model.named_parameters():
                pnames.append(n)
                pvals.append(p.detach())
                pgrads.append(p.grad if p.grad is not None else torch.zeros_like(p))
            # Every norm in one fused call, then one gather and one copy to the host.
            keys: list = []
            tensors: list[torch.Tensor] = []
            for n in names:
                for key, tensor in ((("grad", n), grad.get(n)),
                                    (("identity", n), term.get((n, "identity"))),
                                    (("residual", n), term.get((n, "residual"))),
                                    (("gate", n), term.get((n, "gate")))):
                    if tensor is not None:
                        keys.append(key)
                        tensors.append(tensor)
            for i, (g, v) in enumerate(zip(pgrads, pvals)):
                keys += [("pgrad", i), ("pnorm", i)]
                tensors += [g, v]
            # A few kernels for all the scalars (not one cast per scalar: on CUDA each is a
            # launch), then one copy to the host; the activations' float64 mean/std arithmetic
            # is done there.
            have = [n for n in names if n in fwd]
            parts = [loss.detach()] + _fast_norms(tensors)
            parts += [fwd[n][0] for n in have] + [fwd[n][1] for n in have]
            host = _stack_f64([p.reshape(()) for p in parts]).cpu().numpy()
            index: dict = {key: 1 + j for j, key in enumerate(keys)}
            if have:
                k0 = 1 + len(keys)
                counts = np.array([fwd[n][2] for n in have], dtype=np.float64)
                mean, std = _mean_std_host(host[k0:k0 + len(have)], host[k0 + len(have):k0 + 2 * len(have)],
                                           counts)
                index.update({("mean", n): len(host) + i for i, n in enumerate(have)})
                index.update({("std", n): len(host) + len(have) + i for i, n in enumerate(have)})
                host = np.concatenate([host, mean, std])
            # Norms whose squares may have under- or overflowed the tensor's dtype are measured
            # again with scaling: a second host copy, only in that (rare, tiny-network) case.
            redo = [j for j, key in enumerate(keys) if _suspect(host[index[key]], tensors[j].dtype)]
            if redo:
                fixed = _safe_norms([tensors[j] for j in redo]).cpu().numpy()
                for j, v in zip(redo, fixed):
                    host[index[keys[j]]] = v
            del tensors
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    def get(key):
        return float(host[index[key]]) if key in index else float("nan")

    rows = []
    for pos, (n, mod) in enumerate(blocks):
        g = get(("grad", n))
        spec = getattr(mod, "spec", None)
        rows.append({
            "position": pos, "block": n, "stage": _stage_of(n),
            "kind": getattr(spec, "kind", type(mod).__name__),
            "skip": bool(getattr(mod, "shortcut", None) is not None),
            "width": getattr(spec, "width", np.nan), "stride": getattr(spec, "stride", np.nan),
            "grad_norm": g, "log10_grad_norm": log10(g),
            "underflow": bool(g == 0.0), "has_nan": bool(math.isnan(g)) and ("grad", n) in index,
            "has_inf": bool(math.isinf(g)),
            "identity_norm": get(("identity", n)), "residual_norm": get(("residual", n)),
            "gate_norm": get(("gate", n)),
            "act_mean": get(("mean", n)), "act_std": get(("std", n)),
        })
    bdf = pd.DataFrame(rows)
    if len(bdf):
        last = bdf["grad_norm"].iloc[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            bdf["grad_rel_last"] = bdf["grad_norm"] / last if last else np.nan
        bdf["log10_identity_norm"] = bdf["identity_norm"].map(log10)
        bdf["log10_residual_norm"] = bdf["residual_norm"].map(log10)

    owners = _owners(pnames, names)
    prow = []
    for i, n in enumerate(pnames):
        gv = get(("pgrad", i))
        prow.append({"param": n, "block": owners[i], "shape": "x".join(map(str, pvals[i].shape)),
                     "numel": int(pvals[i].numel()), "grad_norm": gv, "log10_grad_norm": log10(gv),
                     "weight_norm": get(("pnorm", i)), "underflow": bool(gv == 0.0),
                     "has_nan": bool(math.isnan(gv)), "has_inf": bool(math.isinf(gv))})
    pdf = pd.DataFrame(prow)
    meta = {"device": device.type, "dtype": str(inputs.dtype).replace("torch.", ""),
            "seconds": t.seconds, "loss": float(host[0]), "batch": int(inputs.shape[0]),
            "n_params": int(sum(v.numel() for v in pvals)), "train_mode": train}
    return ProbeResult(bdf, pdf, meta)



def _owners(pnames: list[str], block_names: list[str]) -> list[str]:
    out = []
    for p in pnames:
        owner = p.split(".")[0]
        for b in block_names:
            if p.startswith(b + "."):
                owner = b
                break
        out.append(owner)
    return out


def first_nonfinite(result: ProbeResult | pd.DataFrame) -> str | None:
    """Name of the first block (from the input) whose output gradient is NaN or Inf. Takes a
    ProbeResult or its blocks table."""
    blocks = result.blocks if isinstance(result, ProbeResult) else result
    bad = blocks[blocks["has_nan"] | blocks["has_inf"]]
    return None if bad.empty else str(bad["block"].iloc[0])


def probe_spec(spec, seed: int = 0, batch: int = 32, device=None, dtype=None,
               train: bool = True) -> ProbeResult:
    """Build ``spec`` with ``seed``, make a seeded batch and probe it (the CLI's and pages' path)."""
    model = build_model(spec, seed=seed, device=device, dtype=dtype)
    x, y = make_batch(spec, batch=batch, seed=seed, device=device, dtype=dtype)
    # Stochastic depth and a dropout shortcut draw masks in a training step: from a generator
    # seeded here, so the same spec and seed give the same numbers (the caller's RNG is restored).
    dev = x.device
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(sub_seed(seed, "probe"))
        res = probe(model, x, y, train=train)
    res.meta["seed"] = seed
    res.meta["spec"] = spec.to_query()
    return res
