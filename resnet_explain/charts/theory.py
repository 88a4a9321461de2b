"""Pure chart functions for the theory pages: tidy DataFrame -> alt.Chart. No streamlit, no torch.

Same conventions as every chart (:mod:`resnet_explain.charts.axes`): values spanning decades are log10 computed in
the data (float64); rows whose value is 0 in float32 keep their place at a floor, marked ▼ with
their status, never dropped.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from .. import magnitude
from .palette import MID_GREY, OCHRE, PLAIN_COLOR, VERMILLION
from .axes import (
    ACTIVATION_COLORS,
    BRANCH_TERM_COLOR,
    IDENTITY_TERM_COLOR,
    TOTAL_GRAD_COLOR,
    VARIANT_COLORS,
    W,
    activation_init_scale,
    activation_scale,
    block_order,
    dash_legend,
    fit_title,
    flagged_markers,
    legend,
    name_tooltips,
    variant_scale,
    with_readable,
    xblock,
)


def sigmoid_chart(curves: pd.DataFrame, height: int = 260) -> alt.Chart:
    """σ(x) and σ′(x), with the maximum σ′(0) = 0.25 marked. σ′ is drawn in the sigmoid's colour
    (the same line as on :func:`activation_slopes_chart`), σ itself in grey."""
    names = list(dict.fromkeys(curves["curve"]))
    lines = alt.Chart(curves).mark_line(strokeWidth=3).encode(
        x=alt.X("x:Q", title="x"), y=alt.Y("value:Q", title="value"),
        color=alt.Color("curve:N", title=None, legend=legend(), scale=alt.Scale(
            domain=names, range=["#7f7f7f", ACTIVATION_COLORS["sigmoid"]][:len(names)])),
        tooltip=["curve:N", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    peak = pd.DataFrame({"x": [0.0], "value": [0.25], "label": ["σ′(0) = 0.25, the maximum"]})
    rule = alt.Chart(peak).mark_rule(strokeDash=[4, 4], color=MID_GREY).encode(y="value:Q")
    pt = alt.Chart(peak).mark_point(size=120, filled=True, color=ACTIVATION_COLORS["sigmoid"]).encode(
        x="x:Q", y="value:Q")
    txt = alt.Chart(peak).mark_text(align="left", dx=10, dy=-10, fontSize=13).encode(
        x="x:Q", y="value:Q", text="label:N")
    return alt.layer(lines, rule, pt, txt).properties(height=height, width=W)


def activation_slopes_chart(slopes: pd.DataFrame, height: int = 260) -> alt.Chart:
    """The derivative of each activation (``lab.theory.activation_slopes``) on one axis."""
    return alt.Chart(slopes).mark_line(strokeWidth=3).encode(
        x=alt.X("x:Q"), y=alt.Y("slope:Q", title="derivative"),
        color=alt.Color("activation:N", title=None, scale=activation_scale(slopes["activation"]),
                        legend=legend()),
        tooltip=["activation:N", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("slope:Q", format=".3f")],
    ).properties(height=height, width=W)


_VAN_COLORS = alt.Scale(domain=["measured, float32", "measured, float64", "0.25^L (σ′ ≤ 1/4 per layer)", "0.3^L"],
                        range=[PLAIN_COLOR, VERMILLION, MID_GREY, OCHRE])  # plain red, then an orange-red


def vanishing_chart(long: pd.DataFrame, selected_depth: int | None = None, height: int = 380) -> alt.Chart:
    """Measured first/last ratio (float32 and float64) against 0.25^L and 0.3^L, log10 y."""
    tooltip = ["series:N", "depth:Q", alt.Tooltip("layers_crossed:Q", title="L (σ layers crossed)"),
               alt.Tooltip("value_text:N", title="value"), alt.Tooltip("log10:Q", format=".2f"), "status:N"]
    dash = alt.condition(alt.FieldOneOfPredicate("series", ["measured, float32", "measured, float64"]),
                         alt.value([1, 0]), alt.value([6, 4]))
    base = alt.Chart(long).encode(
        x=alt.X("depth:Q", title="network depth (weighted layers)"),
        y=alt.Y("y:Q", title=fit_title("log10 (first-block gradient / last-block gradient)", height)),
        color=alt.Color("series:N", scale=_VAN_COLORS, title=None, legend=legend()), tooltip=tooltip)
    # Underflow rows are not drawn on the line (0 has no log): they get their own ▼ markers.
    ok = alt.datum.status != magnitude.UNDERFLOW
    layers = [base.transform_filter(ok).mark_line(point=alt.OverlayMarkDef(size=30)).encode(
        strokeDash=dash,  # float32 drawn wide underneath, so float64 on top leaves it visible
        strokeWidth=alt.condition(alt.datum.series == "measured, float32", alt.value(6), alt.value(2)))]
    flagged = long[long["status"] == magnitude.UNDERFLOW]
    if len(flagged):
        fl = alt.Chart(flagged).encode(x="depth:Q", y="y:Q", tooltip=tooltip)
        layers.append(fl.mark_point(shape="triangle-down", size=160, filled=True, color="#d62728"))
        layers.append(alt.Chart(flagged.head(1)).mark_text(align="left", dx=8, dy=-12, fontSize=12,
                                                           color="#d62728").encode(
            x="depth:Q", y="y:Q", text=alt.value("▼ " + magnitude.UNDERFLOW)))
    if selected_depth is not None:
        sel = pd.DataFrame({"depth": [selected_depth]})
        layers.append(alt.Chart(sel).mark_rule(color="#2ca02c", strokeWidth=2).encode(x="depth:Q"))
        layers.append(alt.Chart(sel).mark_text(align="left", baseline="top", dx=4, y=4, color="#2ca02c",
                                               fontSize=12).encode(x="depth:Q", text=alt.value("your depth")))
    return alt.layer(*layers).properties(height=height, width=W)


def activation_sweep_chart(sweep: pd.DataFrame, height: int = 360) -> alt.Chart:
    """log10 ratio vs depth for each activation/init; dashed: the predicted ReLU per-layer gain."""
    tooltip = ["label:N", "depth:Q", alt.Tooltip("ratio:Q", format=".3e"),
               alt.Tooltip("log10_ratio:Q", format=".2f"), "status:N"]
    color = alt.Color("label:N", title=None, legend=legend(),
                      scale=activation_init_scale(sweep["label"], sweep["act"], sweep["init"]))
    base = alt.Chart(sweep).encode(x=alt.X("depth:Q", title="network depth (weighted layers)"), color=color)
    pred = sweep.dropna(subset=["predicted_log10"])
    kinds = ["measured", "predicted (ReLU gain per layer)^L"][:1 + bool(len(pred))]
    # Solid measured, dashed predicted: a legend of its own, so the dashes are named on the chart.
    dash = alt.StrokeDash("line:N", title=None, scale=alt.Scale(domain=kinds, range=[[1, 0], [6, 4]][:len(kinds)]),
                          legend=dash_legend() if len(kinds) > 1 else None)
    layers = [base.mark_line(point=alt.OverlayMarkDef(size=30)).transform_calculate(line=f"'{kinds[0]}'").encode(
        y=alt.Y("y:Q", title=fit_title("log10 (first / last block gradient)", height)), tooltip=tooltip,
        strokeDash=dash)]
    if len(pred):
        layers.append(alt.Chart(pred).mark_line(opacity=0.7).transform_calculate(line=f"'{kinds[1]}'").encode(
            x="depth:Q", y="predicted_log10:Q", color=color, strokeDash=dash,
            tooltip=["label:N", alt.Tooltip("predicted_log10:Q", title="predicted log10", format=".2f")]))
    layers += flagged_markers(sweep, alt.X("depth:Q"), color, tooltip)
    return alt.layer(*layers).properties(height=height, width=W)


def blocks_multi_chart(long: pd.DataFrame, height: int = 360, colors: alt.Scale | None = None) -> alt.Chart:
    """Per-block log10 ‖∂L/∂x‖ for any number of named variants (``charts.gradflow_long`` output)."""
    order, long = block_order(long), with_readable(long)
    color = alt.Color("variant:N", title=None, legend=legend(),
                      scale=colors if colors is not None else variant_scale(long["variant"]))
    tooltip = ["variant:N", *name_tooltips(long), alt.Tooltip("grad_norm_text:N", title="‖∂L/∂x‖"),
               alt.Tooltip("log10_grad_norm:Q", format=".2f"), "status:N"]
    layers = [alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=35)).encode(
        x=xblock(order), y=alt.Y("y:Q", title=fit_title("log10 ‖∂L/∂x‖ at block output", height)),
        color=color, tooltip=tooltip)]
    layers += flagged_markers(long, xblock(order), color, tooltip)
    return alt.layer(*layers).properties(height=height, width=W)


_HW_COLORS = alt.Scale(domain=["identity term", "residual-branch term", "‖∂L/∂x‖ at output"],
                       range=[IDENTITY_TERM_COLOR, BRANCH_TERM_COLOR, TOTAL_GRAD_COLOR])


def highway_chart(long: pd.DataFrame, height: int = 340) -> alt.Chart:
    order, long = block_order(long), with_readable(long)
    return alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        x=xblock(order), y=alt.Y("log10:Q", title="log10 norm"),
        color=alt.Color("series:N", scale=_HW_COLORS, title=None, legend=legend()),
        tooltip=[*name_tooltips(long), "series:N", alt.Tooltip("log10:Q", format=".3f")],
    ).properties(height=height, width=W)


_GROWS, _SHRINKS = MID_GREY, OCHRE  # not plain/residual: a gain is neither


def gain_chart(table: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Per-block gain ‖∂L/∂x_in‖/‖∂L/∂x_out‖ as log10 bars around 0 (gain 1)."""
    d = with_readable(table.dropna(subset=["log10_gain"]))
    order = block_order(table)
    return alt.Chart(d).mark_bar().encode(
        x=xblock(order),
        y=alt.Y("log10_gain:Q", title=fit_title("log10 gain of the block (0 = ×1)", height)),
        color=alt.condition(alt.datum.log10_gain >= 0, alt.value(_GROWS), alt.value(_SHRINKS)),
        tooltip=[*name_tooltips(d), alt.Tooltip("gain:Q", format=".4f"), alt.Tooltip("log10_gain:Q", format=".4f")],
    ).properties(height=height, width=W)


