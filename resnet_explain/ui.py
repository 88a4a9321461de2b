"""The only streamlit-aware module: shared sidebar, spec <-> URL state, cached computations, export.

State model: the URL is the truth for anything a shared link must restore.
* sidebar settings (seed, device, presenter, controls) are widgets bound to query params;
* the network is one NetSpec, mirrored to its own query keys (``fam``, ``net``, ``act``, ...)
  by ``current_spec`` / ``set_spec``; a link with a bad spec shows a warning and the default.
Results are cached as DataFrames (copied per session by st.cache_data); models are built inside
the cached function and never shared between sessions.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import streamlit as st

from .spec import NON_SPEC_KEYS, NetSpec, SpecError, check_budget, preset

DEFAULT_PRESET = "plain20"
SPEC_KEYS = ("fam", "net", "act", "norm", "init", "zil", "alpha", "inc", "ins", "inf", "stem", "cls")
# Per-request limits for a shared 2-vCPU host; the builder shows the same estimate.
MAX_PROBE_MEMORY = 2 * 2**30
PROBE_BATCH = 32
_PRESENTER_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.35rem !important; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
[data-testid="stMain"] h2 { font-size: 2.3rem !important; }
[data-testid="stMain"] .block-container { max-width: 100% !important; padding-left: 2rem; padding-right: 2rem; }
</style>
"""


# ---------------------------------------------------------------------------------------------
# Sidebar
# ---------------------------------------------------------------------------------------------
def sidebar() -> dict:
    """Device, seed and presenter mode, on every page. Returns the settings as a dict."""
    from .device import DEVICE_CHOICES, available_devices, choose_device, describe

    _set_threads()
    present = available_devices()
    sb = st.sidebar
    show = st.session_state.get("controls", "show") != "hide"
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


# ---------------------------------------------------------------------------------------------
# The network spec in the URL
# ---------------------------------------------------------------------------------------------
def _url_spec_params() -> dict[str, list[str]]:
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp.keys() if k in SPEC_KEYS or k not in NON_SPEC_KEYS}


def current_spec(default: str | NetSpec = DEFAULT_PRESET) -> NetSpec:
    """The session's NetSpec: from the URL when it carries one (a shared link), else the session's
    last spec, else ``default``. Unreadable URLs give a warning and fall back, never an error."""
    url = _url_spec_params()
    written = st.session_state.get("_spec_written")
    spec = st.session_state.get("spec")
    if url and url != written:
        try:
            spec = NetSpec.from_query(url)
        except SpecError as exc:
            st.warning(f"The link's network could not be read — {exc}. Showing the default network.")
            spec = None
    if spec is None:
        spec = default if isinstance(default, NetSpec) else preset(default)
    set_spec(spec)
    return spec


def set_spec(spec: NetSpec) -> None:
    """Make ``spec`` the session's network and mirror it into the URL."""
    st.session_state["spec"] = spec
    params = spec.to_params()
    qp = st.query_params
    for k in list(qp.keys()):
        if (k in SPEC_KEYS or k not in NON_SPEC_KEYS) and k not in params:
            del qp[k]
    for k, v in params.items():
        if qp.get(k) != v:
            qp[k] = v
    st.session_state["_spec_written"] = {k: [v] for k, v in params.items()}


# ---------------------------------------------------------------------------------------------
# One process serves every visitor (a Space runs them all in one Python process): heavy jobs take
# turns through a semaphore, so one visitor's deep network cannot stall everybody's page.
# ---------------------------------------------------------------------------------------------
MAX_JOBS = max(1, int(os.environ.get("RESNET_EXPLAIN_MAX_JOBS", "1")))


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
JOB_WAIT_SECONDS = float(os.environ.get("RESNET_EXPLAIN_JOB_WAIT", "120"))


@st.cache_resource
def _job_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(MAX_JOBS)


class ServerBusy(RuntimeError):
    pass


@contextmanager
def compute_slot():
    """Hold a compute slot for the duration (used *inside* cached functions, so a cache hit never
    waits). No streamlit calls here: cached functions replay their elements."""
    slots = _job_slots()
    if not slots.acquire(timeout=JOB_WAIT_SECONDS):
        raise ServerBusy(f"the server stayed busy for {JOB_WAIT_SECONDS:.0f} s; please try again")
    try:
        yield
    finally:
        slots.release()


