"""What the Shattered Gradients page says about :mod:`resnet_explain.experiments.shattered`'s
autocorrelations (Balduzzi et al. 2017, arXiv 1702.08591), in words."""

from __future__ import annotations

import pandas as pd


def describe_correlation(r1: float) -> str:
    """A lag-1 autocorrelation in words: below 0.2 "like white noise" (r ~ 0 at every lag > 0),
    below 0.7 "partly correlated", else "smooth" (brown noise stays near 1)."""
    if r1 < 0.2:
        return "like white noise"
    if r1 < 0.7:
        return "partly correlated"
    return "smooth"


def lag1_sentence(ac: pd.DataFrame, depth: int) -> str:
    """Plain and residual lag-1 autocorrelation of one :func:`shattered_experiment`, in words."""
    r1 = ac[ac["lag"] == 1].set_index("variant")["autocorrelation"]
    return (f"Lag-1 autocorrelation at depth {depth}: plain **{r1['plain']:.2f}** "
            f"({describe_correlation(r1['plain'])}), residual **{r1['residual']:.2f}** "
            f"({describe_correlation(r1['residual'])}). White noise has r ≈ 0 at every lag > 0; a "
            "smooth (brown-noise-like) gradient stays near 1.")


def depth_sentence(summary: pd.DataFrame, alpha: float) -> str:
    """Lag-1 autocorrelation from the shallowest to the deepest net of a
    :func:`shattered_depth_summary`, plain and residual, and what it means."""
    p = summary[summary["variant"] == "plain"].set_index("depth")["lag1_autocorrelation"]
    r = summary[summary["variant"] == "residual"].set_index("depth")["lag1_autocorrelation"]
    d0, d1 = int(p.index.min()), int(p.index.max())
    txt = (f"Plain: lag-1 autocorrelation {p[d0]:.2f} at depth {d0} → **{p[d1]:.2f}** at depth {d1}. "
           f"Residual (α = {alpha}): {r[d0]:.2f} → **{r[d1]:.2f}**.")
    if r[d1] < 0.7:
        txt += (" The residual net's gradient also decorrelates with depth, only much more slowly; "
                "Balduzzi et al. derive a decay like 1/√L for resnets against 2^-L for plain nets, and "
                "scaling the branches down (smaller α) keeps it smooth longer — try α = 0.1.")
    return txt
