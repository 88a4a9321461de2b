"""Shattered gradients (Balduzzi et al. 2017, arXiv 1702.08591): the gradient along a 1-D input
sweep and its autocorrelation, plain vs residual."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..model import build_model
from ..seeding import sub_seed
from ..spec import NetSpec, mlp
from .theory import autocorrelation

SHATTER_WIDTH = 128


def shattered_spec(depth: int, skip: bool, res_scale: float = 1.0) -> NetSpec:
    """A ReLU MLP with BatchNorm on a 1-D input (as in Balduzzi et al.'s figure 1)."""
    return mlp(depth, skip=skip, act="relu", norm="batch", width=SHATTER_WIDTH, in_features=1,
               res_scale=float(res_scale))


def input_gradient_sweep(spec: NetSpec, seed: int = 0, n_points: int = 256, lo: float = -2.0,
                         hi: float = 2.0) -> pd.DataFrame:
    """d output_0 / d x along x in [lo, hi] (``n_points`` points, input coordinate 0 swept, any
    other input coordinates fixed at a seeded random point).

    BatchNorm gets the statistics of the sweep itself (one pass in training mode), then is frozen
    (eval mode) so each point's gradient is its own and not mixed with the others' through the
    batch statistics.
    """
    model = build_model(spec, seed=seed)
    g = torch.Generator().manual_seed(sub_seed(seed, "shattered", "sweep line"))
    base = torch.randn(1, spec.in_features, generator=g).repeat(n_points, 1)
    t = torch.linspace(lo, hi, n_points)
    x = base.clone()
    x[:, 0] = t
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.momentum = None  # cumulative average: after one pass, the sweep's own statistics
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    xr = x.clone().requires_grad_(True)
    f = model(xr)[:, 0]
    (grad,) = torch.autograd.grad(f.sum(), xr)
    gv = grad[:, 0].detach().to(torch.float64).numpy()
    sd = gv.std()
    return pd.DataFrame({"x": t.numpy().astype(np.float64), "output": f.detach().to(torch.float64).numpy(),
                         "grad": gv,
                         "grad_standardised": (gv - gv.mean()) / sd if sd > 0 else np.zeros_like(gv)})


def shattered_experiment(depth: int, seed: int = 0, n_points: int = 256, res_scale: float = 1.0,
                         max_lag: int = 32) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plain and residual nets of the same depth (same body weights): the gradient along the
    sweep (long form) and its autocorrelation for lags 0..max_lag (long form)."""
    curves, acs = [], []
    for variant, skip in (("plain", False), ("residual", True)):
        d = input_gradient_sweep(shattered_spec(depth, skip, res_scale), seed=seed, n_points=n_points)
        d["variant"] = variant
        curves.append(d)
        r = autocorrelation(d["grad"].to_numpy(), max_lag)
        acs.append(pd.DataFrame({"lag": np.arange(len(r)), "autocorrelation": r, "variant": variant}))
    return pd.concat(curves, ignore_index=True), pd.concat(acs, ignore_index=True)


def shattered_depth_summary(depths, seed: int = 0, n_points: int = 256,
                            res_scale: float = 1.0) -> pd.DataFrame:
    """Lag-1 autocorrelation of the input gradient for plain and residual nets at each depth."""
    rows = []
    for d in depths:
        for variant, skip in (("plain", False), ("residual", True)):
            s = input_gradient_sweep(shattered_spec(int(d), skip, res_scale), seed=seed, n_points=n_points)
            r = autocorrelation(s["grad"].to_numpy(), 1)
            rows.append({"depth": int(d), "variant": variant, "lag1_autocorrelation": float(r[1])})
    return pd.DataFrame(rows)


