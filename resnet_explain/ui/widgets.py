"""Output helpers every page uses: a chart with PNG/SVG/CSV export, the real source of a function,
and the "next step" link."""

from __future__ import annotations

import functools
import inspect
import re

import numpy as np
import streamlit as st

from ..charts.diagram import to_dot
from ..charts.export import chart_title, networks_subtitle, to_csv, to_image
from ..charts.palette import with_palette
from ..content.story import next_step
from ..data.upload import UploadError, load_image
from ..spec import estimate_cost
from .cached_chart import CachedChart, presenter_style


def chart_with_export(chart, data, name: str, key: str, title: str | None = None,
                      select: str | None = None):
    """Show a chart full width, with PNG/SVG (rendered on click) and CSV downloads. ``chart`` is an
    Altair chart or, cheaper on every visit, a :func:`.cached_chart.cached_chart` (drawn from a
    spec cached per input; built only for an export).

    ``select`` names a point selection in the chart: a click on the chart then reruns the page
    and this returns Streamlit's selection event (``event["selection"][select]``); else None.

    The exported images carry a title (``title``, else what the chart's axes say) and, where the
    data has a network and its twin, a subtitle saying which line is which. The buttons sit in a
    wrapping row at their own width, so "PNG", "SVG", "CSV" stay readable in a narrow column.
    Titles, images and the CSV are made only when a button is clicked."""
    presenter = bool(st.session_state.get("presenter"))  # readable from the back of the room
    lazy = chart if isinstance(chart, CachedChart) else None
    if lazy is None:
        chart = with_palette(chart)  # projector-safe colours for any colour channel without a scale
        chart = presenter_style(chart) if presenter else chart
        spec = None
    else:
        spec = lazy.spec(presenter)

    def built():
        return chart if lazy is None else lazy.build(presenter)

    def image(fmt: str) -> bytes:
        c = built()
        return to_image(c, fmt, title=title or chart_title(c, name), subtitle=networks_subtitle(data))

    draw = dict(width="stretch", on_select="rerun", selection_mode=[select], key=f"{key}_chart") \
        if select else dict(width="stretch")
    event = st.altair_chart(chart, **draw) if spec is None else st.vega_lite_chart(spec, **draw)
    with st.container(horizontal=True, gap="small", key=f"aside_export_{key}"):  # not on stage
        st.download_button("PNG", data=lambda: image("png"),
                           file_name=f"{name}.png", mime="image/png", key=f"{key}_png",
                           icon=":material/image:", on_click="ignore", help="The chart as an image")
        st.download_button("SVG", data=lambda: image("svg"),
                           file_name=f"{name}.svg", mime="image/svg+xml", key=f"{key}_svg",
                           icon=":material/draw:", on_click="ignore", help="The chart as a vector image")
        st.download_button("CSV", data=lambda: to_csv(data), file_name=f"{name}.csv", mime="text/csv",
                           key=f"{key}_csv", icon=":material/table:", on_click="ignore",
                           help="The numbers behind the chart")
    return event if select else None


def diagram(spec, collapse: bool = True, highlight: str | None = None) -> None:
    """The network's Graphviz diagram (charts.diagram.to_dot) in the colours of the theme the page
    is drawn in: a white diagram on the dark theme was a white slab on a projector."""
    st.graphviz_chart(to_dot(spec, collapse=collapse, highlight=highlight, theme=drawn_theme()), width="stretch")


def drawn_theme() -> str:
    """"light" or "dark": what the browser draws (st.context.theme, which follows "auto" too),
    else the sidebar's choice, else light."""
    kind = getattr(getattr(st.context, "theme", None), "type", None)
    if kind in ("light", "dark"):
        return kind
    chosen = st.session_state.get("theme", "auto")
    return chosen if chosen in ("light", "dark") else "light"


def lazy_expander(label: str, key: str):
    """A collapsed expander whose content a page draws only when ``.open`` (Streamlit's lazy
    expander: opening it reruns the page, cheap since what pages show is cached). For content a
    visitor rarely opens that would make every new browser fetch Streamlit's code for it: a data
    grid (~1.2 MB), the syntax highlighter (1.6 MB), Graphviz (0.8 MB) (scripts/bench_pages.py
    --cpu; issue 24)."""
    return st.expander(label, key=key, on_change="rerun")


def show_code(obj, label: str = "Show the code") -> None:
    """Render the real source of ``obj`` (so the prose cannot drift from the code) in a
    :func:`lazy_expander`."""
    key = "code_" + re.sub(r"\W", "_", f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}")
    box = lazy_expander(label, key)
    if box.open:
        box.code(source(obj), language="python")


