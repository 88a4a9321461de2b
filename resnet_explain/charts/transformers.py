"""Transformer charts: gradients and the residual stream at init, the LR x warm-up grid, curves,
the lesion and the logit lens. Tidy frames in (experiments/transformers*.py), Altair out."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import magnitude
from .axes import MID_GREY, PLAIN_COLOR, RESIDUAL_COLOR, RESIDUAL_SHADES, W, dash_legend, legend

# pre-LN the skip's blue, post-LN a darker blue (it has skips too), no skips plain's red.
VARIANT_ORDER = ["pre-LN", "post-LN", "no skips"]
TF_COLORS = alt.Scale(domain=VARIANT_ORDER, range=[RESIDUAL_COLOR, RESIDUAL_SHADES[1], PLAIN_COLOR])


def _color(title: str = "network") -> alt.Color:
    return alt.Color("variant:N", scale=TF_COLORS, title=title, legend=legend(orient="top"))


def _log10(s: pd.Series) -> pd.Series:
    """:func:`resnet_explain.magnitude.log10` of each norm: 0 (underflow) or non-finite becomes NaN,
    drawn as a gap, never as a number."""
    return s.astype("float64").map(magnitude.log10)


def at(df: pd.DataFrame, depth: int, init: str = "default") -> pd.DataFrame:
    """The rows of one depth and one init (tables stored before the init column: GPT-2's)."""
    inits = df["init"] if "init" in df else pd.Series("default", index=df.index)
    return df[(df["depth"] == depth) & (inits == init)]


def grad_stream_chart(streams: pd.DataFrame, depth: int, init: str = "default", height: int = 300) -> alt.Chart:
    """log10 ‖∂L/∂x‖ on the residual stream after each sublayer, input -> output, per network."""
    d = at(streams, depth, init).assign(log10_grad=lambda f: _log10(f["grad_norm"]))
    order = list(dict.fromkeys(d.sort_values("position")["block"]))
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("block:O", sort=order, title="sublayer (input → output)"),
        y=alt.Y("log10_grad:Q", title="log10 ‖∂L/∂x‖ after the sublayer"),
        color=_color(), tooltip=["variant:N", "block:O", alt.Tooltip("grad_norm:Q", format=".3e")],
    ).properties(width=W, height=height)


def param_grad_chart(params: pd.DataFrame, depth: int, init: str = "default", height: int = 280) -> alt.Chart:
    """Per layer, log10 of the gradient norm of each sublayer's output projection (the MLP's is
    Xiong et al.'s W2), per network: level (pre-LN, their prediction) or rising toward the output
    (post-LN, their prediction)?"""
    keep = params["matrix"].isin(["mlp output projection", "attn output projection"])
    d = at(params[keep], depth, init).assign(log10_grad=lambda f: _log10(f["grad_norm"]))
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer (input → output)"),
        y=alt.Y("log10_grad:Q", title="log10 ‖∂L/∂W‖"),
        color=_color(), strokeDash=alt.StrokeDash("matrix:N", title="matrix", legend=dash_legend(orient="top")),
        tooltip=["variant:N", "layer:O", "matrix:N", alt.Tooltip("grad_norm:Q", format=".3e")],
    ).properties(width=W, height=height)


def stream_chart(streams: pd.DataFrame, depth: int, init: str = "default", height: int = 240) -> alt.VConcatChart:
    """Above: the stream's norm after each sublayer (mean over tokens). Below: each sublayer's
    share ‖F(x)‖/‖x‖ of the stream it reads (log scale)."""
    d = at(streams, depth, init)
    order = list(dict.fromkeys(d.sort_values("position")["block"]))
    x = alt.X("block:O", sort=order, title="sublayer (input → output)")
    top = alt.Chart(d).mark_line(point=True).encode(
        x=x, y=alt.Y("stream_norm:Q", title="‖stream‖ (mean over tokens)", scale=alt.Scale(type="log")),
        color=_color(), tooltip=["variant:N", "block:O", alt.Tooltip("stream_norm:Q", format=".3g")],
    ).properties(width=W, height=height)
    low = alt.Chart(d[d["branch_share"] > 0]).mark_line(point=True).encode(
        x=x, y=alt.Y("branch_share:Q", title="‖F(x)‖ / ‖x‖", scale=alt.Scale(type="log")),
        color=_color(), tooltip=["variant:N", "block:O", alt.Tooltip("branch_share:Q", format=".3g")],
    ).properties(width=W, height=height)
    return alt.vconcat(top, low)


