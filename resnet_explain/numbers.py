"""Numbers in words as people write them: the one place every sentence, table cell and CLI line
formats a number.

* :func:`sci` — scientific notation as printed in a paper: ``1.2 × 10⁴``, ``3.0 × 10⁻⁵`` (never
  Python's ``1.2e+04``);
* :func:`number` — plain digits where people read them at a glance (``0.0012``, ``17``,
  ``12,000``), :func:`sci` beyond (below 10⁻³, from 10⁶);
* :func:`fold` — a factor as a word: ``12,000-fold``, ``5.0 × 10¹⁴-fold``;
* :func:`times` — a factor beside a number: ``0.2×``, ``17×``; in scientific form a word
  (``3.0 × 10⁻¹⁴ times``), so no ``×`` follows ``× 10⁻¹⁴``;
* :func:`percent` — ``12.3 %`` (SI style, a space before the sign, as the pages write it);
* :func:`count` — ``1 thread``, ``2 threads`` (the plural only where it is one).

Minus signs are typographic (U+2212), as in print. Non-finite values read as ``NaN`` / ``∞``.
"""

from __future__ import annotations

import math

MINUS = "\u2212"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
PLAIN_LOW, PLAIN_HIGH = 1e-3, 1e6  # plain digits in [PLAIN_LOW, PLAIN_HIGH); scientific outside


def _sign(x: float) -> str:
    return MINUS if x < 0 else ""


def _not_finite(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{_sign(x)}∞"


def superscript(n: int) -> str:
    """An integer exponent as superscript digits: ``-5`` -> ``⁻⁵``."""
    return str(int(n)).translate(_SUPERSCRIPT)


def sci(x: float, digits: int = 2) -> str:
    """``x`` in scientific notation with ``digits`` significant digits: ``1.2 × 10⁴``; an exact
    0 is ``0``; a mantissa of 1 with one digit reads ``10⁴``."""
    x = float(x)
    if not math.isfinite(x):
        return _not_finite(x)
    if x == 0:
        return "0"
    digits = max(1, int(digits))
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    e = int(exponent)
    if e == 0:
        return f"{_sign(x)}{mantissa}"
    if mantissa == "1" and digits == 1:
        return f"{_sign(x)}10{superscript(e)}"
    return f"{_sign(x)}{mantissa} × 10{superscript(e)}"


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits - 1}e}")


def number(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits: plain digits (thousands grouped with commas)
    for 10⁻³ ≤ |x| < 10⁶, :func:`sci` outside; exact 0 is ``0``."""
    x = float(x)
    if not math.isfinite(x):
        return _not_finite(x)
    if x == 0:
        return "0"
    digits = max(1, int(digits))
    r = _round_sig(abs(x), digits)
    if not PLAIN_LOW <= r < PLAIN_HIGH:
        return sci(x, digits)
    if r >= 10 ** (digits - 1):  # a whole number at this precision: group its thousands
        return f"{_sign(x)}{r:,.0f}"
    return f"{_sign(x)}{r:.{digits}g}"


def fold(x: float, digits: int = 2) -> str:
    """A factor as an adjective: ``17-fold``, ``12,000-fold``, ``5.0 × 10¹⁴-fold``."""
    return f"{number(x, digits)}-fold"


def times(x: float, digits: int = 2) -> str:
    """A factor beside a number: ``4.7×``, ``12,000×``; in scientific form a word, so no
    ``10⁷×`` sits beside a multiplication sign: ``1.2 × 10⁷ times``."""
    n = number(x, digits)
    return f"{n} times" if "×" in n else f"{n}×"


def percent(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals: 0.1234 -> ``12.3 %``."""
    v = 100 * float(fraction)
    if not math.isfinite(v):
        return _not_finite(v)
    return f"{_sign(v) if round(v, digits) else ''}{abs(v):.{digits}f} %"


def plural(n: float, word: str, many: str | None = None) -> str:
    """``word`` or its plural (``many``, default ``word + "s"``) for a count ``n``."""
    return word if n == 1 else (many or word + "s")


def count(n: int, word: str, many: str | None = None) -> str:
    """``1 thread``, ``2 threads``, ``1,024 images``."""
    return f"{n:,} {plural(n, word, many)}"
