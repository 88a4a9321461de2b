"""The sidebar on every page (device, seed, presenter mode, theme, controls), bound to the URL, and
the torch thread count for a shared host."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import streamlit as st
import torch

from ..device import DEVICE_CHOICES, available_devices, choose_device, describe
from . import stage


@dataclass(frozen=True)
class Settings:
    """The sidebar's values for one run of a page (built in one place: :func:`sidebar`)."""

    device: Any  # the torch.device work runs on (the choice resolved against what is present)
    device_info: dict  # resnet_explain.device.describe(device): "detail" (what the page names), "torch"
    seed: int  # every random thing (weights, data) uses it
    presenter: bool  # larger type and full-width charts for a projector
    theme: str  # one of THEMES
    show_controls: bool  # False: the sidebar's controls are folded away (controls=hide)

    @property
    def detail(self) -> str:
        """The device in words, as pages name it ("CPU (…)", "NVIDIA H200")."""
        return self.device_info["detail"]

_PRESENTER_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.25rem !important; }
[data-testid="stMain"] h1 { font-size: 2.4rem !important; padding-top: 0 !important; }
[data-testid="stMain"] h2 { font-size: 2rem !important; }
[data-testid="stMain"] .block-container { max-width: 100% !important; padding-left: 2rem; padding-right: 2rem;
  padding-top: 3.75rem !important; }  /* Streamlit's header is 3.75rem: the title starts below it */
/* a narrow sidebar, so the chart gets the room */
section[data-testid="stSidebar"][data-collapsed="false"] { width: 240px !important; min-width: 240px !important; }
[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"] span { font-size: 0.9rem; }
[data-testid="stSidebarContent"] [data-testid="stSidebarUserContent"] { padding-left: 1rem; padding-right: 1rem; }
/* captions: larger and dark, readable from the back of the room */
[data-testid="stMain"] [data-testid="stCaptionContainer"],
[data-testid="stMain"] [data-testid="stCaptionContainer"] p {
  font-size: 1.1rem !important; color: inherit !important; opacity: 1 !important; }
/* page links (Home's story and acts) wrap instead of being cut */
[data-testid="stMain"] [data-testid="stPageLink"] p, [data-testid="stMain"] [data-testid="stPageLink"] span {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
[data-testid="stMain"] [data-testid="stPageLink"] a { height: auto !important; max-width: 100% !important; }
</style>
"""

# The theme (light and dark are .streamlit/config.toml's [theme.light] and [theme.dark]). Streamlit
# 1.67 has no Python call that switches it: its own switch is the settings menu (hidden here, by
# client.toolbarMode = "minimal") and its URL option `embed_options=light_theme|dark_theme`, read
# once, when the page loads. So the Theme control rides in the URL as `theme`, and THEME_SYNC_JS
# reloads the page with Streamlit's option set to match (every setting is in the URL, so the view
# comes back as it was): when the control has just changed, or when the page is drawn in the other
# theme and the URL does not carry the option yet (a link with `theme=dark`). After that reload the
# URL carries it, so it cannot reload again.
THEMES = ("auto", "light", "dark")
EMBED_THEME = {"auto": "", "light": "light_theme", "dark": "dark_theme"}

THEME_SYNC_JS = """<script>
(() => {
  const theme = "%(theme)s", want = "%(want)s", changed = %(changed)s;
  const url = new URL(window.location.href), q = url.searchParams;
  const opts = q.getAll("embed_options"), now = opts.filter((v) => v.endsWith("_theme"));
  const bg = getComputedStyle(document.querySelector(".stApp") || document.body).backgroundColor;
  const rgb = (bg.match(/\\d+/g) || [255, 255, 255]).slice(0, 3).map(Number);
  const drawnDark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 128;
  const wrong = want !== "" && drawnDark !== (want === "dark_theme") && now.join() !== want;
  if (!changed && !wrong) return;
  q.delete("embed_options");
  opts.filter((v) => !v.endsWith("_theme")).concat(want ? [want] : []).forEach((v) => q.append("embed_options", v));
  if (theme === "auto") q.delete("theme"); else q.set("theme", theme);
  window.location.replace(url.toString());
})();
</script>"""


def theme_sync_js(theme: str, changed: bool) -> str:
    """The constant script for one of THEMES (no user text reaches it: an unknown value is "auto")."""
    theme = theme if theme in EMBED_THEME else "auto"
    return THEME_SYNC_JS % {"theme": theme, "want": EMBED_THEME[theme], "changed": str(bool(changed)).lower()}


def sidebar() -> Settings:
    """Device, seed and presenter mode, on every page. Returns them as :class:`Settings`."""
    _set_threads()
    stage.begin_run()
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
        st.selectbox("Theme", THEMES, key="theme", bind="query-params",
                     help="dark reads best on a projector; auto follows your system. Kept in the URL "
                          "(changing it reloads the page, which keeps every setting).")
        st.selectbox("Controls", ("show", "hide"), key="controls", bind="query-params",
                     help="'hide' is the screen for a wall: the sidebar starts collapsed, these settings and "
                          "the page's controls fold away, explanations are hidden: the title, one "
                          "sentence and the charts are left (rides in the URL).")
    choice = choose_device(st.session_state.get("device", "auto"))
    info = describe(choice.device)
    sb.caption(f"Running on **{info['detail']}** · torch {info['torch']}")
    if choice.note:
        sb.warning(choice.note)
    presenter = bool(st.session_state.get("presenter", False))
    if presenter:
        st.html(_PRESENTER_CSS)  # a constant stylesheet; no user text reaches it
    theme = st.session_state.get("theme", "auto")
    changed = st.session_state.get("_theme_was", theme) != theme
    st.session_state["_theme_was"] = theme
    if theme != "auto" or changed:
        st.html(theme_sync_js(theme, changed), unsafe_allow_javascript=True)  # constant: THEME_SYNC_JS
    return Settings(device=choice.device, device_info=info, seed=int(st.session_state.get("seed", 0)),
                    presenter=presenter, theme=theme, show_controls=show)


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
    n = _torch_threads()
    torch.set_num_threads(n)
    return n


def remember_settings(settings: Settings) -> None:
    """app.py renders the sidebar once per run and hands its values to the page."""
    st.session_state["_settings"] = settings


def settings() -> Settings:
    """The sidebar's values: from app.py this run, or (a page run on its own, as in a test) by
    rendering the sidebar here."""
    got = st.session_state.pop("_settings", None)
    return got if got is not None else sidebar()
