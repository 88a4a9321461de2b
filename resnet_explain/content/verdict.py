"""A probe's block table in words: the verdict on one network's gradient flow, and the sentence
comparing a network with its twin.

Built on :func:`resnet_explain.magnitude.judge_ratio` (one set of bands for every page), plus the
cases a ratio cannot tell: a NaN/Inf on the way (named by :func:`probe.first_nonfinite`), a first
block whose gradient is exactly 0 (underflow), and a last block that already receives exactly 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..numbers import number
from ..magnitude import NO_GRADIENT_BAND, NOT_FINITE_BAND, UNDERFLOW, UNDERFLOW_BAND, Verdict, judge_ratio
from ..probe import first_nonfinite


def judge_blocks(blocks: pd.DataFrame, dtype: str = "float32") -> Verdict:
    """The verdict on one probe block table (rows input → output): its first block's gradient
    over its last block's. ``dtype`` is the precision the probe ran in (it names the underflow)."""
    g = blocks["grad_norm"].to_numpy(dtype=np.float64)
    bad = first_nonfinite(blocks)
    if bad is None and not np.isfinite(g).all():  # a table without the probe's flags
        bad = str(blocks["block"].iloc[int(np.argmin(np.isfinite(g)))])
    if bad is not None:
        return Verdict(NOT_FINITE_BAND, float("nan"),
                       f"is **not finite**: the first NaN/Inf is at `{bad}`")
    if len(g) == 0 or g[-1] == 0:
        return Verdict(NO_GRADIENT_BAND, float("nan"),
                       "is **exactly 0** already at the last block: there is no ratio to take")
    if g[0] == 0:
        if dtype == "float64":
            return Verdict(UNDERFLOW_BAND, 0.0, "reaches the first block as **0 even in float64** "
                                                "(underflow)")
        return Verdict(UNDERFLOW_BAND, 0.0, f"reaches the first block as **{UNDERFLOW}** — "
                                            "switch on float64 to see how small it really is")
    return judge_ratio(float(g[0] / g[-1]))


def twin_sentence(yours: pd.DataFrame, twin: pd.DataFrame, your_name: str = "Yours",
                  twin_name: str = "twin", dtype: str = "float32") -> str:
    """One markdown sentence on a network and its twin, e.g. "**Plain (yours):** the gradient
    grows **17-fold** toward the input; **residual (twin):** grows **4.7-fold** toward the input."
    """
    a, b = judge_blocks(yours, dtype), judge_blocks(twin, dtype)
    return f"**{your_name}:** the gradient {a.markdown}; **{twin_name}:** {b.markdown}."


def classifier_note(long: pd.DataFrame, norm: str) -> str | None:
    """Why the last point of the weight-gradient chart (the classifier) can stand out: its size
    next to the median of the other weight layers, per network, measured (``long``:
    charts.gradflow.weight_grad_long), and the reason in the formula. None when nothing stands out."""
    said, last = [], None
    for variant, d in long.groupby("variant", sort=False):
        d = d.sort_values("layer")
        last = str(d["param"].iloc[-1]).removesuffix(".weight")
        g = d["grad_norm"].to_numpy(dtype=np.float64)
        if len(g) < 3 or not np.isfinite(g).all() or np.median(g[:-1]) <= 0:
            continue
        x = g[-1] / np.median(g[:-1])
        if x >= 2 or x <= 0.5:
            said.append(f"{variant} {number(x, 2)}×")
    if not said or not last.startswith("head"):
        return None
    why = ("Every other weight layer here feeds a BatchNorm, which makes the loss blind to that "
           "layer's weight scale and keeps its gradient on the order of 1/‖W‖ (van Laarhoven 2017, "
           "arXiv 1706.05350); the classifier feeds no norm. " if norm == "batch" else "")
    return (f"The last point is the classifier (`{last}`): its weight gradient is the prediction error "
            "times the pooled features it reads, ∂L/∂W = (p − y)·hᵀ averaged over the batch, so it "
            "scales with those features' size rather than with the layers below. " + why +
            "Here it is " + ", ".join(said) + " the median of the other weight layers.")