def alpha_chart(sweep: pd.DataFrame, y: str = "log10_ratio", title: str = "log10 (first / last block gradient)",
                height: int = 320) -> alt.Chart:
    return alt.Chart(sweep).mark_line(point=alt.OverlayMarkDef(size=50)).encode(
        x=alt.X("alpha:Q", title="residual scale α (branch = α·F(x))"),
        y=alt.Y(f"{y}:Q", title=fit_title(title, height)),
        color=alt.Color("label:N", title=None, scale=variant_scale(sweep["label"]),
                        legend=legend()),
        tooltip=["label:N", "alpha:Q", alt.Tooltip("ratio:Q", format=".3g", title="first/last gradient"),
                 alt.Tooltip("forward_growth:Q", format=".3g", title="act std last/first")],
    ).properties(height=height, width=W)


def sweep_gradient_chart(curves: pd.DataFrame, variant: str, height: int = 240) -> alt.Chart:
    """The standardised input gradient along the 1-D sweep for one variant."""
    d = curves[curves["variant"] == variant]
    return alt.Chart(d).mark_line(strokeWidth=1.5).encode(
        x=alt.X("x:Q", title="input x (one coordinate swept)"),
        y=alt.Y("grad_standardised:Q", title="∂f/∂x, standardised"),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, legend=None),
        tooltip=[alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("grad:Q", format=".4g")],
    ).properties(height=height, width=W, title=variant)


