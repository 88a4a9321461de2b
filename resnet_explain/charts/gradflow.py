"""Gradient-flow charts: per-block ‖∂L/∂x‖ for a network and its twin, the identity vs
residual-branch terms, and per-layer weight gradients."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd

from .. import magnitude
from ..spec.block import block_label
from ..spec.kinds import BLOCK_KINDS
from .axes import (
    BRANCH_TERM_COLOR,
    IDENTITY_TERM_COLOR,
    MID_GREY,
    VARIANT_COLORS,
    W,
    block_order,
    dash_legend,
    fit_title,
    flagged_markers,
    legend,
    name_tooltips,
    with_readable,
    xblock,
)

PICK = "pick"  # the name of the per-block chart's click selection (Streamlit returns it by this name)


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
    long["status"] = magnitude.statuses(long["grad_norm"], long["has_nan"], long["has_inf"])
    long["y"] = magnitude.plot_y(long["log10_grad_norm"])
    long["grad_norm_text"] = [magnitude.value_text(g) for g in long["grad_norm"]]
    return long


NUMBERS_COLUMNS = ["variant", "block", "kind", "skip", "grad_norm", "log10_grad_norm", "underflow",
                   "identity_norm", "residual_norm", "gate_norm", "act_mean", "act_std"]


def numbers_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The per-block numbers of every variant in one table (the page's "numbers" expander);
    ``gate_norm`` only where some block has a gate."""
    table = pd.concat([d.assign(variant=k) for k, d in frames.items()], ignore_index=True)
    cols = [c for c in NUMBERS_COLUMNS if c != "gate_norm" or any(has_gates(d) for d in frames.values())]
    return table[cols]


def grad_norm_chart(long: pd.DataFrame, theory: pd.DataFrame | None = None,
                    height: int = 340, pickable: bool = False) -> alt.Chart:
    """Per-block ||dL/dx_l|| (log10), plain vs residual overlaid; optional dashed theory line.
    ``pickable``: a click on a point selects its block (the selection PICK, on the field
    ``block``), marked by a grey rule."""
    long = with_readable(long)
    x = xblock(block_order(long))
    base = alt.Chart(long)
    tooltip = [alt.Tooltip("variant:N"), alt.Tooltip("network:N"), *name_tooltips(long),
               alt.Tooltip("grad_norm_text:N", title="‖∂L/∂x‖"),
               alt.Tooltip("log10_grad_norm:Q", title="log10", format=".2f"),
               alt.Tooltip("status:N")]
    color = alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend())
    # Which line is yours and which the twin: a second legend (solid / dashed), kept in exports.
    # The theory bound is a third entry of that legend, dotted: on a wall a grey dashed line with no
    # entry of its own reads as the twin's dashes.
    has_bound = theory is not None and len(theory) > 0
    networks = [n for n in ("yours", "twin") if n in set(long["network"])] + (["bound"] if has_bound else [])
    names = {"yours": "your network", "twin": "its twin",
             "bound": str(theory["curve"].iloc[0]) if has_bound else ""}
    dash = alt.StrokeDash("network:N", title=None,
                          scale=alt.Scale(domain=list(BOUND_DASHES), range=list(BOUND_DASHES.values())),
                          legend=dash_legend(values=networks, labelExpr=_label_expr(names))
                          if len(networks) > 1 else None)
    # Vega-Lite merges this channel's legend with the dashes' (the same field): every dash value
    # needs a width here, or the merged legend draws its symbols over its labels.
    width = alt.StrokeWidth("network:N", legend=None,
                            scale=alt.Scale(domain=list(BOUND_DASHES), range=[3.5, 1.5, 2.5]))
    line = base.mark_line(point=alt.OverlayMarkDef(size=40)).encode(
        x=x, y=alt.Y("y:Q", title=fit_title("log10 ‖∂L/∂x‖ at block output", height)), color=color,
        strokeDash=dash, strokeWidth=width, detail="variant:N", tooltip=tooltip)
    layers = [line]
    if pickable:
        pick = alt.selection_point(name=PICK, fields=["block"], on="click", clear="dblclick", empty=False)
        layers = [line.add_params(pick),
                  base.mark_rule(color=MID_GREY, strokeWidth=2, strokeDash=[2, 2]).encode(x=x).transform_filter(pick),
                  # the rule says what it is beside it: a grey dashed line reads as the twin otherwise
                  base.mark_text(align="left", baseline="top", dx=4, y=4, color=MID_GREY, fontSize=12).encode(
                      x=x, text=alt.value("picked block")).transform_filter(pick)]
    layers += flagged_markers(long, x, color, tooltip, label=True)
    if has_bound:
        layers.append(alt.Chart(theory.assign(network="bound")).mark_line(
            color=MID_GREY, strokeWidth=2.5, strokeCap="round").encode(
            x=x, y="log10:Q", detail="curve:N", strokeDash=dash,
            tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("log10:Q", format=".2f")]))
    return alt.layer(*layers).properties(height=height, width=W)


