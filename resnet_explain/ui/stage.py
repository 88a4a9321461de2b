"""The presenter's screen. ``controls=hide`` (the sidebar's Controls, in the URL) is the view for a
wall: the sidebar starts collapsed, a page's controls fold into one "Controls" expander, its
explanations (an :func:`aside`) are hidden, and what is left on the first screen at 1280×720 is the
page's title, one sentence and its chart(s). Presenter mode (larger type) draws charts that sat
side by side full width, one under the other (:func:`columns`), as Home promises — except on stage
where an act's charts must share the first screen (act 5's two curves stay side by side).

Pages mark their parts with these helpers and keep their order; nothing else about a page changes.
"""

from __future__ import annotations

import streamlit as st

# The first screen every act is checked at (tests/e2e/test_e2e_presenter.py: 1280×720), and the
# space Streamlit leaves between two charts stacked in presenter type (measured there: 32 px).
SCREEN_PX = 720
CHART_GAP_PX = 32
_BOXES = "_stage_boxes"  # this run's controls expanders, by name (reset by :func:`begin_run`)

# On stage, an aside is not drawn (a keyed container: Streamlit gives it the class st-key-<key>).
# A constant stylesheet: no user text reaches it.
_HIDE_ASIDES_CSS = '<style>[class*="st-key-aside_"] { display: none !important; }</style>'


def on_stage() -> bool:
    """Whether the controls are hidden (the sidebar's Controls is "hide"; on a first load, before
    the widget exists, the URL's ``controls``)."""
    return st.session_state.get("controls", st.query_params.get("controls", "show")) == "hide"


def presenter() -> bool:
    """Whether presenter mode (larger type, full-width charts) is on."""
    return bool(st.session_state.get("presenter", False))


def begin_run() -> None:
    """Once per script run, from the sidebar: forget the last run's boxes; on stage, start with the
    sidebar collapsed and hide the asides."""
    first = "controls" not in st.session_state  # the session's first run: its page is loading
    st.session_state[_BOXES] = {}
    if on_stage():
        if first:  # only then: a later run must not fold a sidebar the presenter opened
            st.set_page_config(initial_sidebar_state="collapsed")
        st.html(_HIDE_ASIDES_CSS)


def controls(name: str = "main"):
    """Where a page's controls go: the page itself, or on stage one collapsed "Controls" expander
    (the same one for every call with ``name`` in this run, placed where the first call was)."""
    if not on_stage():
        return st.container()
    boxes = st.session_state.setdefault(_BOXES, {})
    if name not in boxes:
        boxes[name] = st.expander("Controls", icon=":material/tune:")
    return boxes[name]


def aside(name: str):
    """A container for what explains a chart but is not its one sentence (an introduction, how a
    number was measured): drawn in the page, and not drawn on stage. ``name`` is unique per page."""
    return st.container(key=f"aside_{name}")


def columns(spec, stage_side_by_side: bool = False, **kw) -> list:
    """``st.columns(spec, **kw)``; in presenter mode containers one under the other instead, so
    each chart in them is drawn the page's full width — but on stage with ``stage_side_by_side``
    kept side by side: charts that must share the 1280×720 first screen (act 5's two curves,
    stacked at 209 px each, had 50 px high plots; side by side each keeps 450 px)."""
    if presenter() and not (stage_side_by_side and on_stage()):
        n = spec if isinstance(spec, int) else len(spec)
        return [st.container() for _ in range(n)]
    return st.columns(spec, **kw)


def chart_height(px: int, presenter_px: int | None = None, stage_px: int | None = None) -> int:
    """A chart's height: ``px``; in presenter mode ``presenter_px`` (default 1.4 × px); on stage
    ``stage_px`` where given (what leaves the chart whole on a 1280×720 first screen)."""
    if stage_px is not None and on_stage():
        return stage_px
    if not presenter():
        return px
    return presenter_px if presenter_px is not None else int(px * 1.4)


def stage_share(n: int, top_px: int) -> int:
    """On stage, the height of each of ``n`` charts stacked one under the other from ``top_px``
    (where the first starts, below the page's title and its one sentence) that ends the last on
    the first screen: for :func:`chart_height`'s ``stage_px``."""
    return max(160, (SCREEN_PX - top_px - (n - 1) * CHART_GAP_PX - 8) // n)