def _correlation_chart(df: pd.DataFrame, x: str, x_title: str, y: str, y_title: str, height: int,
                       point_size: int) -> alt.Chart:
    """A correlation (in [-1, 1]) per variant against ``x``, with a dashed zero line."""
    line = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=point_size)).encode(
        x=alt.X(f"{x}:Q", title=x_title),
        y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend()),
        tooltip=["variant:N", f"{x}:Q", alt.Tooltip(f"{y}:Q", format=".3f")])
    zero = pd.DataFrame({"y": [0.0], "what": ["0: no correlation"]})
    rule = alt.Chart(zero).mark_rule(strokeDash=[4, 4], color=MID_GREY).encode(y="y:Q")
    # named on the chart, not only by the axis: on a wall a dashed grey line reads as a series
    text = alt.Chart(zero).mark_text(align="left", dy=-7, x=4, color=MID_GREY, fontSize=11).encode(
        y="y:Q", text="what:N")
    return alt.layer(line, rule, text).properties(height=height, width=W)


def autocorr_chart(ac: pd.DataFrame, height: int = 280) -> alt.Chart:
    return _correlation_chart(ac, "lag", "lag (sweep points)", "autocorrelation", "autocorrelation r(lag)",
                              height, 30)


def depth_autocorr_chart(summary: pd.DataFrame, height: int = 260) -> alt.Chart:
    return _correlation_chart(summary, "depth", "depth", "lag1_autocorrelation", "lag-1 autocorrelation",
                              height, 50)