# Line styles of the per-block chart: yours solid, the twin dashed, a theory bound dotted.
BOUND_DASHES = {"yours": [1, 0], "twin": [5, 4], "bound": [1, 4]}


def _label_expr(names: dict[str, str]) -> str:
    """A Vega expression that writes each legend value as its name (``names``: value -> text)."""
    expr = "datum.label"
    for value, text in names.items():
        expr = f"datum.label == {json.dumps(value)} ? {json.dumps(text)} : ({expr})"
    return expr


def picked_block(event, blocks) -> str | None:
    """The block a click on the per-block chart picked: Streamlit's selection ``event`` (its
    ``selection`` holds PICK as a list of ``{"block": name}``) -> that name when it is one of
    ``blocks``; else None (no click yet, a cleared click, or a stale one from another network)."""
    try:
        points = event["selection"][PICK]
    except (KeyError, TypeError):
        return None
    names = [p.get("block") for p in points if isinstance(p, dict)] if isinstance(points, list) else []
    return names[0] if names and names[0] in set(blocks) else None


def block_numbers(frames: dict[str, pd.DataFrame], block: str, yours: str) -> tuple[pd.DataFrame, str]:
    """One block's row of the numbers table for your network and its twin, and a sentence with
    its gradient norm in each and their ratio (yours / twin)."""
    rows = numbers_table(frames)
    rows = rows[rows["block"] == block].copy()
    rows.insert(1, "network", np.where(rows["variant"] == yours, "yours", "twin"))
    rows = rows.sort_values("network", key=lambda s: s != "yours")
    g = dict(zip(rows["network"], rows["grad_norm"]))
    mine, twin = g.get("yours"), g.get("twin")
    text = f"**{block_label(block)}**: ‖∂L/∂x‖ = {magnitude.value_text(mine)} in your network ({yours})"
    if twin is not None:
        other = rows.loc[rows["network"] == "twin", "variant"].iloc[0]
        text += f", {magnitude.value_text(twin)} in its twin ({other})"
        if twin != 0 and np.isfinite(twin) and np.isfinite(mine):
            text += f": yours is {magnitude.fmt_ratio(mine / twin)}× the twin's"
    return rows, text + "."


_TERMS = ["identity (shortcut) term", "residual-branch term J_Fᵀg"]
# A gated block (Highway's carry and transform): s = (1 − g(x))·S(x) + g(x)·F(x) has three paths
# back to x: the carry (shortcut), the transform (branch) and the gate g(x) itself.
GATED_TERMS = ["carry (shortcut) term", "transform (branch) term", "through the gate g(x)"]
# A dense block: s = concat(x, F(x)) hands x's part of g straight back (the concatenation).
DENSE_TERMS = ["through the concatenation (x as it is)", "new channels' branch term J_Fᵀg"]
GATE_TERM_COLOR = "#9467bd"  # the gate is a sigmoid: its own colour, apart from the two paths'


