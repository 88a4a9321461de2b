"""The gradient highway: per block, the identity term and the residual-branch term, the running
product of per-block gains (He et al. 2016, arXiv 1603.05027, eq. 5), and the SkipInit / ReZero
residual scale alpha (De & Smith 2020, arXiv 2002.10444)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..magnitude import UNDERFLOW, fmt_ratio, judge_ratio, log10
from ..probe import probe_spec, ratio_of
from ..spec import NetSpec, mlp
from .vanishing import SWEEP_BATCH


def highway_table(blocks: pd.DataFrame) -> pd.DataFrame:
    """Per block (from a probe's ``.blocks``): the identity term ‖S'(x)ᵀg‖, the residual-branch
    term ‖J_F(x)ᵀg‖, the block's gain ‖∂L/∂x_in‖ / ‖∂L/∂x_out‖ (input = previous block's
    output; unknown for the first block), and the running product of gains from the last block
    back to this one, in log10: at the first block it is log10 of the first/last ratio.

    For a block x_out = x_in + F(x_in), ∂L/∂x_in = (1 + ∂F/∂x_in)ᵀ ∂L/∂x_out (He et al. 2016,
    arXiv 1603.05027, eq. 5): the gain is the size of (1 + ∂F/∂x) acting on this gradient.
    """
    b = blocks.sort_values("position").reset_index(drop=True)
    g = b["grad_norm"].to_numpy(dtype=np.float64)
    logs = np.array([log10(v) for v in g])
    gain_log = np.full(len(g), np.nan)
    gain_log[1:] = logs[:-1] - logs[1:]  # block i's input is block i-1's output
    last = logs[-1] if len(logs) else np.nan
    out = pd.DataFrame({
        "position": b["position"], "block": b["block"], "skip": b["skip"],
        "grad_norm": g, "log10_grad_norm": logs,
        "identity_norm": b["identity_norm"], "residual_norm": b["residual_norm"],
        "log10_identity": [log10(v) for v in b["identity_norm"]],
        "log10_residual": [log10(v) for v in b["residual_norm"]],
        "log10_gain": gain_log, "gain": np.power(10.0, gain_log),
        "log10_product_from_last": logs - last,
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        out["residual_over_identity"] = out["residual_norm"] / out["identity_norm"]
    return out


def identity_share(blocks: pd.DataFrame) -> tuple[int, int]:
    """(residual blocks whose identity term is larger than their branch term, residual blocks),
    from a probe's ``.blocks`` or a :func:`highway_table`."""
    res = blocks[blocks["skip"].astype(bool)]
    return int((res["identity_norm"] > res["residual_norm"]).sum()), int(len(res))


def gate_share(blocks: pd.DataFrame) -> tuple[int, int]:
    """(gated blocks whose gate term ``gate_norm`` is smaller than both their carry and transform
    terms, gated blocks), from a probe's ``.blocks``; (0, 0) where no block has a gate."""
    if "gate_norm" not in blocks:
        return 0, 0
    g = blocks[blocks["skip"].astype(bool) & np.isfinite(blocks["gate_norm"])]
    smallest = (g["gate_norm"] < g["identity_norm"]) & (g["gate_norm"] < g["residual_norm"])
    return int(smallest.sum()), int(len(g))


def highway_long(table: pd.DataFrame) -> pd.DataFrame:
    """Long form of the three per-block curves for the highway chart."""
    rows = []
    for r in table.itertuples():
        for series, v in (("identity term", r.log10_identity),
                          ("residual-branch term", r.log10_residual),
                          ("‖∂L/∂x‖ at output", r.log10_grad_norm)):
            rows.append({"block": r.block, "position": r.position, "series": series, "log10": v})
    return pd.DataFrame(rows, columns=["block", "position", "series", "log10"])


def identity_spec(depth: int = 20, res_scale: float = 0.0, init: str = "default",
                  zero_init_last: bool = False, act: str = "relu", kind: str = "preact") -> NetSpec:
    """The identity-hypothesis network: a residual MLP without normalisation."""
    return mlp(depth, skip=True, act=act, init=init, res_scale=float(res_scale),
               zero_init_last=zero_init_last, kind=kind)


