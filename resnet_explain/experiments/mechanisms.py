"""Why deep plain nets fail, measured on one model and one batch: three measurements that need
only a forward (and, for the first, one backward), each a tidy DataFrame, one row per block.

* :func:`gradient_correlations` — shattered gradients (Balduzzi et al. 2017, arXiv 1702.08591):
  ∂f/∂x at inputs along a line between two images, and the Pearson correlation of the gradients
  of points ``lag`` steps apart. White noise would give r ≈ 0 at every lag > 0.
* :func:`branch_shares` — the residual branch's share (De & Smith 2020, arXiv 2002.10444):
  ‖F(x)‖/‖S(x)‖ and ‖F(x)‖/‖x‖ per block, F the branch (``block.body``), S the shortcut.
* :func:`signal_propagation` — Brock et al. 2021 (arXiv 2101.08692)'s signal propagation plot:
  per block output, the average over channels of the channel's squared mean (mean²) and of its
  variance, taken over batch and positions.

A freshly built model's BatchNorm layers hold running statistics of 0 and 1; :func:`calibrate`
gives them a batch's own statistics (one pass in training mode), then every measurement runs in
eval mode, so each input's numbers are its own (as :mod:`.shattered` does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..model import find_blocks

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def calibrate(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give every BatchNorm layer the statistics of the batch ``x`` (a cumulative average over one
    pass in training mode), then put the model in eval mode. Returns the model."""
    for m in model.modules():
        if isinstance(m, _BN):
            m.momentum = None  # cumulative average: after one pass, exactly this batch's statistics
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def _positions(model: nn.Module) -> list[tuple[int, str, nn.Module]]:
    return [(i, name, mod) for i, (name, mod) in enumerate(find_blocks(model))]


# ---- shattered gradients -------------------------------------------------------------------
def line_inputs(x0: torch.Tensor, x1: torch.Tensor, n_points: int) -> torch.Tensor:
    """``n_points`` inputs on the segment from ``x0`` to ``x1`` (both included), as a batch."""
    t = torch.linspace(0.0, 1.0, n_points, dtype=x0.dtype).view(-1, *([1] * x0.dim()))
    return x0.unsqueeze(0) + t * (x1 - x0).unsqueeze(0)


def input_gradients(model: nn.Module, x: torch.Tensor, output: int) -> torch.Tensor:
    """∂f/∂x of the model's output unit ``output`` at every input of the batch ``x`` (eval mode:
    each input's gradient is its own), flattened to (N, D)."""
    xr = x.detach().clone().requires_grad_(True)
    f = model(xr)[:, int(output)]
    (g,) = torch.autograd.grad(f.sum(), xr)
    return g.reshape(g.shape[0], -1).detach()


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation of two (N, D) tensors, in float64 (NaN where a row is
    constant)."""
    a = a.to(torch.float64)
    b = b.to(torch.float64)
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    den = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1)
    num = (a * b).sum(dim=1)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.full_like(den, float("nan")))


def lag_correlations(grads: torch.Tensor, max_lag: int) -> np.ndarray:
    """Mean Pearson correlation between the gradients of points ``k`` steps apart on one line,
    k = 0..max_lag (``grads``: (n_points, D), in line order)."""
    n = grads.shape[0]
    out = [1.0 if k == 0 else float(torch.nanmean(pearson(grads[: n - k], grads[k:])))
           for k in range(min(int(max_lag), n - 1) + 1)]
    return np.array(out, dtype=np.float64)


def gradient_correlations(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                          n_lines: int = 8, n_points: int = 64, max_lag: int = 16) -> pd.DataFrame:
    """Lines from image 2i to image 2i+1 (``n_lines`` of them, ``n_points`` each); on each, ∂f/∂x
    of the logit of the first image's class, and the correlation of gradients ``lag`` steps apart
    (one step is 1/(n_points − 1) of the distance between the two images). One row per lag: the
    mean over lines and its spread (min, max)."""
    per_line = []
    for i in range(int(n_lines)):
        x = line_inputs(images[2 * i], images[2 * i + 1], n_points)
        per_line.append(lag_correlations(input_gradients(model, x, int(labels[2 * i])), max_lag))
    r = np.stack(per_line)
    return pd.DataFrame({"lag": np.arange(r.shape[1]), "correlation": r.mean(axis=0),
                         "low": r.min(axis=0), "high": r.max(axis=0)})


# ---- forward hooks: the branch's share and the signal ------------------------------------------
def _norms_per_example(t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(t.detach().to(torch.float64).reshape(t.shape[0], -1), dim=1)


def branch_shares(model: nn.Module, x: torch.Tensor) -> pd.DataFrame:
    """Per block: ‖F(x)‖/‖S(x)‖ and ‖F(x)‖/‖x‖, each the median over the batch of one example's
    ratio (F the branch's output, S the shortcut's, x the block's input). A block without a
    shortcut (a plain block) has no S: its ``share`` is NaN."""
    caught: dict[tuple[str, str], torch.Tensor] = {}
    handles = []

    def keep(key):
        def hook(_m, inp, out):
            caught[(key, "x")] = _norms_per_example(inp[0])
            caught[(key, "out")] = _norms_per_example(out)
        return hook

    blocks = _positions(model)
    for _i, name, mod in blocks:
        handles.append(mod.body.register_forward_hook(keep((name, "F"))))
        if getattr(mod, "shortcut", None) is not None:
            handles.append(mod.shortcut.register_forward_hook(keep((name, "S"))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for i, name, _mod in blocks:
        f, xin = caught[((name, "F"), "out")], caught[((name, "F"), "x")]
        s = caught.get(((name, "S"), "out"))
        share = float("nan") if s is None else float(torch.median(f / s))
        rows.append({"block": name, "position": i, "share": share,
                     "share_of_input": float(torch.median(f / xin))})
    return pd.DataFrame(rows)


def channel_moments(t: torch.Tensor) -> tuple[float, float]:
    """(average channel squared mean, average channel variance) of an (N, C, ...) activation,
    each channel's moments over the batch and positions (biased variance), in float64."""
    a = t.detach().to(torch.float64).transpose(0, 1).reshape(t.shape[1], -1)
    return float((a.mean(dim=1) ** 2).mean()), float(a.var(dim=1, unbiased=False).mean())


def signal_propagation(model: nn.Module, x: torch.Tensor) -> pd.DataFrame:
    """Per block output: mean² and variance (:func:`channel_moments`) — Brock et al. 2021's
    signal propagation plot."""
    rows, handles = [], []
    for i, name, mod in _positions(model):
        def hook(_m, _inp, out, i=i, name=name):
            m2, var = channel_moments(out)
            rows.append({"block": name, "position": i, "mean_sq": m2, "variance": var})
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return pd.DataFrame(rows).sort_values("position").reset_index(drop=True)
