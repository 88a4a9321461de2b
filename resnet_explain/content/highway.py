"""What the Gradient Highway page (and the Misconceptions page's post-activation test) says about
:mod:`resnet_explain.experiments.highway`'s tables: computed from the numbers, never typed in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.highway import identity_share
from ..magnitude import UNDERFLOW, fmt_ratio, judge_ratio
from ..numbers import number
from ..probe import ratio_of


def identity_reading(n_id: int, n_res: int) -> str:
    """What "the identity term is the larger in n_id of n_res blocks" means, in a sentence."""
    if n_res == 0:
        return ""
    if 2 * n_id > n_res:
        return (f"So in most blocks ({n_id} of {n_res}) the gradient comes back mainly along the skip, "
                "untouched by any weight layer: the highway carries more than the branch.")
    return (f"So in most blocks ({n_res - n_id} of {n_res}) the branch's term is the larger one, if only "
            "slightly (the chart shows by how much): the skip still hands g back untouched, and the "
            "branch sends back at least as much. A skip guarantees a path, not that it carries most of "
            "the gradient.")


def terms_sentence(table: pd.DataFrame) -> str:
    """How often the identity term wins, and the median branch/identity ratio (a highway_table)."""
    n_id, n_res = identity_share(table)
    med = float(table.loc[table["skip"].astype(bool), "residual_over_identity"].median())
    return ("For each residual block, the backward signal reaching its input is the sum of two measured "
            r"terms: the **identity term** $S'(x)^\top g$ (for an identity shortcut, $g$ itself) and the "
            r"**residual-branch term** $J_F(x)^\top g$, with $g = \partial L/\partial s$ at the sum. "
            f"In **{n_id} of {n_res}** residual blocks the identity term is the larger; the median "
            f"branch/identity size ratio is **{med:.2f}**. " + identity_reading(n_id, n_res))


def gains_sentence(table: pd.DataFrame) -> str:
    """The per-block gains, their product, and that product's verdict (a highway_table). Empty
    for a single block; says why when a gain cannot be measured (0 in float32 or NaN/Inf)."""
    gains = table["gain"].dropna()
    if table["log10_gain"].iloc[1:].isna().any():
        return (f"Some block's gradient is {UNDERFLOW} or not finite, so the per-block gains cannot "
                "all be measured; run it in float64 on the Gradient Flow page.")
    if not len(gains):
        return ""
    prod_log = float(table["log10_gain"].dropna().sum())
    return (f"Gains range from **{fmt_ratio(gains.min())}** to **{fmt_ratio(gains.max())}** (geometric mean "
            f"{fmt_ratio(10 ** (prod_log / len(gains)))}). Their product is 10^{prod_log:.2f} = "
            f"**{fmt_ratio(10 ** prod_log)}**: the gradient {judge_ratio(10 ** prod_log).markdown}. That "
            "product is the first/last gradient ratio by construction — each gain is the ratio of two "
            "neighbouring blocks' gradients, so the product telescopes: an identity, not a check.")


def identity_sentence(blocks: pd.DataFrame, alpha: float, zero_init_last: bool, init: str,
                      depth: int) -> str:
    """The identity start, measured (a probe's ``.blocks`` of :func:`identity_spec`): the spread of
    the gradient over the blocks and of the forward activations, and why it is exactly 1."""
    rel = blocks["grad_rel_last"].to_numpy(dtype=np.float64)
    std = blocks["act_std"].to_numpy(dtype=np.float64)
    spread = float(rel.max() / rel.min()) if rel.min() > 0 else float("inf")
    name = "Identity start" if alpha == 0 or zero_init_last else f"α = {alpha}"
    lo, hi = number(rel.min(), 4), number(rel.max(), 4)
    where = (f"is **{lo}×** the last block's at every block" if lo == hi else
             f"is between **{lo}×** and **{hi}×** the last block's")
    txt = (f"**{name}** ({init} init, depth {depth}): the gradient {where} (first/last: "
           f"**{number(rel[0], 4)}**); the forward activations' spread changes by a factor "
           f"**{number(std[-1] / std[0], 4)}** from the first block to the last.")
    if spread < 1.0001 and alpha == 0:
        return txt + " Every block is exactly the identity: it passes its input and its gradient through unchanged."
    if spread < 1.0001 and zero_init_last:
        return txt + (" Every branch's last weights are 0, so its Jacobian is 0 and every block passes the "
                      "gradient through unchanged (forward, the branch still adds its last layer's bias, a "
                      "constant).")
    return txt


def alpha_sentence(sweep: pd.DataFrame, seed: int) -> str:
    """What the α sweep (:func:`alpha_sweep` over depths 20, 50 and both inits) shows."""
    s = sweep.set_index(["init", "depth", "alpha"])["ratio"]
    a_max = float(sweep["alpha"].max())
    worst = judge_ratio(s["kaiming", 50, a_max])
    return (
        f"Measured (seed {seed}, width 64, two-layer pre-activation blocks): with PyTorch's default init "
        f"the ratio at α = 1 is **{fmt_ratio(s['default', 20, 1.0])}** at depth 20 and "
        f"**{fmt_ratio(s['default', 50, 1.0])}** at depth 50 — the default init's small weights keep each "
        f"branch's gain small. With Kaiming init it is **{fmt_ratio(s['kaiming', 20, 1.0])}** at depth 20 "
        f"and **{fmt_ratio(s['kaiming', 50, 1.0])}** at depth 50, and at α = {a_max:g} the gradient "
        f"{worst.markdown}. Each block multiplies the signal by about (1 + α·gain of F), so without "
        "normalisation a residual net grows exponentially in depth: skips stop vanishing, and a small α "
        "(SkipInit/ReZero, Fixup) or normalisation stops the growth (De & Smith 2020, arXiv 2002.10444).")


def postact_sentence(frames: dict[str, pd.DataFrame], depth: int = 20) -> str:
    """The three :func:`postact_comparison` nets' first/last ratios, each with its verdict."""
    said = []
    for k in frames:
        r = ratio_of(frames[k]["grad_norm"])
        said.append(f"**{fmt_ratio(r, 2)}** ({judge_ratio(r).short})")
    plain, post, pre = said
    r_plain, r_post = (ratio_of(frames[k]["grad_norm"]) for k in list(frames)[:2])
    return (f"Sigmoid MLPs of depth {depth}, no normalisation. First/last gradient ratio: plain {plain}; "
            f"with skips but σ applied **after** the add, {post}; with a clean identity path "
            f"(pre-activation, σ inside the branch), {pre}. " + _postact_verdict(r_plain, r_post)
            + " (He et al. 2016, arXiv 1603.05027, sec. 3–4.)")


def _postact_verdict(r_plain: float, r_post: float) -> str:
    """What the post-activation skips did, against the plain net: how much they helped, and
    whether that rescued the gradient (its own verdict)."""
    v = judge_ratio(r_post)
    if not (r_plain > 0 and r_post > 0):
        return "One of the two gradients is 0 in float32, so they cannot be compared here."
    gain = r_post / r_plain
    if gain <= 1:
        return f"Here the post-activation skips did not help: {fmt_ratio(gain, 2)}× the plain net's ratio."
    helped = f"The post-activation skips help: their ratio is **{fmt_ratio(gain, 2)}×** the plain net's. "
    if v.band in ("vanishes", "shrinks"):
        return helped + (f"They do not rescue the net: its gradient still {v.markdown}, because when the "
                         "sum passes through σ every block still multiplies the gradient by σ′ ≤ 1/4.")
    return helped + f"With them the gradient {v.markdown}."
