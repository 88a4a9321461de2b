"""Vanishing gradients, measured: the first/last block gradient ratio of MLPs over depth, in
float32 and float64, next to 0.25^L and 0.3^L, and over activations and inits.

Each function builds its own networks from a NetSpec and a seed (models never leave the
function), so a page can cache the result by its hashable arguments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .. import magnitude
from ..magnitude import log10
from ..probe import probe_spec, ratio_of
from ..spec import NetSpec, mlp
from ..spec.kinds import acts_crossed
from .theory import SIGMOID_MAX_SLOPE, power_curve, relu_layer_gain

SWEEP_BATCH = 32  # the same batch as the Gradient Flow page, so numbers match it
SWEEP_WIDTH = 64  # the mlp presets' width


def layers_crossed(spec: NetSpec) -> int:
    """Activation layers between the first block's output and the last block's output: what the
    first/last gradient ratio is a product over (depth − 4 for our two-layer mlp blocks)."""
    return int(sum(acts_crossed(b.kind) for b in spec.blocks[1:]))


# ---------------------------------------------------------------------------------------------
# Vanishing gradients: depth sweeps
# ---------------------------------------------------------------------------------------------
def ratio_row(spec: NetSpec, seed: int = 0, batch: int = SWEEP_BATCH, float64: bool = False) -> dict:
    """Probe ``spec`` once; the first and last block's gradient norms and their ratio."""
    res = probe_spec(spec, seed=seed, batch=batch, dtype=torch.float64 if float64 else None)
    g = res.blocks["grad_norm"].to_numpy()
    first, last = float(g[0]), float(g[-1])
    return {"depth": spec.depth, "blocks": spec.n_blocks, "layers_crossed": layers_crossed(spec),
            "first_grad": first, "last_grad": last, "ratio": ratio_of(g),
            "log10_ratio": log10(first) - log10(last) if last > 0 else float("nan"),
            "underflow": bool(first == 0.0), "nonfinite": bool(not np.isfinite(g).all()),
            "dtype": "float64" if float64 else "float32", "spec": spec.to_query()}


def depth_sweep(depths, act: str = "sigmoid", skip: bool = False, seed: int = 0,
                width: int = SWEEP_WIDTH, batch: int = SWEEP_BATCH, init: str = "default",
                norm: str = "none", kind: str = "preact", float64: bool = False) -> pd.DataFrame:
    """One row per depth: the first/last block gradient ratio of ``mlp(depth, ...)``."""
    rows = []
    for d in depths:
        spec = mlp(int(d), skip=skip, width=width, act=act, norm=norm, kind=kind, init=init)
        row = ratio_row(spec, seed=seed, batch=batch, float64=float64)
        row.update(act=act, init=init, skip=skip, variant="residual" if skip else "plain")
        rows.append(row)
    return pd.DataFrame(rows)


