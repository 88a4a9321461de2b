"""A chart's Vega-Lite spec built once per input, not once per visit.

Every visit reruns a page, and a page drew its charts by building them in Altair (~45 ms for the
per-block gradient chart on the 2-vCPU box: channel objects from shorthand strings), turning them
into Vega-Lite with validation (~27 ms) and reading the axis titles for the export (~25 ms): about
0.1 CPU-s per chart on every visit, cached or not. ``cached_chart(fn, *args, **kwargs)`` names the
chart instead of building it; :func:`.widgets.chart_with_export` then asks :func:`spec` for the spec
Streamlit would have made from ``fn(*args, **kwargs)`` — made by Streamlit's own conversion (the
one ``st.altair_chart`` runs: its "none" theme and its Arrow datasets), cached on the function's
name and its arguments — and draws it with ``st.vega_lite_chart``. What the browser receives is
the same (tests/app/test_cached_chart.py compares the two).

The chart itself is built only when someone exports it (PNG/SVG).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
import streamlit as st
# The conversion st.altair_chart itself runs (streamlit is pinned, 1.67.0; the test above fails
# if this ever converts differently from st.altair_chart).
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
from streamlit.runtime.caching.cache_errors import UnhashableParamError

from ..charts.palette import with_palette

PRESENTER_SIZES = {"axis": {"labelFontSize": 15, "titleFontSize": 17},
                   "legend": {"labelFontSize": 15, "titleFontSize": 16},
                   "title": {"fontSize": 20, "subtitleFontSize": 15}}


def presenter_style(chart):
    """``chart`` readable from the back of the room: larger axis, legend and title type."""
    return chart.configure_axis(**PRESENTER_SIZES["axis"]).configure_legend(
        **PRESENTER_SIZES["legend"]).configure_title(**PRESENTER_SIZES["title"])


@dataclass(frozen=True)
class CachedChart:
    """``fn(*args, **kwargs)``, named and not yet built."""

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def build(self, presenter: bool = False):
        chart = with_palette(self.fn(*self.args, **self.kwargs))  # projector-safe colours
        return presenter_style(chart) if presenter else chart

    def spec(self, presenter: bool = False) -> dict:
        """The Vega-Lite spec st.altair_chart would send for ``build(presenter)``, from the cache
        when this function was called with these arguments before (by anyone)."""
        if "<locals>" not in self.fn.__qualname__:  # a module-level function: found by its name
            try:
                return _spec(self.fn.__module__, self.fn.__qualname__, presenter, self.args, self.kwargs)
            except UnhashableParamError:  # an argument st.cache_data cannot hash: built every time
                pass
        return _convert_altair_to_vega_lite_spec(self.build(presenter))


def cached_chart(fn: Callable[..., Any], *args, **kwargs) -> CachedChart:
    """The chart ``fn(*args, **kwargs)`` (a pure chart function: same arguments, same chart), for
    :func:`.widgets.chart_with_export` to draw from a cached spec."""
    return CachedChart(fn, args, kwargs)


def _frame_key(frame: pd.DataFrame) -> bytes:
    """A DataFrame argument's cache key: its column names, dtypes, index and attrs, each numeric column's
    bytes and every other column's values as text. Streamlit's own DataFrame hash
    (hash_pandas_object) took 6.7 ms for the 18-row, 27-column gradient table, this 1.4 ms. (A
    pickle is faster but not stable: it memoises repeated objects by identity, so equal frames
    gave different keys.)"""
    index = frame.index if isinstance(frame.index, pd.RangeIndex) else list(frame.index)  # exact repr
    parts = [repr((list(frame.columns), [str(d) for d in frame.dtypes], index, frame.attrs)).encode()]
    for _, col in frame.items():
        values = col.to_numpy()
        parts.append(values.tobytes() if values.dtype.kind in "biufcmM"
                     else "\x1f".join(map(repr, values.tolist())).encode())
    return b"\x1e".join(parts)


@st.cache_data(max_entries=512, ttl=3600, show_spinner=False, hash_funcs={pd.DataFrame: _frame_key})
def _spec(module: str, qualname: str, presenter: bool, args: tuple, kwargs: dict) -> dict:
    fn = importlib.import_module(module)
    for part in qualname.split("."):
        fn = getattr(fn, part)
    return _convert_altair_to_vega_lite_spec(CachedChart(fn, args, kwargs).build(presenter))


def cached_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a pure module-level function of frames and plain values, e.g. a table a page shows)
    with its result cached on its arguments, DataFrames keyed as for the charts (:func:`_frame_key`):
    for what a page rebuilds from the same data on every visit."""
    return st.cache_data(max_entries=256, ttl=3600, show_spinner=False, hash_funcs={pd.DataFrame: _frame_key})(fn)