def has_gates(df: pd.DataFrame) -> bool:
    """Whether a probe's blocks include a gated one (a finite ``gate_norm``: NaN where no gate)."""
    return "gate_norm" in df and bool(np.isfinite(df.loc[df["skip"].astype(bool), "gate_norm"]).any())


def split_terms(df: pd.DataFrame) -> list[str]:
    """The names of the terms for a probe's residual blocks: carry / transform / gate where some
    block gates, the concatenation's where every block with a skip concatenates (a dense kind),
    else identity / branch."""
    d = df[df["skip"].astype(bool)]
    if has_gates(df):
        return GATED_TERMS
    concat = [k in BLOCK_KINDS and BLOCK_KINDS[k].join == "concat" for k in d.get("kind", ())]
    if len(d) and "kind" in d and all(concat):
        return DENSE_TERMS
    return _TERMS


def split_long(df: pd.DataFrame) -> pd.DataFrame:
    """Identity (carry) term vs residual-branch (transform) term per residual block, and the gate's
    term where a block has one, long form (log10)."""
    d = df[df["skip"].astype(bool)]
    names = split_terms(df)
    gated = names is GATED_TERMS
    rows = []
    for r in d.itertuples():
        terms = [(names[0], r.identity_norm), (names[1], r.residual_norm)]
        gate = getattr(r, "gate_norm", np.nan)
        if gated and np.isfinite(gate):
            terms.append((names[2], gate))
        for term, v in terms:
            rows.append({"block": r.block, "position": r.position, "term": term, "norm": v,
                         "log10": magnitude.log10(v)})
    return pd.DataFrame(rows, columns=["block", "position", "term", "norm", "log10"])


def split_chart(split: pd.DataFrame, height: int = 300) -> alt.Chart:
    """The terms per residual block as points on a log10 axis (bars would make the smaller,
    more negative log look longer). The shortcut's term is blue, the branch's orange, the gate's
    purple, whatever the block calls them."""
    present = set(split["term"])
    names = next((t for t in (GATED_TERMS, DENSE_TERMS) if present & set(t)), _TERMS)
    colors = [IDENTITY_TERM_COLOR, BRANCH_TERM_COLOR, GATE_TERM_COLOR][:len(names)]
    split = with_readable(split)
    return alt.Chart(split).mark_line(point=alt.OverlayMarkDef(size=60)).encode(
        x=xblock(block_order(split), "residual block (input → output)"),
        y=alt.Y("log10:Q", title=fit_title("log10 norm of the term", height)),
        color=alt.Color("term:N", title=None, legend=legend(), scale=alt.Scale(domain=names, range=colors)),
        tooltip=[*name_tooltips(split), "term:N", alt.Tooltip("norm:Q", format=".3e"),
                 alt.Tooltip("log10:Q", format=".2f")],
    ).properties(height=height, width=W)


def weight_grad_long(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Weight matrices / conv kernels only (not biases or norm scales), per variant, in order."""
    parts = []
    for variant, p in frames.items():
        d = p[p["param"].str.endswith("weight") & p["shape"].str.contains("x")].copy()
        d["variant"] = variant
        d["layer"] = np.arange(len(d))
        parts.append(d)
    long = pd.concat(parts, ignore_index=True)
    long["y"] = magnitude.plot_y(long["log10_grad_norm"])
    long["status"] = magnitude.statuses(long["grad_norm"], long["has_nan"], long["has_inf"])
    return long


def weight_grad_chart(long: pd.DataFrame, height: int = 280) -> alt.Chart:
    x = alt.X("layer:Q", title="weighted layer (input → output)")
    color = alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend())
    long = with_readable(long, "param")
    tooltip = ["variant:N", *name_tooltips(long, "param", "weight"), "shape:N", alt.Tooltip("grad_norm:Q", format=".3e"),
               alt.Tooltip("weight_norm:Q", format=".3e"), "status:N"]
    line = alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
        x=x, y=alt.Y("y:Q", title="log10 ‖∂L/∂W‖"), color=color, tooltip=tooltip)
    return alt.layer(line, *flagged_markers(long, x, color, tooltip, label=True)).properties(
        height=height, width=W)
