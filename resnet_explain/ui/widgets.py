"""Output helpers every page uses: a chart with PNG/SVG/CSV export, the real source of a function,
and the "next step" link."""

from __future__ import annotations

import streamlit as st

def chart_with_export(chart, data, name: str, key: str) -> None:
    """Show an Altair chart full width, with PNG/SVG (rendered on click) and CSV downloads."""
    from ..charts.export import to_csv, to_image

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


def next_step_footer(url_path: str | None) -> None:
    """A "next step" link at the bottom of every page, in story order."""
    from ..content.story import next_step

    nxt = next_step(url_path)
    if nxt is None:
        return
    st.divider()
    st.page_link(nxt.file, label=f"Next: {nxt.title}", icon=":material/arrow_forward:")


def cost_metrics(spec, batch: int, limit_bytes: int | None = None) -> None:
    """Parameters, forward FLOPs and training memory of ``spec`` (estimated before anything is
    allocated), and a warning when the memory is over ``limit_bytes``."""
    from ..spec import estimate_cost

    cost = estimate_cost(spec)
    m = st.columns(3)
    m[0].metric("Parameters", f"{cost.params:,}")
    m[1].metric("Forward FLOPs / image", f"{cost.flops / 1e9:.2f} G" if cost.flops >= 1e8
                else f"{cost.flops / 1e6:.1f} M")
    mem = cost.memory_bytes(batch)
    m[2].metric(f"Training memory, batch {batch}", f"{mem / 2**20:,.0f} MiB",
                help="Estimate before allocation: weights, gradients and momentum, plus the "
                     "activations a backward pass keeps (float32).")
    if limit_bytes is not None and mem > limit_bytes:
        st.warning(f"Over this server's limit of {limit_bytes / 2**20:,.0f} MiB per probe: "
                   "Gradient Flow will refuse it. Use fewer or narrower blocks.")
