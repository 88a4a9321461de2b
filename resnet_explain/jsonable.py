"""Numbers as JSON has them: a non-finite number (NaN, +-inf) becomes null, since JSON has none.

    >>> json_value(float("nan")), json_value(2.5), json_value("ok")
    (None, 2.5, 'ok')

The command line's ``--json`` output goes through these, so every ``--json`` line is strict JSON.
"""

from __future__ import annotations

import math
import numbers


def json_value(v):
    """``v``, except a non-finite real number (Python or NumPy float), which becomes None."""
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) and not math.isfinite(v):
        return None
    return v


def json_dict(d) -> dict:
    """A mapping with :func:`json_value` applied to every value (one level, as rows are)."""
    return {k: json_value(v) for k, v in d.items()}


def json_rows(df) -> list[dict]:
    """A DataFrame's rows (``records``), with :func:`json_value` applied to every cell."""
    return [json_dict(r) for r in df.to_dict("records")]
