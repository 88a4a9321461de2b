"""A probe's block table in words: the verdict on one network's gradient flow, and the sentence
comparing a network with its twin.

Built on :func:`resnet_explain.magnitude.judge_ratio` (one set of bands for every page), plus the
cases a ratio cannot tell: a NaN/Inf on the way (named by :func:`probe.first_nonfinite`), a first
block whose gradient is exactly 0 (underflow), and a last block that already receives exactly 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
