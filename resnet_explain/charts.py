"""Pure chart functions: tidy DataFrame -> alt.Chart. No streamlit, no torch.

Values spanning many decades are plotted as log10 computed in the data (float64), not with a log
scale: a log scale silently drops zeros, and a gradient that is exactly 0 in float32 is a fact to
show ("underflow"), not a row to lose.
"""

from __future__ import annotations

import io

import altair as alt
import numpy as np
import pandas as pd

VARIANT_COLORS = alt.Scale(domain=["residual", "plain"], range=["#1f77b4", "#d62728"])


def _floor_for_underflow(values: pd.Series) -> float:
    finite = values[np.isfinite(values)]
    return (float(finite.min()) if len(finite) else 0.0) - 1.0


def gradflow_long(frames: dict[str, pd.DataFrame], yours: str | None = None) -> pd.DataFrame:
    """Stack per-variant probe tables into one long table with a plotted y and a status.

    ``yours`` names the variant the user built (drawn solid; the other is its dashed twin).

    Rows whose gradient is 0 (float32 underflow) or NaN/Inf keep their place: they are drawn at
    the bottom of the chart with their status, never dropped.
    """
    parts = []
    for variant, df in frames.items():
        d = df.copy()
        d["variant"] = variant
        d["network"] = "yours" if (yours is None or variant == yours) else "twin"
        parts.append(d)
    long = pd.concat(parts, ignore_index=True)
    floor = _floor_for_underflow(long["log10_grad_norm"])
    status = np.where(long["has_nan"], "NaN", np.where(long["has_inf"], "Inf",
                      np.where(long["underflow"], "0 in float32 (underflow)", "measured")))
    long["status"] = status
    long["y"] = np.where(np.isfinite(long["log10_grad_norm"]), long["log10_grad_norm"], floor)
    long["grad_norm_text"] = [("0 (underflow)" if u else f"{g:.3e}")
                              for g, u in zip(long["grad_norm"], long["underflow"])]
    return long


def grad_norm_chart(long: pd.DataFrame, theory: pd.DataFrame | None = None,
                    height: int = 340) -> alt.Chart:
    """Per-block ||dL/dx_l|| (log10), plain vs residual overlaid; optional dashed theory line."""
    order = list(dict.fromkeys(long.sort_values("position")["block"]))
    x = alt.X("block:O", sort=order, title="block (input → output)",
              axis=alt.Axis(labelAngle=-60, labelOverlap=True))
    base = alt.Chart(long)
    tooltip = [alt.Tooltip("variant:N"), alt.Tooltip("network:N"), alt.Tooltip("block:O"),
               alt.Tooltip("grad_norm_text:N", title="‖∂L/∂x‖"),
               alt.Tooltip("log10_grad_norm:Q", title="log10", format=".2f"),
               alt.Tooltip("status:N")]
    color = alt.Color("variant:N", scale=VARIANT_COLORS, title=None)
    dash = alt.StrokeDash("network:N", title=None,
                          scale=alt.Scale(domain=["yours", "twin"], range=[[1, 0], [5, 4]]))
    width = alt.StrokeWidth("network:N", legend=None,
                            scale=alt.Scale(domain=["yours", "twin"], range=[3.5, 1.5]))
    line = base.mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        x=x, y=alt.Y("y:Q", title="log10 ‖∂L/∂x‖ at block output"), color=color,
        strokeDash=dash, strokeWidth=width, detail="variant:N", tooltip=tooltip)
    layers = [line]
    flagged = long[long["status"] != "measured"]
    if len(flagged):
        layers.append(alt.Chart(flagged).mark_point(shape="triangle-down", size=160, filled=True).encode(
            x=x, y="y:Q", color=color, tooltip=tooltip))
        layers.append(alt.Chart(flagged.drop_duplicates("status")).mark_text(
            align="left", dx=8, dy=-10, fontSize=12).encode(x=x, y="y:Q", text="status:N"))
    if theory is not None and len(theory):
        layers.append(alt.Chart(theory).mark_line(strokeDash=[6, 4], color="#555").encode(
            x=x, y="log10:Q", detail="curve:N",
            tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("log10:Q", format=".2f")]))
    return alt.layer(*layers).properties(height=height, width="container")