def alpha_sweep(alphas, depths=(20, 50), inits=("default", "kaiming"), seed: int = 0,
                batch: int = SWEEP_BATCH, act: str = "relu") -> pd.DataFrame:
    """First/last gradient ratio and forward growth (act std of the last block over the first) of
    residual MLPs without norm, for each residual scale alpha, depth and init."""
    rows = []
    for init in inits:
        for d in depths:
            for a in alphas:
                spec = identity_spec(int(d), float(a), init, act=act)
                res = probe_spec(spec, seed=seed, batch=batch)
                b = res.blocks
                std = b["act_std"].to_numpy()
                rows.append({"alpha": float(a), "depth": int(d), "init": init, "ratio": res.ratio,
                             "log10_ratio": res.log10_ratio,
                             "forward_growth": float(std[-1] / std[0]) if std[0] > 0 else float("nan"),
                             "label": f"depth {d}, {init} init", "spec": spec.to_query()})
    out = pd.DataFrame(rows)
    out["log10_forward_growth"] = [log10(v) for v in out["forward_growth"]]
    return out


def postact_comparison(depth: int = 20, seed: int = 0, act: str = "sigmoid",
                       batch: int = SWEEP_BATCH) -> dict[str, pd.DataFrame]:
    """Per-block probes of the plain net, post-activation ("basic": σ after the add) blocks with
    skips, and pre-activation blocks with skips (a clean x + F(x) path). He et al. 2016
    (arXiv 1603.05027, sec. 3-4): only a clean identity path keeps the gradient."""
    variants = {
        "plain (no skips)": mlp(depth, skip=False, act=act),
        "skip, σ after the add (post-activation)": mlp(depth, skip=True, act=act, kind="basic"),
        "skip, clean identity (pre-activation)": mlp(depth, skip=True, act=act, kind="preact"),
    }
    return {k: probe_spec(s, seed=seed, batch=batch).blocks for k, s in variants.items()}


# ---------------------------------------------------------------------------------------------
# What the Highway page says about these tables: computed from the numbers.
# ---------------------------------------------------------------------------------------------
def terms_sentence(table: pd.DataFrame) -> str:
    """How often the identity term wins, and the median branch/identity ratio (a highway_table)."""
    n_id, n_res = identity_share(table)
    med = float(table.loc[table["skip"].astype(bool), "residual_over_identity"].median())
    return ("For each residual block, the backward signal reaching its input is the sum of two measured "
            r"terms: the **identity term** $S'(x)^\top g$ (for an identity shortcut, $g$ itself) and the "
            r"**residual-branch term** $J_F(x)^\top g$, with $g = \partial L/\partial s$ at the sum. "
            f"In **{n_id} of {n_res}** residual blocks the identity term is the larger; the median "
            f"branch/identity size ratio is **{med:.2f}**.")


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
    first_rel = float(table["log10_product_from_last"].iloc[0])
    return (f"Gains range from **{fmt_ratio(gains.min())}** to **{fmt_ratio(gains.max())}** (geometric mean "
            f"{fmt_ratio(10 ** (prod_log / len(gains)))}). Their product is 10^{prod_log:.2f} = "
            f"**{fmt_ratio(10 ** prod_log)}**, equal to the measured first/last ratio 10^{first_rel:.2f}: "
            f"the gradient {judge_ratio(10 ** first_rel).markdown}.")


def identity_sentence(blocks: pd.DataFrame, alpha: float, zero_init_last: bool, init: str,
                      depth: int) -> str:
    """The identity start, measured (a probe's ``.blocks`` of :func:`identity_spec`): the spread of
    the gradient over the blocks and of the forward activations, and why it is exactly 1."""
    rel = blocks["grad_rel_last"].to_numpy(dtype=np.float64)
    std = blocks["act_std"].to_numpy(dtype=np.float64)
    spread = float(rel.max() / rel.min()) if rel.min() > 0 else float("inf")
    name = "Identity start" if alpha == 0 or zero_init_last else f"α = {alpha}"
    txt = (f"**{name}** ({init} init, depth {depth}): the gradient at every block is between "
           f"**{rel.min():.4g}×** and **{rel.max():.4g}×** the last block's (first/last: **{rel[0]:.4g}**); "
           f"the forward activations' spread changes by a factor **{std[-1] / std[0]:.4g}** from the first "
           "block to the last.")
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
    return (f"Sigmoid MLPs of depth {depth}, no normalisation. First/last gradient ratio: plain {plain}; "
            f"with skips but σ applied **after** the add, {post}; with a clean identity path "
            f"(pre-activation, σ inside the branch), {pre}. When the sum passes through σ, every block "
            "still multiplies the gradient by σ′ ≤ 1/4 — the skip only helps if the identity path is kept "
            "clean (He et al. 2016, arXiv 1603.05027, sec. 3–4).")