@functools.lru_cache(maxsize=64)
def source(obj) -> str:
    """``inspect.getsource(obj)``, read once per process (it re-tokenised the module on every
    visit, ~1 ms a call); the server does not reload changed code either (fileWatcherType none)."""
    return inspect.getsource(obj)


def next_step_footer(url_path: str | None) -> None:
    """A "next step" link at the bottom of every page, in story order."""
    nxt = next_step(url_path)
    if nxt is None:
        return
    st.divider()
    st.page_link(nxt.file, label=f"Next: {nxt.title}", icon=":material/arrow_forward:")


def cost_metrics(spec, batch: int, limit_bytes: int | None = None) -> None:
    """Parameters, forward FLOPs and training memory of ``spec`` (estimated before anything is
    allocated), and a warning when the memory is over ``limit_bytes``."""
    cost = estimate_cost(spec)
    mem = cost.memory_bytes(batch)
    # A wrapping row of metrics at their own width: in a narrow column they move to a second
    # line instead of being cut ("81.…").
    with st.container(horizontal=True, gap="small"):
        st.metric("Parameters", _si(cost.params), width="content",
                  help=f"{cost.params:,} parameters, counted from the spec (equal to the built model's).")
        st.metric("FLOPs", _si(cost.flops), width="content",
                  help=f"{cost.flops:,} forward FLOPs per image (2 per multiply-add, weighted layers).")
        st.metric("Memory", f"{mem / 2**20:,.0f} MiB", width="content",
                  help=f"Training-step memory at batch {batch}, estimated before allocation: weights, "
                       "gradients and momentum, plus the activations a backward pass keeps (float32).")
    if limit_bytes is not None and mem > limit_bytes:
        st.warning(f"Over this server's limit of {limit_bytes / 2**20:,.0f} MiB per probe: "
                   "Gradient Flow will refuse it. Use fewer or narrower blocks.")


def _si(n: float) -> str:
    """269,722 -> "270 k", 81,100,000 -> "81.1 M": short enough for a metric in a narrow column."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.3g} {unit}"
    return f"{n:g}"


def image_picker(test, seed: int, key: str, where=None):
    """Pick an image to explain: from ``test`` (an ImageSet: by class, by index, or a seeded random
    draw) or an uploaded PNG/JPEG (validated and resized to the set's size, never stored). Returns
    (uint8 image (C, H, W) as numpy, mask or None, label or None); stops the page while an upload
    is missing or refused. Widget keys start with ``key``; the widgets go in ``where`` (a
    container; default: the page)."""
    s1, s2, s3 = (where or st).columns([2, 1, 1])
    source = s1.radio("Image", ("from the test set", "upload a PNG/JPEG"), horizontal=True, key=f"{key}_src",
                      bind="query-params")
    if source == "from the test set":
        classes = list(test.classes)
        cls = s2.selectbox("Class", ["any"] + classes, key=f"{key}_cls", bind="query-params")
        pool = np.arange(len(test)) if cls == "any" else np.flatnonzero(test.y.numpy() == classes.index(cls))
        if s3.button("Random image", icon=":material/casino:", key=f"{key}_rand"):
            # seeded by the sidebar seed and a per-session counter: reproducible, a new image per click
            st.session_state[f"{key}_draws"] = st.session_state.get(f"{key}_draws", 0) + 1
            rng = np.random.default_rng([seed, st.session_state[f"{key}_draws"]])
            st.session_state[f"{key}_idx"] = int(rng.integers(len(pool)))
        if not 0 <= st.session_state.get(f"{key}_idx", 0) < len(pool):  # a smaller class was picked
            st.session_state[f"{key}_idx"] = 0
        i = int(pool[s3.number_input("Index", 0, len(pool) - 1, key=f"{key}_idx", bind="query-params",
                                     help=f"{len(pool)} test images of this class.")])
        mask = None if test.mask is None else test.mask[i].numpy()
        return test.x[i].numpy(), mask, int(test.y[i])
    up = s2.file_uploader("PNG or JPEG, at most 5 MB", type=["png", "jpg", "jpeg"], key=f"{key}_up")
    if up is None:
        st.info("Choose a file. It is checked, decoded and resized to the models' "
                f"{test.size}×{test.size} input; it is never stored.")
        st.stop()
    try:
        image, info = load_image(up.getvalue(), size=test.size)
    except UploadError as exc:
        st.error(f"That file was refused: {exc}.")
        st.stop()
    st.caption(f"{info['format']} {info['original_size'][0]}×{info['original_size'][1]} resized to "
               f"{test.size}×{test.size}. The models were trained on generated shapes, so a photo "
               "is far from anything they have seen: read their answers with that in mind.")
    return image.numpy(), None, None