def split_long(df: pd.DataFrame) -> pd.DataFrame:
    """Identity term vs residual-branch term per residual block, long form (log10)."""
    d = df[df["skip"]]
    rows = []
    for r in d.itertuples():
        for term, v in (("identity (shortcut) term", r.identity_norm),
                        ("residual-branch term J_Fᵀg", r.residual_norm)):
            rows.append({"block": r.block, "position": r.position, "term": term, "norm": v,
                         "log10": np.log10(v) if v > 0 else np.nan})
    return pd.DataFrame(rows, columns=["block", "position", "term", "norm", "log10"])


def split_chart(split: pd.DataFrame, height: int = 300) -> alt.Chart:
    """Both terms per residual block as points on a log10 axis (bars would make the smaller,
    more negative log look longer)."""
    order = list(dict.fromkeys(split.sort_values("position")["block"]))
    return alt.Chart(split).mark_line(point=alt.OverlayMarkDef(size=60)).encode(
        x=alt.X("block:O", sort=order, title="residual block (input → output)",
                axis=alt.Axis(labelAngle=-60, labelOverlap=True)),
        y=alt.Y("log10:Q", title="log10 norm of the term"),
        color=alt.Color("term:N", title=None, scale=alt.Scale(range=["#1f77b4", "#ff7f0e"])),
        tooltip=["block:O", "term:N", alt.Tooltip("norm:Q", format=".3e"),
                 alt.Tooltip("log10:Q", format=".2f")],
    ).properties(height=height, width="container")


def weight_grad_long(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Weight matrices / conv kernels only (not biases or norm scales), per variant, in order."""
    parts = []
    for variant, p in frames.items():
        d = p[p["param"].str.endswith("weight") & p["shape"].str.contains("x")].copy()
        d["variant"] = variant
        d["layer"] = np.arange(len(d))
        parts.append(d)
    long = pd.concat(parts, ignore_index=True)
    floor = _floor_for_underflow(long["log10_grad_norm"])
    long["y"] = np.where(np.isfinite(long["log10_grad_norm"]), long["log10_grad_norm"], floor)
    long["status"] = np.where(long["underflow"], "0 in float32 (underflow)", "measured")
    return long


def weight_grad_chart(long: pd.DataFrame, height: int = 280) -> alt.Chart:
    return alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
        x=alt.X("layer:Q", title="weighted layer (input → output)"),
        y=alt.Y("y:Q", title="log10 ‖∂L/∂W‖"),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None),
        tooltip=["variant:N", "param:N", "shape:N", alt.Tooltip("grad_norm:Q", format=".3e"),
                 alt.Tooltip("weight_norm:Q", format=".3e"), "status:N"],
    ).properties(height=height, width="container")


def to_image(chart: alt.Chart, fmt: str = "png", width: int = 900) -> bytes:
    """Render a chart to PNG or SVG bytes with vl-convert (offline, no browser)."""
    spec = chart.properties(width=width).to_dict() if _has_container_width(chart) else chart.to_dict()
    import vl_convert as vlc

    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=2)
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode()
    raise ValueError(f"unknown image format {fmt!r}")


def _has_container_width(chart) -> bool:
    return getattr(chart, "width", None) == "container"


def to_csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()


def block_share_chart(df: pd.DataFrame, height: int = 300) -> alt.Chart:
    """Share of f(x) − f(baseline) attributed through each block's branch, plain vs residual."""
    order = list(dict.fromkeys(df.sort_values("position")["block"]))
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=50)).encode(
        x=alt.X("block:O", sort=order, title="block (input → output)",
                axis=alt.Axis(labelAngle=-60, labelOverlap=True)),
        y=alt.Y("share_of_total:Q", title="share of f(x) − f(baseline) through the branch",
                axis=alt.Axis(format="%")),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None),
        tooltip=["variant:N", "block:O", alt.Tooltip("share_of_total:Q", format=".1%"),
                 alt.Tooltip("attribution:Q", format=".4f"),
                 alt.Tooltip("f_x_minus_f_baseline:Q", format=".4f")],
    ).properties(height=height, width="container")


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
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None),
        tooltip=["model:N", "method:N", "score:N", alt.Tooltip("value:Q", format=".1%"),
                 alt.Tooltip("mask_share_of_image:Q", title="mask share of image", format=".1%")])
    ref = alt.Chart().mark_rule(strokeDash=[4, 3], color="#333").encode(x="mean(mask_share_of_image):Q")
    return alt.layer(bars, ref, data=long).properties(height=height, width=320).facet(
        column=alt.Column("score:N", title=None))