@contextmanager
def queued_note(label: str):
    """Around a call that may wait for a slot: say "busy, queued" while every slot is taken."""
    note = st.empty()
    if _job_slots()._value == 0:  # peek only; the real wait happens in compute_slot
        note.info(f"The server is busy with another visitor's computation; {label} is queued…",
                  icon=":material/hourglass_top:")
    try:
        yield
    finally:
        note.empty()


# ---------------------------------------------------------------------------------------------
# Cached computations (DataFrames out; models never leave the function)
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def probe_cached(spec_query: str, seed: int, device: str, batch: int = PROBE_BATCH,
                 float64: bool = False):
    """Probe the spec (by its query string, the cache key) -> (blocks, params, meta)."""
    import torch

    from .gradflow import probe_spec

    spec = NetSpec.from_query(spec_query)
    check_budget(spec, batch, MAX_PROBE_MEMORY)
    with compute_slot():
        res = probe_spec(spec, seed=seed, batch=batch, device=torch.device(device),
                         dtype=torch.float64 if float64 else None)
    return res.blocks, res.params, res.meta


def run_probe(spec: NetSpec, settings: dict, batch: int = PROBE_BATCH, float64: bool = False):
    """Probe with a clear message instead of a traceback for anything the user can cause."""
    t0 = time.perf_counter()
    try:
        check_budget(spec, batch, MAX_PROBE_MEMORY)
        with queued_note("this probe"):
            blocks, params, meta = probe_cached(spec.to_query(), settings["seed"],
                                                settings["device"].type, batch, float64)
    except ServerBusy as exc:
        st.warning(str(exc).capitalize())
        return None
    except SpecError as exc:
        st.error(f"This network is over this server's limits — {exc}")
        return None
    except RuntimeError as exc:  # e.g. CUDA out of memory
        if "out of memory" in str(exc).lower():
            _free_device_memory()
            st.error("The device ran out of memory for this network. Use a smaller batch or fewer "
                     "blocks.")
            return None
        raise
    meta = dict(meta)
    meta["server_seconds"] = time.perf_counter() - t0
    return blocks, params, meta


def _free_device_memory():
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------------------------
def chart_with_export(chart, data, name: str, key: str) -> None:
    """Show an Altair chart full width, with PNG/SVG (rendered on click) and CSV downloads."""
    from .charts import to_csv, to_image

    if st.session_state.get("presenter"):  # readable from the back of the room
        chart = chart.configure_axis(labelFontSize=15, titleFontSize=17).configure_legend(
            labelFontSize=15, titleFontSize=16)
    st.altair_chart(chart, width="stretch")
    cols = st.columns([1, 1, 1, 6])
    cols[0].download_button("PNG", data=lambda: to_image(chart, "png"), file_name=f"{name}.png",
                            mime="image/png", key=f"{key}_png", icon=":material/image:",
                            on_click="ignore")
    cols[1].download_button("SVG", data=lambda: to_image(chart, "svg"), file_name=f"{name}.svg",
                            mime="image/svg+xml", key=f"{key}_svg", icon=":material/draw:",
                            on_click="ignore")
    cols[2].download_button("CSV", data=to_csv(data), file_name=f"{name}.csv", mime="text/csv",
                            key=f"{key}_csv", icon=":material/table:", on_click="ignore")


def show_code(obj, label: str = "Show the code") -> None:
    """Render the real source of ``obj`` (so the prose cannot drift from the code)."""
    import inspect

    with st.expander(label):
        st.code(inspect.getsource(obj), language="python")


def remember_settings(settings: dict) -> None:
    """app.py renders the sidebar once per run and hands its values to the page."""
    st.session_state["_settings"] = settings


def settings() -> dict:
    """The sidebar's values: from app.py this run, or (a page run on its own, as in a test) by
    rendering the sidebar here."""
    got = st.session_state.pop("_settings", None)
    return got if got is not None else sidebar()


def next_step_footer(url_path: str | None) -> None:
    """A "next step" link at the bottom of every page, in story order."""
    from .story import next_step

    nxt = next_step(url_path)
    if nxt is None:
        return
    st.divider()
    st.page_link(nxt.file, label=f"Next: {nxt.title}", icon=":material/arrow_forward:")
