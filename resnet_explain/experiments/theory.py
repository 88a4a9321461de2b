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

from ..spec.kinds import acts_crossed

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


def sigmoid_bound_from_last(blocks: pd.DataFrame) -> pd.DataFrame:
    """For a plain sigmoid net: the largest gradient each block output can receive relative to the
    last block's, log10(g_last) + n_l log10(0.25), n_l = sigmoid layers between the two."""
    kinds = list(blocks["kind"])
    acts_after = np.cumsum([acts_crossed(k) for k in kinds[::-1]])[::-1]
    n_between = np.append(acts_after[1:], 0)
    last = float(blocks["log10_grad_norm"].iloc[-1])
    return pd.DataFrame({"block": list(blocks["block"]), "position": list(blocks["position"]),
                         "n_sigmoid_layers": n_between,
                         "log10": last + n_between * math.log10(SIGMOID_MAX_SLOPE),
                         "curve": "bound: 0.25 per sigmoid layer"})


# ---------------------------------------------------------------------------------------------
# Additions for the theory pages (vanishing, highway).
# ---------------------------------------------------------------------------------------------
def sigmoid_curves(lo: float = -6.0, hi: float = 6.0, n: int = 241) -> pd.DataFrame:
    """sigma(x) and sigma'(x) on a grid, long form (x, curve, value). sigma'(0) = 0.25 is the max."""
    x = np.linspace(lo, hi, n)
    return pd.concat([pd.DataFrame({"x": x, "curve": "σ(x)", "value": sigmoid(x)}),
                      pd.DataFrame({"x": x, "curve": "σ′(x) = σ(x)(1 − σ(x))", "value": sigmoid_prime(x)})],
                     ignore_index=True)


def sigmoid_peak(curves: pd.DataFrame) -> tuple[float, float]:
    """(x, σ′(x)) where σ′ is largest on the grid of :func:`sigmoid_curves`."""
    prime = curves[curves["curve"].str.startswith("σ′")]
    peak = prime.loc[prime["value"].idxmax()]
    return float(peak["x"]), float(peak["value"])


def activation_slopes(lo: float = -4.0, hi: float = 4.0, n: int = 161) -> pd.DataFrame:
    """Derivatives of sigmoid, tanh and ReLU on a grid, long form (x, activation, slope).
    Their maxima: 0.25, 1, 1 (ReLU's slope is 1 wherever the unit is active)."""
    x = np.linspace(lo, hi, n)
    return pd.concat([pd.DataFrame({"x": x, "activation": "sigmoid", "slope": sigmoid_prime(x)}),
                      pd.DataFrame({"x": x, "activation": "tanh", "slope": tanh_prime(x)}),
                      pd.DataFrame({"x": x, "activation": "relu", "slope": (x > 0).astype(np.float64)})],
                     ignore_index=True)


def weight_variance(init: str, fan_in: int, fan_out: int) -> float:
    """Variance of one weight of a Linear layer under our inits.

    * ``default``: PyTorch's kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), so
      Var = 1/(3 fan_in);
    * ``kaiming``: kaiming_normal, fan_in, ReLU gain (He et al. 2015b, arXiv 1502.01852): 2/fan_in;
    * ``xavier``: xavier_normal (Glorot & Bengio 2010): 2/(fan_in + fan_out).
    """
    if init == "default":
        return 1.0 / (3.0 * fan_in)
    if init == "kaiming":
        return 2.0 / fan_in
    if init == "xavier":
        return 2.0 / (fan_in + fan_out)
    raise ValueError(f"unknown init {init!r}")


def relu_layer_gain(init: str, fan_in: int, fan_out: int) -> float:
    """Expected factor by which one Linear + ReLU layer scales the gradient's norm on the way back:
    sqrt(fan_in * Var(w) / 2) (half the units are active). 1 for kaiming (He et al. 2015b chose
    that variance so this is 1); sqrt(1/6) ~ 0.41 for PyTorch's default."""
    return math.sqrt(fan_in * weight_variance(init, fan_in, fan_out) / 2.0)


def geometric_log10(base: float, n) -> np.ndarray:
    """log10(base**n), exact in float64 for any n (never underflows)."""
    return np.asarray(n, dtype=np.float64) * math.log10(base)


def autocorrelation(values, max_lag: int) -> np.ndarray:
    """Sample autocorrelation r(k), k = 0..max_lag, of a 1-D sequence (mean removed, r(0) = 1).
    White noise has r(k) ~ 0 for k > 0; a smooth (brown-noise-like) signal stays near 1
    (Balduzzi et al. 2017, arXiv 1702.08591). NaN when the sequence is constant."""
    v = np.asarray(values, dtype=np.float64)
    v = v - v.mean()
    denom = float(np.dot(v, v))
    max_lag = int(min(max_lag, len(v) - 1))
    if denom == 0 or not np.isfinite(denom):
        return np.full(max_lag + 1, np.nan)
    return np.array([float(np.dot(v[: len(v) - k], v[k:])) / denom for k in range(max_lag + 1)])

