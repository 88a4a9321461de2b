"""Attribution charts: per-block shares of f(x) − f(baseline), and method scores against masks."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .axes import MID_GREY, VARIANT_COLORS, W, block_order, fit_title, legend, name_tooltips, with_readable, xblock


def block_share_chart(df: pd.DataFrame, height: int = 300) -> alt.Chart:
    """Share of f(x) − f(baseline) attributed through each block's branch, plain vs residual."""
    df = with_readable(df)
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=50)).encode(
        x=xblock(block_order(df)),
        y=alt.Y("share_of_total:Q", title=fit_title("share of f(x) − f(baseline) through the branch",
                                                    height),
                axis=alt.Axis(format="%")),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend()),
        tooltip=["variant:N", *name_tooltips(df), alt.Tooltip("share_of_total:Q", format=".1%"),
                 alt.Tooltip("attribution:Q", format=".4f"),
                 alt.Tooltip("f_x_minus_f_baseline:Q", format=".4f")],
    ).properties(height=height, width=W)


def score_chart(table: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Pointing game and positive share in mask per method, per model; the mask's own share of the
    image (what an evenly spread map scores) as a dashed reference."""
    long = table.melt(id_vars=["model", "method", "mask_share_of_image"],
                      value_vars=["pointing_game", "positive_share_in_mask"],
                      var_name="score", value_name="value")
    long["variant"] = np.where(long["model"].str.startswith("plain"), "plain", "residual")
    bars = alt.Chart().mark_bar().encode(
        y=alt.Y("method:N", title=None),
        yOffset="variant:N",
        x=alt.X("value:Q", title=None, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend()),
        tooltip=["model:N", "method:N", "score:N", alt.Tooltip("value:Q", format=".1%"),
                 alt.Tooltip("mask_share_of_image:Q", title="mask share of image", format=".1%")])
    ref = alt.Chart().mark_rule(strokeDash=[4, 3], color=MID_GREY).encode(x="mean(mask_share_of_image):Q")
    ref_text = alt.Chart().mark_text(align="left", baseline="top", dx=4, y=2, color=MID_GREY, fontSize=11).encode(
        x="mean(mask_share_of_image):Q", text=alt.value("dashed: an evenly spread map"))
    return alt.layer(bars, ref, ref_text, data=long).properties(height=height, width=320).facet(
        column=alt.Column("score:N", title=None))
