"""How big is a measured gradient, and what to call it: the one place for these rules.

* ``log10`` of a norm, NaN where the norm is 0 (underflow) or not finite;
* the status a chart or table shows for a value (``UNDERFLOW`` is "0 in float32 (underflow)":
  a gradient that is exactly 0 is a fact to display, not a row to drop);
* the plotting floor: where such values are drawn, below the lowest finite value;
* :func:`judge_ratio`, the verdict every page gives a first/last gradient ratio (vanishes,
  shrinks, about the same, grows, explodes), with one set of bands. A whole probe table (NaN/Inf
  on the way, a last block at 0) is judged in words by :mod:`resnet_explain.content.verdict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .numbers import fold, number, sci, times

MEASURED = "measured"
UNDERFLOW = "0 in float32 (underflow)"
NOT_A_NUMBER = "NaN"
INFINITE = "Inf"
UNDERFLOW_TEXT = "0 (underflow)"  # a zero norm as a table cell or tooltip shows it


def log10(v: float) -> float:
    """log10 of a norm; NaN for 0 (shown as underflow) and for NaN/Inf."""
    return float(math.log10(v)) if (v > 0 and math.isfinite(v)) else float("nan")


def statuses(values, has_nan=None, has_inf=None) -> np.ndarray:
    """Per value: ``MEASURED``, ``UNDERFLOW`` (exactly 0), ``NOT_A_NUMBER`` or ``INFINITE``.
    ``has_nan`` / ``has_inf`` flags (e.g. a probe's columns) take precedence where given."""
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v) if has_nan is None else np.asarray(has_nan, dtype=bool)
    inf = np.isinf(v) if has_inf is None else np.asarray(has_inf, dtype=bool)
    return np.where(nan, NOT_A_NUMBER, np.where(inf, INFINITE, np.where(v == 0, UNDERFLOW, MEASURED)))


def value_text(v: float, spec: str | None = None) -> str:
    """A norm as a tooltip or table shows it: ``0 (underflow)`` for an exact 0, else in
    scientific notation as printed (``1.235 × 10⁻⁷``, :func:`resnet_explain.numbers.sci`), or
    formatted with a format ``spec`` where one is given (the CLI's ASCII columns)."""
    if v == 0:
        return UNDERFLOW_TEXT
    return sci(float(v), 4) if spec is None else format(float(v), spec)


def plot_floor(log_values, margin: float = 1.0) -> float:
    """Where values without a finite log10 are drawn: ``margin`` decades below the lowest
    finite value (0 when there is none)."""
    v = np.asarray(log_values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return (float(finite.min()) if len(finite) else 0.0) - margin


def plot_y(log_values, margin: float = 1.0) -> np.ndarray:
    """log10 values to plot: finite ones as they are, the rest at :func:`plot_floor`."""
    v = np.asarray(log_values, dtype=np.float64)
    return np.where(np.isfinite(v), v, plot_floor(v, margin))


def fmt_ratio(r: float, digits: int = 3, zero: str = "0") -> str:
    """A measured ratio for a sentence, as :func:`resnet_explain.numbers.number` writes it
    (``0.0012``, ``17``, ``12,000``, ``5.0 × 10¹⁴``); ``zero`` names an exact 0 (e.g. "0 (float32
    underflow)")."""
    return zero if r == 0 else number(r, digits)


# ---------------------------------------------------------------------------------------------
# The verdict on a first/last gradient ratio (first block's gradient / last block's).
# Bands, in factors of the last block's gradient: within 2x either way is "about the same size";
# up to 100x is a shrink or a growth (said with its number); beyond is vanishing or exploding.
# ---------------------------------------------------------------------------------------------
SAME_FACTOR = 2.0
EXTREME_FACTOR = 100.0
BANDS = ("vanishes", "shrinks", "about the same", "grows", "explodes")  # in increasing ratio
# Verdicts a ratio alone cannot give: a first block at exactly 0, a NaN/Inf on the way, and a
# last block at exactly 0 (there is no ratio to take; only a whole block table can say so).
UNDERFLOW_BAND, NOT_FINITE_BAND, NO_GRADIENT_BAND = "underflow", "not finite", "no gradient"


@dataclass(frozen=True)
class Verdict:
    """What a first/last gradient ratio means. ``phrase`` has no subject ("grows 17-fold toward
    the input"), so it reads after "the gradient"; ``markdown`` is the same with its number and
    its key word in bold."""

    band: str  # one of BANDS, or UNDERFLOW_BAND / NOT_FINITE_BAND / NO_GRADIENT_BAND
    ratio: float  # first / last
    markdown: str

    @property
    def phrase(self) -> str:
        return self.markdown.replace("**", "")

    @property
    def short(self) -> str:
        """The verdict in a few words, for beside a number ("it vanishes", "about the same size")."""
        return {"about the same": "about the same size", UNDERFLOW_BAND: "it vanishes: 0 in float32",
                NOT_FINITE_BAND: "not finite", NO_GRADIENT_BAND: "no gradient at the last block",
                }.get(self.band, f"it {self.band}")

    @property
    def vanishing(self) -> bool:
        return self.band in ("vanishes", UNDERFLOW_BAND)

    @property
    def exploding(self) -> bool:
        return self.band == "explodes"

    @property
    def rank(self) -> int | None:
        """Position of the band in BANDS (0 = vanishes, 4 = explodes); underflow ranks with
        vanishing, NaN/Inf and "no gradient" have none."""
        if self.band == UNDERFLOW_BAND:
            return 0
        return BANDS.index(self.band) if self.band in BANDS else None


def judge_ratio(ratio: float | None) -> Verdict:
    """The one verdict on a first/last block gradient ratio, used by every page."""
    if ratio is None or math.isnan(ratio) or math.isinf(ratio):
        return Verdict(NOT_FINITE_BAND, float("nan") if ratio is None else float(ratio),
                       "is **not finite** (NaN or Inf somewhere on the way)")
    r = float(ratio)
    if r == 0:
        return Verdict(UNDERFLOW_BAND, 0.0, f"reaches the first block as **{UNDERFLOW}**")
    if r >= EXTREME_FACTOR:
        return Verdict("explodes", r, f"grows **{fold(r)}** toward the input: it **explodes**")
    if r >= SAME_FACTOR:
        return Verdict("grows", r, f"grows **{fold(r)}** toward the input")
    if r > 1 / SAME_FACTOR:
        return Verdict("about the same", r,
                       f"reaches the input at **about the same size** ({times(r, 3)}, within 2×)")
    if r > 1 / EXTREME_FACTOR:
        return Verdict("shrinks", r, f"shrinks to **{times(r)}** its size toward the input")
    return Verdict("vanishes", r, f"shrinks to **{times(r)}** its size toward the input: it **vanishes**")


def fmt_factor(x: float) -> str:
    """A factor for "N× slower": 2.8, 25, 1,000, 3.2 × 10⁷ (:func:`resnet_explain.numbers.number`)."""
    return number(x, 2)
