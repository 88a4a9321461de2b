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
from ..verdict import judge_blocks, twin_sentence
from .theory import SIGMOID_MAX_SLOPE, float32_underflow_depth, power_curve, relu_layer_gain

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


# ---------------------------------------------------------------------------------------------
# What the Vanishing page says about these tables: computed from the numbers, never typed in.
# ---------------------------------------------------------------------------------------------
def _fmt(r: float) -> str:
    return magnitude.fmt_ratio(r, digits=2)


def depth_sentence(row) -> str:
    """A ``vanishing_table`` row against the σ′ bound 0.25^L: how far below it the measurement is,
    and why (the weights shrink the gradient too). Underflow is said with float64's value."""
    depth, L = int(row["depth"]), int(row["layers_crossed"])
    if L == 0:
        return f"At depth {depth} the net has a single block: first and last are the same, ratio **1**."
    r32, r64, under = float(row["ratio32"]), float(row["ratio64"]), bool(row["underflow32"])
    bound = SIGMOID_MAX_SLOPE ** L
    measured = r64 if under else r32
    if under:
        txt = (f"At depth **{depth}** the first block's gradient is **{magnitude.UNDERFLOW}**; float64 "
               f"measures **{_fmt(r64)}** of the last block's gradient")
    else:
        txt = f"At depth **{depth}** the first block receives **{_fmt(r32)}** of the last block's gradient in float32"
    txt += f". The σ′ bound alone allows 0.25^{L} = {_fmt(bound)}. "
    below = math.log10(bound) - math.log10(measured) if measured > 0 else float("nan")
    if below > 0:
        return txt + (f"The measurement is **{below:.1f} orders of magnitude below** the bound: σ′ is "
                      "below 1/4 away from x = 0, and the weights shrink the gradient too — PyTorch's "
                      "default init draws them with variance 1/(3·fan_in), so a layer scales a gradient by "
                      f"about √({SWEEP_WIDTH} · 1/(3·{SWEEP_WIDTH})) = {math.sqrt(1 / 3):.2f} before σ′ acts.")
    if below <= 0:  # NaN (0 even in float64) falls through
        return txt + f"The measurement is {-below:.1f} orders of magnitude *above* the bound here."
    return txt + "Even float64 rounds it to 0, so it cannot be placed against the bound."


def float32_sentence(table: pd.DataFrame, seed: int) -> str:
    """Where 0.25^L rounds to 0 in float32, and from which swept depth the live net's does."""
    u_theory = float32_underflow_depth(SIGMOID_MAX_SLOPE)
    u_meas = first_underflow_depth(table)
    txt = (f"float32's smallest positive number is {np.finfo(np.float32).smallest_subnormal:.2g} (a "
           f"subnormal). The product 0.25^L rounds to **exactly 0** in float32 from **L = {u_theory}** "
           f"on (it is 2^-{2 * u_theory}).")
    if u_meas is None:
        return txt + " In this sweep the live network's float32 gradient never reaches exactly 0."
    return txt + (f" The live network gets there much earlier: its first-block gradient is **0 in "
                  f"float32** from depth **{u_meas}** on (the first swept depth where it happens, seed "
                  f"{seed}), because its real per-layer factor is far below 0.25. float64 still measures it.")


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


def _sweep_ratio(sweep: pd.DataFrame, label: str, depth: int) -> float:
    return float(sweep[(sweep["depth"] == depth) & (sweep["label"] == label)]["ratio"].iloc[0])


