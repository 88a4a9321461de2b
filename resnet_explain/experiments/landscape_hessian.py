"""The extreme Hessian eigenvalues at a network's weights, λmax and λmin, by power iteration with
Hessian-vector products (double backward), and Li et al. 2018's ratio |λmin/λmax| (arXiv
1712.09913, sec. 6: they map it over their slices; near 0 = locally convex)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..errors import Stopped
from ..seeding import sub_seed
from .landscape_points import cross_entropy


def hessian_extremes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, iters: int = 30,
                     tol: float = 1e-3, seed: int = 0, image_batch: int = 1024,
                     criterion: Callable = cross_entropy, should_stop: Callable[[], bool] | None = None,
                     done: Callable[[int], None] | None = None) -> dict:
    """λmax and λmin of the Hessian of the mean ``criterion`` (cross-entropy) on (x, y) with respect to every
    parameter, at the model's weights, in eval mode and float32.

    Power iteration with Hessian-vector products (double backward): first on H, whose dominant
    eigenvalue at a trained minimum is λmax; then on H − λmax·I, whose dominant eigenvalue is
    λmin − λmax (a shift, so no second eigen-solver is needed). Each stops when its estimate changes by less
    than ``tol`` (relative) or after ``iters`` steps; ``converged`` says which."""
    names = [k for k, _ in model.named_parameters()]
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    bufs = {k: v.detach() for k, v in model.named_buffers()}
    was_training = model.training
    model.eval()
    n = len(x)
    chunks = [(i, min(n, i + image_batch)) for i in range(0, n, image_batch)]
    kept = {}

    def grads(i0, i1):
        out = functional_call(model, ({**params}, bufs), (x[i0:i1],))
        loss = criterion(out, y[i0:i1]).sum() / n
        return torch.autograd.grad(loss, [params[k] for k in names], create_graph=True)

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:
        total = [torch.zeros_like(t) for t in v]
        for i0, i1 in chunks:
            g = kept.get(i0) if len(chunks) == 1 else None
            if g is None:
                g = grads(i0, i1)
                if len(chunks) == 1:
                    kept[i0] = g
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            hv = torch.autograd.grad(dot, [params[k] for k in names], retain_graph=len(chunks) == 1)
            total = [a + b.detach() for a, b in zip(total, hv)]
        return total

    def power(shift: float) -> tuple[float, int, bool]:
        g = torch.Generator().manual_seed(sub_seed(seed, "landscape", "power", shift != 0.0))
        v = [torch.randn(params[k].shape, generator=g).to(params[k]) for k in names]
        norm = torch.sqrt(sum((t * t).sum() for t in v))
        v = [t / norm for t in v]
        lam, prev = 0.0, None
        for it in range(1, int(iters) + 1):
            if should_stop is not None and should_stop():
                raise Stopped()
            hv = hvp(v)
            if shift:
                hv = [a - shift * b for a, b in zip(hv, v)]
            lam = float(sum((a * b).sum() for a, b in zip(hv, v)))
            norm = torch.sqrt(sum((t * t).sum() for t in hv))
            if done is not None:
                done(1)
            if not math.isfinite(lam) or float(norm) == 0.0:
                return lam, it, False
            v = [t / norm for t in hv]
            if prev is not None and abs(lam - prev) <= tol * max(abs(lam), 1e-12):
                return lam, it, True
            prev = lam
        return lam, int(iters), False

    try:
        with torch.enable_grad():
            lmax, it1, ok1 = power(0.0)
            mu, it2, ok2 = power(lmax)
    finally:
        model.train(was_training)
    lmin = mu + lmax
    # μ = λmin − λmax is known to tol·|μ| at best, so λmin only to about tol·|λmax|: below that
    # it cannot be told from 0 by this method.
    precision = float(tol) * abs(mu)
    return {"lambda_max": lmax, "lambda_min": lmin, "lambda_min_precision": precision,
            "lambda_min_resolved": bool(abs(lmin) > precision),
            "ratio": abs(lmin / lmax) if lmax else float("nan"),
            "hessian_iters": it1 + it2, "hessian_converged": bool(ok1 and ok2)}
