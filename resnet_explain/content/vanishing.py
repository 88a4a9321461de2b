"""What the Vanishing Gradients page says about :mod:`resnet_explain.experiments.vanishing`'s
tables and :mod:`resnet_explain.experiments.theory`'s curves: computed from the numbers, never
typed in."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import magnitude
from ..experiments.theory import SIGMOID_MAX_SLOPE, float32_underflow_depth, relu_layer_gain
from ..experiments.vanishing import SWEEP_WIDTH, first_underflow_depth, sweep_ratio
from .verdict import judge_blocks, twin_sentence


# Yang et al. 2019's scope, from its abstract (read at https://openreview.net/forum?id=SyMDXnCcF7):
# proved for wide fully-connected BatchNorm nets at initialisation; the "single step" is observed.
def yang_sentence(depth: int) -> str:
    """What Yang et al. 2019 prove, and how far it reaches to our plain-``depth`` CNN."""
    return ("That is what Yang et al. 2019 (arXiv 1902.08129) prove for wide **fully-connected** "
            "BatchNorm nets without skips at initialisation: gradients explode with depth, and tuning "
            "the initial weight variances or the activation cannot eliminate it. Plain-"
            f"{depth} is a CNN, so it agrees with their result without being covered by the proof. They "
            "also observe that after a single step of optimisation the gradients' dynamic range becomes "
            "dramatically smaller.")


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


def activation_sentences(sweep: pd.DataFrame, depth: int = 20) -> tuple[str, str]:
    """From an ``activation_sweep``: sigmoid vs tanh vs ReLU at ``depth`` (default init), then why
    ReLU alone wasn't enough (default init's gain against the measurement, and Kaiming's)."""
    r = {lab: sweep_ratio(sweep, lab, depth) for lab in sweep["label"].unique()}
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
        f"at depth {depth} and **{_fmt(sweep_ratio(sweep, 'relu, kaiming init', deep))}** at depth {deep}. "
        "Careful init (and, next, normalisation) fixes the size at initialisation; it does not make a "
        "deep plain net *train* as well as a residual one (He et al. 2015, arXiv 1512.03385, fig. 1 and 4).")
    return first, second


def skips_sentence(resnet_name: str, resnet_blocks: pd.DataFrame) -> str:
    """What skips do to the backward product and what they do not, with the residual net's
    measured verdict in the middle (never "skips fix exploding": a ResNet-56 still grows)."""
    v = judge_blocks(resnet_blocks)
    did = ("What skips do: each block's backward factor gets a 1, (1 + ∂F/∂x) instead of ∂F/∂x alone — "
           "exactly so for a block whose output is x + F(x) (He et al. 2016, arXiv 1603.05027, eq. 5); "
           "with an activation after the add, as in He et al. 2015's blocks, that activation's slope "
           "multiplies the factor too, so eq. 5 is only approximate. Through a clean identity path the "
           "gradient does not vanish just because the branches' derivatives are small. That is no rule "
           "for every skip: with σ applied after the add a sigmoid residual net still vanishes (the "
           "Misconceptions page measures it), and factors of 1 + something can multiply up.")
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
                "it does not vanish. " + yang_sentence(depth))
    return txt + (" He et al. 2015 (arXiv 1512.03385, sec. 4.1) checked that their BN plain nets had "
                  "healthy gradients and still trained worse when deeper: they called degradation an "
                  "**optimisation** difficulty.\n\n" + skips_sentence(f"ResNet-{depth}", resnet_blocks))


def slopes_caption(slopes: pd.DataFrame) -> str:
    """The largest slope of each activation on the grid of :func:`activation_slopes`."""
    mx = slopes.groupby("activation")["slope"].max()
    return (f"Largest slope on this grid: sigmoid {mx['sigmoid']:.3f}, tanh {mx['tanh']:.3f}, "
            f"ReLU {mx['relu']:.0f} (wherever the unit is active).")