def vanishing_table(depths, act: str = "sigmoid", seed: int = 0, width: int = SWEEP_WIDTH,
                    batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Plain ``act`` MLPs over ``depths``: measured ratio in float32 and float64, beside 0.25^L and
    0.3^L with L = layers crossed (all log10 in float64, so nothing is lost to underflow)."""
    f32 = depth_sweep(depths, act=act, seed=seed, width=width, batch=batch)
    f64 = depth_sweep(depths, act=act, seed=seed, width=width, batch=batch, float64=True)
    out = f32[["depth", "blocks", "layers_crossed", "first_grad", "last_grad", "ratio", "log10_ratio",
               "underflow", "spec"]].rename(columns={"first_grad": "first_grad32", "last_grad": "last_grad32",
                                                     "ratio": "ratio32", "log10_ratio": "log10_ratio32",
                                                     "underflow": "underflow32"})
    out["ratio64"] = f64["ratio"].to_numpy()
    out["log10_ratio64"] = f64["log10_ratio"].to_numpy()
    L = out["layers_crossed"].to_numpy(dtype=np.float64)
    out["log10_bound_025"] = L * math.log10(0.25)
    out["log10_bound_03"] = L * math.log10(0.3)
    out["bound_025_float32"] = np.power(np.float32(0.25), L.astype(np.float32)).astype(np.float64)
    out["bound_025_underflow32"] = out["bound_025_float32"] == 0
    return out


def vanishing_long(table: pd.DataFrame) -> pd.DataFrame:
    """Long form for the vanishing chart: series, depth, log10 value, status. Underflow rows are
    kept and drawn at a floor below the lowest finite value, with their status."""
    series = [("measured, float32", "log10_ratio32"), ("measured, float64", "log10_ratio64"),
              ("0.25^L (σ′ ≤ 1/4 per layer)", "log10_bound_025"), ("0.3^L", "log10_bound_03")]
    parts = []
    for name, col in series:
        d = table[["depth", "layers_crossed"]].copy()
        d["series"] = name
        d["log10"] = table[col].to_numpy()
        if col == "log10_ratio32":
            d["status"] = magnitude.statuses(table["ratio32"])
            d["value_text"] = [magnitude.value_text(r) for r in table["ratio32"]]
        else:
            d["status"] = magnitude.MEASURED if col == "log10_ratio64" else "theory"
            d["value_text"] = [f"1e{v:.1f}" if np.isfinite(v) else "NaN" for v in d["log10"]]
        parts.append(d)
    long = pd.concat(parts, ignore_index=True)
    long["y"] = magnitude.plot_y(long["log10"], margin=3.0)
    return long


def first_underflow_depth(table: pd.DataFrame) -> int | None:
    """The smallest swept depth whose measured float32 first-block gradient is exactly 0."""
    u = table[table["underflow32"]]
    return int(u["depth"].min()) if len(u) else None


def activation_sweep(depths, seed: int = 0, batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Plain MLPs: sigmoid, tanh and ReLU at PyTorch's default init, and ReLU at Xavier and Kaiming
    init, over ``depths``; with the predicted per-layer gain for the ReLU rows."""
    parts = []
    for act, init in (("sigmoid", "default"), ("tanh", "default"), ("relu", "default"),
                      ("relu", "xavier"), ("relu", "kaiming")):
        d = depth_sweep(depths, act=act, init=init, seed=seed, batch=batch)
        d["label"] = f"{act}, {init} init"
        if act == "relu":
            gain = relu_layer_gain(init, SWEEP_WIDTH, SWEEP_WIDTH)
            d["predicted_log10"] = d["layers_crossed"] * math.log10(gain)
        else:
            d["predicted_log10"] = np.nan
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    out["y"] = magnitude.plot_y(out["log10_ratio"], margin=3.0)
    out["status"] = magnitude.statuses(out["ratio"])
    return out


def precision_table(row) -> pd.DataFrame:
    """0.25^L and the measured ratio at one depth, in float32 and float64, side by side; a float32
    0 is written as the underflow it is."""
    L, depth = int(row["layers_crossed"]), int(row["depth"])
    pc = power_curve(SIGMOID_MAX_SLOPE, [L]).iloc[0]
    r32 = 0.0 if row["underflow32"] else float(row["ratio32"])
    return pd.DataFrame({
        "quantity": [f"0.25^{L}", f"measured ratio, depth {depth}"],
        "float32": [magnitude.value_text(0.0 if pc["float32_underflow"] else pc["float32"], ".4g"),
                    magnitude.value_text(r32, ".4g")],
        "float64": [f"{pc['value']:.4g}", f"{float(row['ratio64']):.4g}"],
        "log10 (float64)": [f"{pc['log10'] + 0.0:.2f}", f"{float(row['log10_ratio64']) + 0.0:.2f}"],
    })


def sweep_ratio(sweep: pd.DataFrame, label: str, depth: int) -> float:
    """The measured ratio of the ``label`` row at ``depth`` of an :func:`activation_sweep`."""
    return float(sweep[(sweep["depth"] == depth) & (sweep["label"] == label)]["ratio"].iloc[0])