def grid_long(finals: pd.DataFrame) -> pd.DataFrame:
    """One row per cell with a label: the loss, or "diverged"."""
    d = finals.copy()
    d["lr_label"] = d["lr"].map(lambda v: f"{v:g}")
    d["label"] = np.where(d["diverged"].astype(bool), "diverged",
                          d["val_loss"].map(lambda v: f"{v:.2f}" if np.isfinite(v) else "—"))
    return d


def grid_chart(finals: pd.DataFrame, height: int = 150) -> alt.FacetChart:
    """Final validation loss (nats per byte) per learning rate x warm-up, one panel per network;
    a diverged run is grey and says so."""
    d = grid_long(finals)
    lrs = [f"{v:g}" for v in sorted(d["lr"].unique())]
    base = alt.Chart(d).encode(
        x=alt.X("lr_label:O", sort=lrs, title="peak learning rate (AdamW)"),
        y=alt.Y("warmup_steps:O", title="warm-up steps", sort="ascending"))
    cells = base.mark_rect().encode(
        color=alt.Color("val_loss:Q", title="validation loss", scale=alt.Scale(scheme="viridis", reverse=True)),
        tooltip=["variant:N", "lr:Q", "warmup_steps:O", alt.Tooltip("val_loss:Q", format=".3f"),
                 alt.Tooltip("train_loss:Q", format=".3f"), "diverged:N", "run_id:N"])
    text = base.mark_text(fontSize=13, color="white").encode(text="label:N")
    return alt.layer(cells, text, data=d).properties(width=260, height=height).facet(
        column=alt.Column("variant:N", sort=VARIANT_ORDER, title=None))


def curves_chart(curves: pd.DataFrame, lr: float, height: int = 300) -> alt.Chart:
    """Validation loss against steps at one learning rate: a line per network and warm-up."""
    d = curves[np.isclose(curves["lr"], lr)].copy()
    d["warm-up"] = d["warmup_steps"].map(lambda w: f"{int(w)} steps")
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("val_loss:Q", title="validation loss (nats per byte)"),
        color=_color(), strokeDash=alt.StrokeDash("warm-up:N", legend=dash_legend(orient="top")),
        detail="warmup_steps:N",
        tooltip=["variant:N", "warm-up:N", "step:Q", alt.Tooltip("val_loss:Q", format=".3f"),
                 alt.Tooltip("grad_norm_max:Q", format=".3g", title="largest gradient norm")],
    ).properties(width=W, height=height)


def lesion_chart(lesion: pd.DataFrame, unit: str = "layer", height: int = 280) -> alt.Chart:
    """Validation loss added by deleting one layer (or sublayer), per network."""
    d = lesion[lesion["unit"] == unit]
    order = list(dict.fromkeys(d.sort_values(["layer", "removed"])["removed"]))
    return alt.Chart(d).mark_bar().encode(
        x=alt.X("removed:N", sort=order, title=f"{unit} deleted (input → output)"),
        xOffset=alt.XOffset("variant:N", sort=VARIANT_ORDER),
        y=alt.Y("delta:Q", title="validation loss added (nats per byte)"),
        color=_color(), tooltip=["variant:N", "removed:N", alt.Tooltip("val_loss:Q", format=".3f"),
                                 alt.Tooltip("delta:Q", format="+.3f")],
    ).properties(width=W, height=height)


def lens_chart(lens: pd.DataFrame, height: int = 280) -> alt.Chart:
    """The logit lens: next-byte loss of the stream decoded after the embedding and each layer."""
    order = list(dict.fromkeys(lens.sort_values("layer")["after"]))
    return alt.Chart(lens).mark_line(point=True).encode(
        x=alt.X("after:N", sort=order, title="residual stream decoded after"),
        y=alt.Y("val_loss:Q", title="validation loss (nats per byte)"),
        color=_color(), tooltip=["variant:N", "after:N", alt.Tooltip("val_loss:Q", format=".3f")],
    ).properties(width=W, height=height)


SORT_METRICS = {"token_acc": "per token", "exact_acc": "exact sequence"}


