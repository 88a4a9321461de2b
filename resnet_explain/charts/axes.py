"""What every chart shares: the plain/residual colours, the block axis, and the ▼ markers for
values that have no finite log10 (0 in float32, NaN, Inf), drawn at a floor and never dropped."""

from __future__ import annotations

import altair as alt
import pandas as pd

from .. import magnitude

W = "container"  # charts fill the page's width
VARIANT_COLORS = alt.Scale(domain=["residual", "plain"], range=["#1f77b4", "#d62728"])


def block_order(long: pd.DataFrame) -> list[str]:
    """Block names in network order (by ``position``), each once."""
    return list(dict.fromkeys(long.sort_values("position")["block"]))


def xblock(order, title: str = "block (input → output)") -> alt.X:
    return alt.X("block:O", sort=order, title=title, axis=alt.Axis(labelAngle=-60, labelOverlap=True))


def flagged_markers(long: pd.DataFrame, x, color=None, tooltip=None, label: bool = False) -> list:
    """▼ markers for the rows whose status is not ``measured`` (drawn at their floor ``y``), and
    with ``label`` one text per status beside the first of them."""
    flagged = long[long["status"] != magnitude.MEASURED]
    if not len(flagged):
        return []
    enc = {"x": x, "y": "y:Q"}
    if color is not None:
        enc["color"] = color
    if tooltip is not None:
        enc["tooltip"] = tooltip
    layers = [alt.Chart(flagged).mark_point(shape="triangle-down", size=160, filled=True).encode(**enc)]
    if label:
        layers.append(alt.Chart(flagged.drop_duplicates("status")).mark_text(
            align="left", dx=8, dy=-10, fontSize=12).encode(x=x, y="y:Q", text="status:N"))
    return layers
