"""Closed-form curves the pages overlay on measurements. Plain functions, float64, log10 exact.

* sigma'(x) = sigma(x)(1 - sigma(x)) <= sigma'(0) = 1/4, so through L sigmoid layers the
  activation-derivative factor alone is at most 0.25^L (weights can shrink it further).
* A residual chain multiplies by (1 + dF_l/dx_l) per block instead of dF_l/dx_l
  (He et al. 2016, arXiv 1603.05027, eq. 5), so the product does not vanish when dF/dx is small.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SIGMOID_MAX_SLOPE = 0.25  # sigma'(0)
FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)  # 2**-149 ~ 1.4e-45


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def sigmoid_prime(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh_prime(x):
    return 1.0 - np.tanh(np.asarray(x, dtype=np.float64)) ** 2


def power_curve(base: float, depths) -> pd.DataFrame:
    """base**L for each L: float64 value, log10 (exact, never underflows) and the float32 value,
    with ``float32_underflow`` True where float32 rounds it to exactly 0."""
    L = np.asarray(list(depths), dtype=np.int64)
    log10 = L * math.log10(base)
    f64 = np.power(np.float64(base), L.astype(np.float64))
    f32 = np.power(np.float32(base), L.astype(np.float32)).astype(np.float32)
    return pd.DataFrame({"depth": L, "value": f64, "log10": log10, "float32": f32.astype(np.float64),
                         "float32_underflow": f32 == 0})


def sigmoid_bound(depths) -> pd.DataFrame:
    """The 0.25^L upper bound of the sigmoid-derivative product."""
    return power_curve(SIGMOID_MAX_SLOPE, depths)


def float32_underflow_depth(base: float) -> int:
    """Smallest L with float32(base**L) == 0 (75 for 0.25: 0.25**75 = 2**-150 rounds to 0)."""
    if not 0 < base < 1:
        raise ValueError("base must be in (0, 1)")
    L = int(math.floor(math.log(FLOAT32_TINY, base)))
    while np.float32(base) ** np.float32(L) != 0:
        L += 1
    while L > 1 and np.float32(base) ** np.float32(L - 1) == 0:
        L -= 1
    return L


def residual_product(slopes) -> pd.DataFrame:
    """Running products prod(1 + s_l) (residual) and prod(s_l) (plain) for per-block slopes s_l,
    in log10 so neither underflows."""
    s = np.asarray(list(slopes), dtype=np.float64)
    with np.errstate(divide="ignore"):
        res = np.cumsum(np.log10(np.abs(1.0 + s)))
        plain = np.cumsum(np.log10(np.abs(s)))
    return pd.DataFrame({"block": np.arange(1, len(s) + 1), "log10_residual": res,
                         "log10_plain": plain})


ACTS_PER_BLOCK = {"plain": 2, "basic": 2, "preact": 2, "bottleneck": 3}


def sigmoid_bound_from_last(blocks: pd.DataFrame) -> pd.DataFrame:
    """For a plain sigmoid net: the largest gradient each block output can receive relative to the
    last block's, log10(g_last) + n_l log10(0.25), n_l = sigmoid layers between the two."""
    kinds = list(blocks["kind"])
    acts_after = np.cumsum([ACTS_PER_BLOCK.get(k, 2) for k in kinds[::-1]])[::-1]
    n_between = np.append(acts_after[1:], 0)
    last = float(blocks["log10_grad_norm"].iloc[-1])
    return pd.DataFrame({"block": list(blocks["block"]), "position": list(blocks["position"]),
                         "n_sigmoid_layers": n_between,
                         "log10": last + n_between * math.log10(SIGMOID_MAX_SLOPE),
                         "curve": "bound: 0.25 per sigmoid layer"})
