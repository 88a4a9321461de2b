"""Pure functions for the learning-rate sweep: sweep table -> chart / display table. No streamlit;
the sentences: :mod:`resnet_explain.content.training_lr`.

Final training error (%) against the peak learning rate on a log axis, one line per network
(colour: plain red, residual blue; dash: depth). A diverged run keeps its place on its line and
gets a ✕ marker (never dropped) and the chart's subtitle says what ✕ means; guessing (chance) is
a dotted line, the "trains" threshold a dashed one.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..content.training_lr import CHART_TITLE, DIVERGED_NOTE
from .axes import VARIANT_COLORS, W, legend

POINT_COLUMNS = ["net", "variant", "depth", "lr", "error_pct", "test_pct", "diverged", "status", "run_id"]


def sweep_points(table: pd.DataFrame) -> pd.DataFrame:
    """Sweep table -> one point per run, in percent; ``status`` says "diverged" or "finished"."""
    if table is None or len(table) == 0:
        return pd.DataFrame(columns=POINT_COLUMNS)
    t = table.sort_values(["variant", "depth", "lr"])
    out = pd.DataFrame({
        "net": [f"{v}-{int(d)}" for v, d in zip(t["variant"], t["depth"])],
        "variant": t["variant"].astype(str).to_numpy(), "depth": t["depth"].astype(int).to_numpy(),
        "lr": t["lr"].astype(float).to_numpy(),
        "error_pct": 100.0 * t["train_error"].astype(float).to_numpy(),
        "test_pct": 100.0 * t["test_error"].astype(float).to_numpy(),
        "diverged": t["diverged"].astype(bool).to_numpy(),
        "run_id": t["run_id"].astype(str).to_numpy()})
    out["status"] = np.where(out["diverged"], "diverged", "finished")
    return out[POINT_COLUMNS].reset_index(drop=True)


def lr_sweep_chart(table: pd.DataFrame, chance: float | None = None, threshold: float | None = None,
                   height: int = 320, title: str | None = None) -> alt.LayerChart:
    """Final training error vs learning rate (log x), plain red / residual blue, diverged runs
    marked ✕, chance dotted and the "trains" threshold dashed (both given as fractions)."""
    pts = sweep_points(table)
    x = alt.X("lr:Q", scale=alt.Scale(type="log", base=2), title="peak learning rate (log scale)",
              axis=alt.Axis(values=sorted(set(pts["lr"])) or None, format="g"))
    y = alt.Y("error_pct:Q", scale=alt.Scale(domain=[0, 100]), title="final training error (%)")
    tip = [alt.Tooltip("net:N"), alt.Tooltip("lr:Q", format="g"),
           alt.Tooltip("error_pct:Q", title="train error %", format=".2f"),
           alt.Tooltip("test_pct:Q", title="test error %", format=".2f"),
           alt.Tooltip("status:N"), alt.Tooltip("run_id:N")]
    # One legend keyed by the net's name: colour = plain/residual (VARIANT_COLORS), dash = depth.
    nets = pts[["net", "variant", "depth"]].drop_duplicates().sort_values(["variant", "depth"])
    depths = sorted({int(d) for d in nets["depth"]})
    dashes = [[1, 0], [6, 3], [2, 2], [10, 3, 2, 3]]
    of_variant = dict(zip(VARIANT_COLORS.domain, VARIANT_COLORS.range))
    color = alt.Color("net:N", title=None, scale=alt.Scale(
        domain=list(nets["net"]), range=[of_variant.get(v, "#555") for v in nets["variant"]]),
        legend=legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300, symbolOpacity=1))
    dash = alt.StrokeDash("net:N", title=None, scale=alt.Scale(
        domain=list(nets["net"]),
        range=[dashes[depths.index(int(d)) % len(dashes)] for d in nets["depth"]]))
    base = alt.Chart(pts)
    layers = [
        base.mark_line(point=alt.OverlayMarkDef(size=60, filled=True)).encode(
            x=x, y=y, color=color, strokeDash=dash, tooltip=tip),
        base.transform_filter("datum.diverged").mark_point(shape="cross", size=260, strokeWidth=3,
                                                          angle=45).encode(
            x=x, y=y, color=color, tooltip=tip),
    ]
    for value, label, dash_ in ((chance, "chance", [2, 3]), (threshold, "trains below", [8, 4])):
        if value is None:
            continue
        rule = pd.DataFrame({"y": [100.0 * value], "label": [f"{label} {100 * value:.0f} %"]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=dash_, color="#777").encode(y="y:Q"))
        layers.append(alt.Chart(rule).mark_text(align="left", dy=-7, x=4, color="#777", fontSize=11)
                      .encode(y="y:Q", text="label:N"))
    note = DIVERGED_NOTE if pts["diverged"].any() else ""
    return alt.layer(*layers).properties(width=W, height=height, title=alt.TitleParams(
        title or CHART_TITLE, subtitle=note,
        anchor="start", fontSize=14, subtitleFontSize=12))


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep as a page shows it: percentages, one row per run."""
    cols = {"variant": "network", "depth": "depth", "lr": "lr", "train_error": "final train error %",
            "test_error": "test error %", "best_epoch": "best epoch",
            "best_epoch_train_error": "best epoch train error %", "diverged": "diverged",
            "seconds": "seconds", "run_id": "run id"}
    if table is None or len(table) == 0:
        return pd.DataFrame(columns=list(cols.values()))
    t = table[list(cols)].copy()
    for c in ("train_error", "test_error", "best_epoch_train_error"):
        t[c] = (100.0 * t[c].astype(float)).round(2)
    t["seconds"] = t["seconds"].astype(float).round(1)
    return t.rename(columns=cols).reset_index(drop=True)
