"""Every sentence of the "Why deep plain nets fail" page: the stored tables of
:mod:`resnet_explain.experiments.mechanism_runs` -> words, one sentence per mechanism, its paper
cited, and "does not show here" where our numbers do not show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..magnitude import fmt_ratio, judge_ratio
from .training import net_label

if TYPE_CHECKING:
    import pandas as pd

BALDUZZI = "[Balduzzi et al. 2017](https://arxiv.org/abs/1702.08591)"
DE_SMITH = "[De & Smith 2020](https://arxiv.org/abs/2002.10444)"
BROCK = "[Brock et al. 2021](https://arxiv.org/abs/2101.08692)"
YANG = "[Yang et al. 2019](https://arxiv.org/abs/1902.08129)"
HE15 = "[He et al. 2015](https://arxiv.org/abs/1512.03385)"
SHATTERED_BELOW = 0.2  # a lag-1 correlation below this is "like white noise" (content.shattered)
CLEAR_GAP = 0.1  # correlations closer than this are "about the same"


def _one(df: pd.DataFrame, arch: str, depth: int, state: str | None = None) -> pd.DataFrame:
    sel = (df["arch"] == arch) & (df["depth"] == depth)
    if state is not None:
        sel = sel & (df["state"] == state)
    return df[sel]


def _f(v: float, digits: int = 2) -> str:
    return fmt_ratio(float(v), digits)


# ---- (a) gradients and updates over training ---------------------------------------------------
def first_last_over_training(grads: pd.DataFrame, arch: str, depth: int, column: str) -> float:
    """The median over snapshot steps of ``column`` at the first block / at the last block."""
    g = _one(grads, arch, depth)
    g = g[g["kind"] == "block"]
    wide = g.pivot_table(index="step", columns="position", values=column)
    return float((wide[wide.columns.min()] / wide[wide.columns.max()]).median())


def gradient_sentence(grads: pd.DataFrame, depth: int) -> str:
    """Plain vs residual at ``depth``: the gradient's first/last ratio and the update ratio's,
    each a median over training."""
    parts = []
    for arch in ("plain", "residual"):
        g = first_last_over_training(grads, arch, depth, "grad_norm")
        u = first_last_over_training(grads, arch, depth, "update_ratio")
        parts.append(f"in {net_label(arch, depth)} the gradient {judge_ratio(g).markdown} "
                     f"(median over training) and the first block's ‖ΔW‖/‖W‖ is **{_f(u)}×** the "
                     "last block's")
    g_plain = first_last_over_training(grads, "plain", depth, "grad_norm")
    tail = (f" In the plain net the gradient does not vanish toward the input: it grows, as "
            f"{YANG} found for BatchNorm nets; {HE15} call the plain nets' trouble an optimisation "
            "difficulty." if g_plain > 1 else
            " Here the plain net's gradient shrinks toward the input.")
    return "Over training, " + "; ".join(parts) + "." + tail


# ---- (b) shattered gradients -------------------------------------------------------------------
def lag1(corr: pd.DataFrame, arch: str, depth: int, state: str) -> float:
    c = _one(corr, arch, depth, state)
    return float(c.loc[c["lag"] == 1, "correlation"].iloc[0])


def correlation_sentence(corr: pd.DataFrame, depth: int) -> str:
    """Lag-1 correlation of neighbouring inputs' gradients, plain vs residual, init and trained."""
    p0, r0 = lag1(corr, "plain", depth, "init"), lag1(corr, "residual", depth, "init")
    p1, r1 = lag1(corr, "plain", depth, "trained"), lag1(corr, "residual", depth, "trained")
    txt = (f"At depth {depth}, the gradients of neighbouring inputs on a line correlate at "
           f"r = **{p0:.2f}** (plain) and **{r0:.2f}** (residual) at initialisation, "
           f"**{p1:.2f}** and **{r1:.2f}** trained.")
    if r0 - p0 > CLEAR_GAP and p0 < SHATTERED_BELOW:
        return txt + (f" The plain net's gradient is shattered — like white noise — at the start, "
                      f"the residual net's is not, as {BALDUZZI} found: a plain net starts with "
                      "gradients that say little about which way to move.")
    if r0 - p0 > CLEAR_GAP:
        return txt + f" The residual net's gradient is the smoother one, as {BALDUZZI} found."
    return txt + (f" Shattering ({BALDUZZI}) does not show at this depth in our numbers: the two "
                  "are about as correlated.")


# ---- (c) the branch's share --------------------------------------------------------------------
def share_sentence(share: pd.DataFrame, depth: int) -> str:
    """The residual net's ‖F(x)‖/‖S(x)‖, first and last block at init, and the median trained."""
    s0 = _one(share, "residual", depth, "init").sort_values("position")["share"]
    s1 = _one(share, "residual", depth, "trained")["share"]
    first, last, med0, med1 = float(s0.iloc[0]), float(s0.iloc[-1]), float(s0.median()), float(s1.median())
    txt = (f"In residual-{depth} at initialisation ‖F(x)‖/‖S(x)‖ is **{_f(first)}** at the first "
           f"block and **{_f(last)}** at the last (median **{_f(med0)}**); trained, the median is "
           f"**{_f(med1)}**.")
    if last < 0.7 * first and med0 < 1:
        return txt + (f" The branches' share falls with depth: BatchNorm downscales the branches, so "
                      "a residual net starts close to the identity / dominated by shallow paths "
                      f"({DE_SMITH}). A plain net has no shortcut to fall back on.")
    return txt + f" The downscaling {DE_SMITH} describe does not show in our numbers."


# ---- (d) signal propagation at initialisation ------------------------------------------------
def signal_sentence(signal: pd.DataFrame, depth: int) -> str:
    """Variance and mean² of the block outputs at init: their range in the plain net, first ->
    largest in the residual net."""
    p = _one(signal, "plain", depth, "init").sort_values("position")
    r = _one(signal, "residual", depth, "init").sort_values("position")
    pv, rv = p["variance"], r["variance"]
    txt = (f"At initialisation, plain-{depth}'s block outputs keep a variance between "
           f"**{_f(pv.min())}** and **{_f(pv.max())}** and a mean² between **{_f(p['mean_sq'].min())}** "
           f"and **{_f(p['mean_sq'].max())}** at every depth; residual-{depth}'s variance grows from "
           f"**{_f(rv.iloc[0])}** at its first block to **{_f(rv.max())}**, its mean² to "
           f"**{_f(r['mean_sq'].max())}**.")
    if rv.max() > 2 * rv.iloc[0]:
        return txt + (" In the residual net each block adds its normalised branch to the stream, so "
                      "the variance grows block by block and each new branch is a smaller part of "
                      f"it ({BROCK}'s signal propagation plots; {DE_SMITH}). The plain net's "
                      "BatchNorm resets the signal at every block: its signal is healthy in size, "
                      "so its trouble is not a signal that dies out.")
    return txt + f" The growth {BROCK} show for residual nets does not show in our numbers."


def how_made(meta: dict) -> str:
    """The caption under the page's charts: what was measured, on what, how it was made."""
    runs = meta.get("runs", {})
    sources = sorted({str(r.get("source", "")) for r in runs.values()})
    return (f"The shipped twins ({', '.join(runs)}), each at initialisation (the weights its training "
            f"started from) and trained; {meta.get('n_images')} test images; gradient snapshots every "
            f"{meta.get('snapshot_every')} steps ({'; '.join(sources)}). Made by "
            f"`{meta.get('command', 'python scripts/make_mechanisms.py')}` in {meta.get('seconds')} s "
            f"on {meta.get('threads')} CPU thread(s), torch {meta.get('torch')}.")
