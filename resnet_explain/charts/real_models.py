"""Real architectures: ‖∂L/∂x‖ at every block of one torchvision model, coloured by stage."""

from __future__ import annotations

import altair as alt
import pandas as pd

from .. import magnitude
from .axes import W, flagged_markers, name_tooltips, with_readable


def real_long(blocks: pd.DataFrame) -> pd.DataFrame:
    """The probe's block table with a plotted y (values without a finite log10 at the floor) and
    a status and text per row; no row is dropped."""
    d = blocks.copy()
    d["status"] = magnitude.statuses(d["grad_norm"], d["has_nan"], d["has_inf"])
    d["y"] = magnitude.plot_y(d["log10_grad_norm"])
    d["grad_norm_text"] = [magnitude.value_text(g) for g in d["grad_norm"]]
    d["label"] = short_names(list(d["block"]))
    return d


def short_names(names: list[str]) -> list[str]:
    """Axis labels: the block names without the dotted prefix they all share (DenseNet's
    ``features.denseblock1.denselayer1`` -> ``denseblock1.denselayer1``), keeping a prefix
    when what would be left starts with a bare index (ConvNeXt's ``features.1.0``)."""
    parts = [n.split(".") for n in names]
    k = 0
    while (parts and all(len(p) > k + 1 for p in parts) and len({p[k] for p in parts}) == 1
           and not any(p[k + 1].isdigit() for p in parts)):
        k += 1
    return [".".join(p[k:]) for p in parts]


def real_chart(long: pd.DataFrame, height: int = 340) -> alt.Chart:
    """log10 ‖∂L/∂x‖ per block, input to output: one line, points coloured by stage."""
    long = with_readable(long)
    order = list(long.sort_values("position")["label"])
    x = alt.X("label:O", sort=order, title="block (input → output)",
              axis=alt.Axis(labelAngle=-60, labelOverlap=True, labelLimit=220))
    tooltip = [*name_tooltips(long), alt.Tooltip("kind:N"), alt.Tooltip("stage:N"),
               alt.Tooltip("grad_norm_text:N", title="‖∂L/∂x‖"),
               alt.Tooltip("log10_grad_norm:Q", title="log10", format=".2f"),
               alt.Tooltip("status:N")]
    y = alt.Y("y:Q", title="log10 ‖∂L/∂x‖", scale=alt.Scale(zero=False))
    base = alt.Chart(long)
    line = base.mark_line(color="#999", strokeWidth=1.5).encode(x=x, y=y)
    stage_order = list(dict.fromkeys(long.sort_values("position")["stage"]))
    color = alt.Color("stage:N", title="stage", sort=stage_order)
    points = base.mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tooltip)
    layers = [line, points] + flagged_markers(long, x, tooltip=tooltip, label=True)
    return alt.layer(*layers).properties(height=height, width=W)