def sort_long(finals: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """One row per (network, metric) and per (baseline, metric): accuracy on the held-out sequences."""
    cols = list(SORT_METRICS)
    nets = finals.melt(id_vars=["variant", "depth"], value_vars=cols, var_name="metric", value_name="accuracy")
    base = baselines.melt(id_vars=["baseline"], value_vars=cols, var_name="metric", value_name="accuracy")
    d = pd.concat([nets, base], ignore_index=True)
    d["metric"] = d["metric"].map(SORT_METRICS)
    return d


def sort_chart(finals: pd.DataFrame, baselines: pd.DataFrame, height: int = 260) -> alt.FacetChart:
    """Held-out sorting accuracy against depth, per network; the baselines that do not read the
    input as dashed grey rules. One panel per metric (per token, exact sequence)."""
    d = sort_long(finals, baselines)
    y = alt.Y("accuracy:Q", title="held-out accuracy", scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="%"))
    # Where networks tie (every one at 100 %), the first is drawn widest below the others, so each
    # colour still shows around the one above it.
    base = alt.Chart().encode(
        x=alt.X("depth:O", title="layers", axis=alt.Axis(labelAngle=0)), y=y, color=_color(),
        tooltip=["variant:N", "depth:O", "metric:N", alt.Tooltip("accuracy:Q", format=".1%")],
    ).transform_filter("isValid(datum.variant)")
    lines = alt.layer(*[  # one layer per network, in VARIANT_ORDER: the first at the bottom
        base.transform_filter(alt.datum.variant == v).mark_line(point=alt.OverlayMarkDef(size=size, filled=True),
                                                                strokeWidth=width)
        for v, width, size in zip(VARIANT_ORDER, (6, 3.5, 1.8), (200, 80, 25))])
    rules = alt.Chart().mark_rule(color=MID_GREY, strokeWidth=1.5).encode(
        y=y, strokeDash=alt.StrokeDash("baseline:N", title="reads no input", legend=dash_legend(orient="top")),
        tooltip=["baseline:N", "metric:N", alt.Tooltip("accuracy:Q", format=".1%")],
    ).transform_filter("isValid(datum.baseline)")
    return alt.layer(lines, rules, data=d).properties(width=260, height=height).facet(
        column=alt.Column("metric:N", sort=list(SORT_METRICS.values()), title=None))


def sort_curves_chart(curves: pd.DataFrame, height: int = 260) -> alt.Chart:
    """Held-out loss on the sorted half against steps (log scale: a sorted run's loss falls by
    decades): a line per network, dashes per depth."""
    d = curves.assign(layers=curves["depth"].map(lambda v: f"{int(v)} layer{'s' if int(v) != 1 else ''}"))
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("val_loss:Q", title="held-out loss (nats per sorted symbol)", scale=alt.Scale(type="log")),
        color=_color(), strokeDash=alt.StrokeDash("layers:N", legend=dash_legend(orient="top"),
                                                  sort=sorted(d["layers"].unique(), key=lambda t: int(t.split()[0]))),
        detail="depth:O", tooltip=["variant:N", "depth:O", "step:Q", alt.Tooltip("val_loss:Q", format=".3f")],
    ).properties(width=W, height=height)


def seeds_chart(cells: pd.DataFrame, unigram: float | None = None, height: int = 200) -> alt.LayerChart:
    """Final validation loss of each seed at each warm-up (one learning rate, one network); the
    byte-frequency loss as a dashed, labelled rule (at or above it: the run learnt no context)."""
    d = cells.assign(seed=cells["seed"].map(lambda v: f"seed {int(v)}"))
    pts = alt.Chart(d).mark_point(size=120, filled=True).encode(
        x=alt.X("warmup_steps:O", title="warm-up steps", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("seed:N"),
        y=alt.Y("val_loss:Q", title="validation loss (nats per byte)", scale=alt.Scale(zero=False)),
        shape=alt.Shape("seed:N", legend=legend(orient="top", title="post-LN, lr 0.001")),
        color=alt.Color("variant:N", scale=TF_COLORS, legend=None),
        tooltip=["seed:N", "warmup_steps:O", alt.Tooltip("val_loss:Q", format=".3f"), "run_id:N"])
    layers = [pts]
    if unigram is not None:
        rule = pd.DataFrame({"val_loss": [float(unigram)], "what": ["byte frequencies only"]})
        base = alt.Chart(rule).encode(y="val_loss:Q", tooltip=["what:N", alt.Tooltip("val_loss:Q", format=".3f")])
        layers += [base.mark_rule(color=MID_GREY, strokeDash=[5, 4]),
                   base.mark_text(align="left", dx=4, dy=-7, color=MID_GREY).encode(x=alt.value(0), text="what:N")]
    return alt.layer(*layers).properties(width=W, height=height)