def activation_sentences(sweep: pd.DataFrame, depth: int = 20) -> tuple[str, str]:
    """From an ``activation_sweep``: sigmoid vs tanh vs ReLU at ``depth`` (default init), then why
    ReLU alone wasn't enough (default init's gain against the measurement, and Kaiming's)."""
    r = {lab: _sweep_ratio(sweep, lab, depth) for lab in sweep["label"].unique()}
    L = int(sweep.loc[sweep["depth"] == depth, "layers_crossed"].iloc[0])
    deep = int(sweep["depth"].max())
    g_def, g_kai = relu_layer_gain("default", SWEEP_WIDTH, SWEEP_WIDTH), relu_layer_gain("kaiming", SWEEP_WIDTH, SWEEP_WIDTH)
    first = (f"At depth {depth} (L = {L} layers crossed): sigmoid **{_fmt(r['sigmoid, default init'])}**, "
             f"tanh **{_fmt(r['tanh, default init'])}**, ReLU **{_fmt(r['relu, default init'])}** (all "
             "PyTorch default init). tanh′(0) = 1, so tanh vanishes more slowly than sigmoid.")
    second = (
        "ReLU's slope is 1 where it is active, so the activation no longer shrinks the gradient — but "
        "the weights still do. Backward through one Linear + ReLU layer the gradient's size is "
        "multiplied by about √(fan_in · Var(w) / 2) (half the units are active). With PyTorch's default "
        f"init, Var(w) = 1/(3·fan_in): the factor is **{g_def:.3f}**, and {L} layers give "
        f"{g_def:.3f}^{L} = **{_fmt(g_def ** L)}**; measured: **{_fmt(r['relu, default init'])}**. "
        "Small weights vanish with ReLU too. Kaiming init (He et al. 2015b, arXiv 1502.01852) chose "
        f"Var(w) = 2/fan_in to make the factor {g_kai:.0f}: measured **{_fmt(r['relu, kaiming init'])}** "
        f"at depth {depth} and **{_fmt(_sweep_ratio(sweep, 'relu, kaiming init', deep))}** at depth {deep}. "
        "Careful init (and, next, normalisation) fixes the size at initialisation; it does not make a "
        "deep plain net *train* as well as a residual one (He et al. 2015, arXiv 1512.03385, fig. 1 and 4).")
    return first, second


def skips_sentence(resnet_name: str, resnet_blocks: pd.DataFrame) -> str:
    """What skips do to the backward product and what they do not, with the residual net's
    measured verdict in the middle (never "skips fix exploding": a ResNet-56 still grows)."""
    v = judge_blocks(resnet_blocks)
    did = ("What skips do: each block multiplies the backward signal by (1 + ∂F/∂x) instead of ∂F/∂x "
           "alone (He et al. 2016, arXiv 1603.05027, eq. 5) — a factor near 1 + something, so the "
           "product over the blocks does not vanish.")
    if v.band in ("grows", "explodes"):
        did += f" What they do not do is stop it from growing: {resnet_name}'s gradient still {v.markdown}."
    else:
        did += (f" Measured here, {resnet_name}'s gradient {v.markdown}; skips alone do not promise that, "
                "since a block's factor can be above 1 as well as near it.")
    return did + (" Keeping the growth small is the work of normalisation in the branch (BatchNorm scales "
                  "each branch down next to the skip; De & Smith 2020, arXiv 2002.10444) or of a small "
                  "residual scale α on every branch (SkipInit, ReZero, Fixup): see the Gradient Highway "
                  "next, where α is a slider.")


def bn_cnn_text(plain_blocks: pd.DataFrame, resnet_blocks: pd.DataFrame, depth: int, run: str) -> str:
    """The honest correction for BatchNorm + ReLU CNNs: plain-``depth`` vs ResNet-``depth`` from
    their probe tables (``run`` says batch, seed and device), what He et al. concluded, and what
    skips do and do not do."""
    pv = judge_blocks(plain_blocks)
    txt = twin_sentence(plain_blocks, resnet_blocks, f"Plain-{depth}", f"ResNet-{depth}")[:-1] + f" ({run})."
    if pv.band in ("grows", "explodes"):
        txt += (f" Plain-{depth} is not starved of gradient at initialisation: it grows toward the input, "
                "it does not vanish. With BatchNorm this growth is unavoidable in deep plain nets (Yang et "
                "al. 2019, arXiv 1902.08129).")
    return txt + (" He et al. 2015 (arXiv 1512.03385, sec. 4.1) checked that their BN plain nets had "
                  "healthy gradients and still trained worse when deeper: they called degradation an "
                  "**optimisation** difficulty.\n\n" + skips_sentence(f"ResNet-{depth}", resnet_blocks))

