"""The sidebar on every page (device, seed, presenter mode, controls), bound to the URL, and the
torch thread count for a shared host."""

from __future__ import annotations

import os

import streamlit as st

_PRESENTER_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.25rem !important; }
[data-testid="stMain"] h1 { font-size: 2.4rem !important; padding-top: 0 !important; }
[data-testid="stMain"] h2 { font-size: 2rem !important; }
[data-testid="stMain"] .block-container { max-width: 100% !important; padding-left: 2rem; padding-right: 2rem;
  padding-top: 2.5rem !important; }
/* a narrow sidebar, so the chart gets the room */
section[data-testid="stSidebar"][data-collapsed="false"] { width: 240px !important; min-width: 240px !important; }
[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"] span { font-size: 0.9rem; }
[data-testid="stSidebarContent"] [data-testid="stSidebarUserContent"] { padding-left: 1rem; padding-right: 1rem; }
/* captions: larger and dark, readable from the back of the room */
[data-testid="stMain"] [data-testid="stCaptionContainer"],
[data-testid="stMain"] [data-testid="stCaptionContainer"] p {
  font-size: 1.1rem !important; color: #2f2d2b !important; opacity: 1 !important; }
/* page links (Home's story and acts) wrap instead of being cut */
[data-testid="stMain"] [data-testid="stPageLink"] p, [data-testid="stMain"] [data-testid="stPageLink"] span {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
[data-testid="stMain"] [data-testid="stPageLink"] a { height: auto !important; max-width: 100% !important; }
</style>
"""


def sidebar() -> dict:
    """Device, seed and presenter mode, on every page. Returns the settings as a dict."""
    from ..device import DEVICE_CHOICES, available_devices, choose_device, describe

    _set_threads()
    present = available_devices()
    sb = st.sidebar
    # The Controls widget below decides where it is drawn, so read its value before it exists:
    # on a first load (nothing in the session yet) from the URL, so a link with controls=hide
    # opens with the settings folded away, not shown and then folded after the first rerun.
    controls = st.session_state.get("controls", st.query_params.get("controls", "show"))
    show = controls != "hide"
    box = sb.container() if show else sb.expander("Settings", expanded=False)
    with box:
        st.selectbox("Device", DEVICE_CHOICES, key="device", bind="query-params",
                     help="auto = CUDA, then Apple MPS, then CPU. Present here: " + ", ".join(present))
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="seed",
                        bind="query-params", help="Every random thing (weights, data) uses this seed.")
        st.toggle("Presenter mode", key="presenter", bind="query-params",
                  help="Larger type and full-width charts for a projector.")
        st.selectbox("Controls", ("show", "hide"), key="controls", bind="query-params",
                     help="'hide' folds these settings away (and rides in the URL).")
    choice = choose_device(st.session_state.get("device", "auto"))
    info = describe(choice.device)
    sb.caption(f"Running on **{info['detail']}** · torch {info['torch']}")
    if choice.note:
        sb.warning(choice.note)
    presenter = bool(st.session_state.get("presenter", False))
    if presenter:
        st.html(_PRESENTER_CSS)  # a constant stylesheet; no user text reaches it
    return {"device": choice.device, "device_info": info, "seed": int(st.session_state.get("seed", 0)),
            "presenter": presenter, "show_controls": show}


def _torch_threads() -> int:
    """Intra-op threads for torch in the app. On a 2-vCPU box, 1: the networks here are small,
    and when anything else wants the CPU, torch's OpenMP threads spin against it (measured on our
    2-core machine under load: a ResNet-56 per-block attribution took 0.5 s on 1 thread and 104 s
    on 2). RESNET_EXPLAIN_THREADS overrides."""
    env = os.environ.get("RESNET_EXPLAIN_THREADS")
    if env:
        return max(1, int(env))
    n = os.cpu_count() or 1
    return 1 if n <= 2 else min(8, n // 2)


@st.cache_resource
def _set_threads() -> int:
    import torch

    n = _torch_threads()
    torch.set_num_threads(n)
    return n


def remember_settings(settings: dict) -> None:
    """app.py renders the sidebar once per run and hands its values to the page."""
    st.session_state["_settings"] = settings


def settings() -> dict:
    """The sidebar's values: from app.py this run, or (a page run on its own, as in a test) by
    rendering the sidebar here."""
    got = st.session_state.pop("_settings", None)
    return got if got is not None else sidebar()