_BRANCH_MEASURES = ["‖αF(x)‖ / ‖S(x)‖ (what the branch adds)", "cosine(output, S(x))"]


def branch_chart(df: pd.DataFrame, height: int = 280) -> alt.Chart:
    order = block_order(df)
    long = pd.concat([
        pd.DataFrame({"block": df["block"], "position": df["position"], "measure": _BRANCH_MEASURES[0],
                      "value": df["branch_over_skip"]}),
        pd.DataFrame({"block": df["block"], "position": df["position"], "measure": _BRANCH_MEASURES[1],
                      "value": df["cosine_out_vs_skip"]})], ignore_index=True)
    long = with_readable(long)
    return alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=45)).encode(
        x=xblock(order, "residual block"),
        y=alt.Y("value:Q", title=fit_title("value (a pure copy: 0 and 1)", height)),
        color=alt.Color("measure:N", title=None, legend=legend(),
                        scale=alt.Scale(domain=_BRANCH_MEASURES,
                                        range=[BRANCH_TERM_COLOR, IDENTITY_TERM_COLOR])),
        tooltip=[*name_tooltips(long), "measure:N", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height, width=W)


def training_chart(curves: pd.DataFrame, height: int = 320) -> alt.Chart:
    return alt.Chart(curves).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
        x=alt.X("step:Q", title="training step (Adam)"), y=alt.Y("loss:Q", title="training-set loss"),
        color=alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend()),
        strokeDash=alt.StrokeDash("depth:N", title="depth", scale=alt.Scale(range=[[2, 3], [1, 0]]),
                                  legend=dash_legend()),
        tooltip=["run:N", "step:Q", alt.Tooltip("loss:Q", format=".4f")],
    ).properties(height=height, width=W)


def weight_change_chart(change: pd.DataFrame, height: int = 300) -> alt.Chart:
    """log10 of how far each weight matrix moved relative to its size. A matrix that did not move
    at all (exactly 0 in float32: every update too small to change a weight) keeps its place at
    the floor, marked ▼ like every other value without a log10 (:func:`.axes.flagged_markers`)."""
    d = change.copy()
    d["y"] = magnitude.plot_y(d["log10_rel_change"])
    d["status"] = magnitude.statuses(d["rel_change"])
    d["change_text"] = [magnitude.value_text(v) for v in d["rel_change"]]
    x = alt.X("layer:Q", title="weight matrix (input → output)")
    color = alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend())
    d = with_readable(d, "param")
    tooltip = ["variant:N", *name_tooltips(d, "param", "weight"), alt.Tooltip("change_text:N", title="relative change"),
               "status:N"]
    line = alt.Chart(d).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
        x=x, y=alt.Y("y:Q", title=fit_title("log10 ‖W_after − W_before‖ / ‖W_before‖", height)),
        color=color, tooltip=tooltip)
    return alt.layer(line, *flagged_markers(d, x, color, tooltip, label=True)).properties(
        height=height, width=W)
