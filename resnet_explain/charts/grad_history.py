"""Gradient flow during training: the snapshots of :mod:`resnet_explain.train.snapshots` (one row
per snapshot step and block) as a block × step heatmap for a network and its twin side by side,
and as lines per block at a few steps. Pure functions: DataFrame -> alt.Chart.

A value that is exactly 0 (float32 underflow) or NaN/Inf has no log10: its cell keeps its place,
drawn grey and marked with its status (:mod:`resnet_explain.magnitude`), never dropped. Both
networks share one colour domain, so the same colour means the same size in either.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import magnitude
from .axes import VARIANT_COLORS, W, block_axis, block_order, dash_legend, fit_title, flagged_markers, legend, name_tooltips, with_readable, xblock

VARIANTS = ["plain", "residual"]
QUANTITIES = {  # a column of the snapshot table (train/snapshots.py GRAD_COLUMNS) -> axis title
    "grad_norm": "‖∂L/∂x‖ at the block output",
    "weight_grad_norm": "‖∂L/∂W‖ of the block's parameters",
    "update_ratio": "‖ΔW‖/‖W‖ of one optimiser step",
    "weight_norm": "‖W‖ of the block's parameters",
}
SHORT = {"grad_norm": "‖∂L/∂x‖", "weight_grad_norm": "‖∂L/∂W‖",  # legend titles
         "update_ratio": "‖ΔW‖/‖W‖", "weight_norm": "‖W‖"}
# Cells without a log10: a grey fill and a marker per status (▼ for 0, as every chart draws it).
NO_LOG_FILL = "#bdbdbd"
STATUS_SHAPES = alt.Scale(domain=[magnitude.UNDERFLOW, magnitude.NOT_A_NUMBER, magnitude.INFINITE],
                          range=["triangle-down", "cross", "triangle-up"])
HISTORY_LONG_COLUMNS = ["variant", "step", "epoch", "block", "position", "kind", "value", "log10",
                        "status", "y", "value_text"]


def _check(quantity: str) -> None:
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")


def history_long(frames: dict[str, pd.DataFrame], quantity: str = "grad_norm") -> pd.DataFrame:
    """Stack each variant's snapshot table into one long table of ``quantity``: its value,
    log10 (NaN where it is 0 or not finite), status, a plotted ``y`` (at the floor for those) and
    its tooltip text. Every row is kept."""
    _check(quantity)
    parts = []
    for variant, df in frames.items():
        if df is None or not len(df):
            continue
        d = df[["step", "epoch", "block", "position", "kind"]].copy()
        d["variant"] = variant
        d["value"] = df[quantity].to_numpy(dtype=np.float64)
        parts.append(d)
    if not parts:
        return pd.DataFrame(columns=HISTORY_LONG_COLUMNS)
    long = pd.concat(parts, ignore_index=True)
    long["log10"] = [magnitude.log10(v) for v in long["value"]]
    long["status"] = magnitude.statuses(long["value"])
    long["y"] = magnitude.plot_y(long["log10"])
    long["value_text"] = [magnitude.value_text(v) for v in long["value"]]
    return long[HISTORY_LONG_COLUMNS]


def color_domain(long: pd.DataFrame) -> list[float]:
    """[min, max] of the finite log10 values of every variant: one domain for all panels."""
    v = long["log10"].to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return [-1.0, 0.0]
    lo, hi = float(v.min()), float(v.max())
    return [lo, hi] if hi > lo else [lo - 0.5, hi + 0.5]


def _tooltip(long: pd.DataFrame, quantity: str) -> list:
    return [alt.Tooltip("variant:N"), *name_tooltips(long), alt.Tooltip("step:Q"),
            alt.Tooltip("epoch:Q"), alt.Tooltip("value_text:N", title=quantity),
            alt.Tooltip("log10:Q", format=".2f"), alt.Tooltip("status:N")]


def heatmap(frames: dict[str, pd.DataFrame], quantity: str = "grad_norm",
            height: int = 320) -> alt.FacetChart:
    """log10 of ``quantity`` per block (rows, input at the top) and snapshot step (columns), one
    panel per variant (plain left, residual right) on one shared colour scale. Cells that are 0
    (underflow) or NaN/Inf are grey, marked with their status."""
    long = with_readable(history_long(frames, quantity))
    order = block_order(long) if len(long) else []
    title = f"log10 {SHORT[quantity]}"
    y = alt.Y("block:O", sort=order, title="block (input ↓ output)", axis=block_axis())
    x = alt.X("step:O", title="training step", axis=alt.Axis(labelOverlap=True, labelAngle=0))
    is_measured = alt.datum.status == magnitude.MEASURED
    cells = alt.Chart().mark_rect().encode(
        x=x, y=y, tooltip=_tooltip(long, quantity),
        color=alt.condition(is_measured, alt.Color(
            "log10:Q", title=title, legend=legend(),
            scale=alt.Scale(scheme="viridis", domain=color_domain(long))),
            alt.value(NO_LOG_FILL)))
    marks = alt.Chart().transform_filter(~is_measured).mark_point(
        filled=True, size=70, color="#000000").encode(
        x=x, y=y, tooltip=_tooltip(long, quantity),
        shape=alt.Shape("status:N", scale=STATUS_SHAPES, title="no log10", legend=legend()))
    sort = [v for v in VARIANTS if v in set(long["variant"])] + \
        sorted(set(long["variant"]) - set(VARIANTS))
    return alt.layer(cells, marks, data=long).properties(height=height, width=260).facet(
        column=alt.Column("variant:N", sort=sort, title=None))


def pick_steps(steps) -> list[int]:
    """The first, middle (the snapshot nearest the middle of the run) and last snapshot steps."""
    s = sorted({int(v) for v in steps})
    if not s:
        return []
    mid = min(s, key=lambda v: (abs(v - (s[0] + s[-1]) / 2), v))
    return list(dict.fromkeys([s[0], mid, s[-1]]))


def profile_long(frames: dict[str, pd.DataFrame], quantity: str = "grad_norm",
                 steps: list[int] | None = None) -> pd.DataFrame:
    """The rows of :func:`history_long` at ``steps`` (default :func:`pick_steps` of all), with a
    ``when`` label ("step 0 (first)", ...)."""
    long = history_long(frames, quantity)
    steps = pick_steps(long["step"]) if steps is None else [int(s) for s in steps]
    names = dict(zip(pick_steps(long["step"]), ["first", "middle", "last"])) if len(long) else {}
    d = long[long["step"].isin(steps)].copy()
    d["when"] = [f"step {s}" + (f" ({names[s]})" if s in names else "") for s in d["step"]]
    return d


def profile_chart(frames: dict[str, pd.DataFrame], quantity: str = "grad_norm",
                  steps: list[int] | None = None, height: int = 320) -> alt.LayerChart:
    """log10 of ``quantity`` per block (input → output), one line per variant and step: the
    variant's colour, a dash per step. Values without a log10 are ▼ at the floor."""
    d = with_readable(profile_long(frames, quantity, steps))
    x = xblock(block_order(d) if len(d) else [])
    whens = list(dict.fromkeys(d.sort_values("step")["when"]))
    dashes = [[1, 0], [6, 3], [2, 2], [10, 3, 2, 3]]
    dash = alt.StrokeDash("when:N", title=None, sort=whens,
                          scale=alt.Scale(domain=whens, range=[dashes[i % 4] for i in range(len(whens))]),
                          legend=dash_legend())
    color = alt.Color("variant:N", scale=VARIANT_COLORS, title=None, legend=legend())
    tooltip = _tooltip(d, quantity)
    y = alt.Y("y:Q", title=fit_title(f"log10 {QUANTITIES[quantity]}", height))
    line = alt.Chart(d).mark_line().encode(x=x, y=y, color=color, strokeDash=dash, detail="when:N")
    points = alt.Chart(d).mark_circle(size=30, opacity=1).encode(x=x, y=y, color=color,
                                                                 tooltip=tooltip)
    return alt.layer(line, points, *flagged_markers(d, x, color, tooltip, label=True)).properties(
        height=height, width=W)
