"""Pure functions for the Training page: tidy DataFrame -> alt.Chart / display table. No
streamlit, no torch; the sentences that say what the numbers are: :mod:`resnet_explain.content.training`.

Same conventions as every chart (:mod:`resnet_explain.charts.axes`): long-form data with typed encodings, the
variant colours (plain red, residual blue), rows that have no value (a block that cannot be
deleted) keep their place and are marked, never dropped.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from ..chance import near_chance as barely_learned
from ..content.training import net_label
from ..experiments.convergence import key
from .axes import VARIANT_COLORS, W, legend

METRICS = {"train_error": "training error", "test_error": "test error"}


# ---------------------------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------------------------
CURVE_COLUMNS = ["net", "arch", "depth", "epoch", "metric", "mean", "lo", "hi", "seeds", "error_pct"]


def curves_long(curves: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch curves (arch, depth, seed, epoch, train_error, test_error; one row per epoch per
    run) -> long form: per net, epoch and metric the mean over seeds and the min-max spread, in
    percent. ``seeds`` counts the runs that reached that epoch."""
    rows = []
    if curves is None or len(curves) == 0:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    for (arch, depth, epoch), g in curves.groupby(["arch", "depth", "epoch"], sort=True):
        for col, name in METRICS.items():
            v = g[col].to_numpy(dtype=float) * 100.0
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            rows.append({"net": net_label(arch, depth), "arch": arch, "depth": int(depth),
                         "epoch": int(epoch), "metric": name, "mean": float(v.mean()),
                         "lo": float(v.min()), "hi": float(v.max()), "seeds": int(len(v)),
                         "error_pct": float(v.mean())})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def _depth_dash(depths) -> alt.Scale:
    """Shallowest net solid, deeper ones increasingly dashed."""
    dashes = [[1, 0], [8, 4], [3, 3], [12, 3, 2, 3], [2, 6], [16, 6]]
    ds = sorted({int(d) for d in depths})
    return alt.Scale(domain=[str(d) for d in ds], range=[dashes[i % len(dashes)] for i in range(len(ds))])


def error_curves_chart(long: pd.DataFrame, metric: str = "training error", chance: float | None = None,
                       height: int = 300, title: str | None = None) -> alt.Chart:
    """Error (%) per epoch, one line per net (colour = plain/residual, dash = depth), mean over
    seeds with the min-max band where there are 2+ seeds; optional dotted chance level."""
    d = long[long["metric"] == metric].copy()
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1))
    y_scale = alt.Scale(domain=[0, 100])
    # One legend: colour = plain/residual, dash = depth, both keyed by the net's name.
    nets = (d[["arch", "depth", "net"]].drop_duplicates().sort_values(["arch", "depth"])
            if len(d) else pd.DataFrame(columns=["arch", "depth", "net"]))
    arch_col = dict(zip(VARIANT_COLORS.domain, VARIANT_COLORS.range))
    dd = _depth_dash(nets["depth"]) if len(nets) else None
    dash_of = dict(zip(dd.domain, dd.range)) if dd is not None else {}
    net_color = alt.Scale(domain=list(nets["net"]),
                          range=[arch_col.get(a, "#555") for a in nets["arch"]])
    net_dash = alt.Scale(domain=list(nets["net"]),
                         range=[dash_of.get(str(int(dep)), [1, 0]) for dep in nets["depth"]])
    color = alt.Color("net:N", scale=net_color, title=None,
                      legend=legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300,
                                        symbolOpacity=1))
    dash = alt.StrokeDash("net:N", scale=net_dash, title=None)
    tooltip = [alt.Tooltip("net:N"), alt.Tooltip("epoch:Q"),
               alt.Tooltip("mean:Q", title=f"{metric} (%)", format=".2f"),
               alt.Tooltip("lo:Q", title="lowest seed (%)", format=".2f"),
               alt.Tooltip("hi:Q", title="highest seed (%)", format=".2f"),
               alt.Tooltip("seeds:Q", title="seeds")]
    layers = []
    if chance is not None:  # dotted: the error of guessing (drawn first, under the curves)
        c = pd.DataFrame({"y": [chance * 100.0], "what": [f"chance: {chance:.0%} error"]})
        layers.append(alt.Chart(c).mark_rule(strokeDash=[2, 3], color="#777").encode(
            y="y:Q", tooltip=[alt.Tooltip("what:N", title="dotted line")]))
        # named on the chart, not only in a tooltip: on a wall nobody hovers
        # above the line: below it the plain nets' curves run along chance and cross the words
        layers.append(alt.Chart(c).mark_text(align="left", baseline="bottom", dy=-3, x=4, color="#777",
                                             fontSize=12).encode(y="y:Q", text="what:N"))
    spread = d[d["seeds"] > 1]
    if len(spread):
        layers.append(alt.Chart(spread).mark_area(opacity=0.15).encode(
            x=x, y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q",
            color=color, detail="net:N"))
    layers.append(alt.Chart(d).mark_line(strokeWidth=2.5).encode(
        x=x, y=alt.Y("mean:Q", title=f"{metric} (%)", scale=y_scale), color=color, strokeDash=dash,
        detail="net:N", tooltip=tooltip))
    layers.append(alt.Chart(d).mark_point(filled=True, size=30).encode(
        x=x, y="mean:Q", color=color,
        tooltip=tooltip))
    chart = alt.layer(*layers).properties(height=height, width=W)
    return chart.properties(title=title) if title else chart


# ---------------------------------------------------------------------------------------------
# The final table and the hypothesis
# ---------------------------------------------------------------------------------------------
def _pm(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "—"
    if n > 1:
        return f"{mean * 100:.2f} ± {std * 100:.2f}"
    return f"{mean * 100:.2f}"


def he_table(table: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """``train.summarise`` output -> a table shaped like He et al.'s: architecture, depth,
    training error and test error in % (mean ± std over seeds), seeds, parameters."""
    rows = []
    for r in table.to_dict("records"):
        n = len(r.get("seeds") or [])
        row = {} if source is None else {"source": source}
        row.update({"architecture": r["arch"], "depth": int(r["depth"]),
                    "training error (%)": _pm(r["train_error"], r["train_error_std"], n),
                    "test error (%)": _pm(r["test_error"], r["test_error_std"], n),
                    "seeds": n, "parameters": f"{int(r['params']):,}"})
        rows.append(row)
    cols = (["source"] if source is not None else []) + [
        "architecture", "depth", "training error (%)", "test error (%)", "seeds", "parameters"]
    return pd.DataFrame(rows, columns=cols)


def _reach_cell(r: dict, k: str) -> str:
    n, got = int(r["seeds"]), int(r[f"{k}_reached"])
    if got == 0:
        return "never"
    lo, hi, mean = r[f"{k}_steps_min"], r[f"{k}_steps_max"], r[f"{k}_steps_mean"]
    s = f"{mean:,.0f}" if lo == hi else f"{mean:,.0f} ({lo:,.0f}–{hi:,.0f})"
    return s + (f", {got} of {n} seeds" if got < n else "")


def convergence_display(conv: pd.DataFrame) -> pd.DataFrame:
    """:func:`~resnet_explain.experiments.convergence.convergence_table` -> a display table:
    network, steps to each threshold (mean, the seeds' range; "never"), area under the curve
    (mean running training error, %, with the seeds' range)."""
    thresholds = conv.attrs.get("thresholds", [])
    cols = ["architecture", "depth"] + [f"steps to {t:.0%}" for t in thresholds] + [
        "mean training error over the run (%)", "seeds"]
    rows = []
    for r in conv.to_dict("records"):
        row = {"architecture": r["arch"], "depth": int(r["depth"]), "seeds": int(r["seeds"])}
        for t in thresholds:
            row[f"steps to {t:.0%}"] = _reach_cell(r, key(t))
        lo, hi = r["auc_min"] * 100, r["auc_max"] * 100
        row["mean training error over the run (%)"] = (
            f"{r['auc_mean'] * 100:.1f}" + ("" if r["seeds"] < 2 else f" ({lo:.1f}–{hi:.1f})"))
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def near_chance(table: pd.DataFrame, chance: float) -> list[str]:
    """The networks whose final training error says they never left chance (``chance`` is the
    error of guessing): the one rule, :func:`resnet_explain.chance.near_chance`."""
    if not len(table):
        return []
    return [net_label(a, d) for a, d, e in zip(table["arch"], table["depth"], table["train_error"])
            if barely_learned(1.0 - float(e), 1.0 - chance)]


def he_tables(parts: list[tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """Several ``summarise`` tables, each labelled with its source, in one He-shaped table."""
    frames = [he_table(t, source) for t, source in parts]
    return pd.concat(frames, ignore_index=True) if frames else he_table(pd.DataFrame(), "")


# ---------------------------------------------------------------------------------------------
# A language model's curves (Train Your Network with a Transformer)
# ---------------------------------------------------------------------------------------------
def lm_loss_chart(curves: pd.DataFrame, reference: float | None = None, height: int = 300,
                  title: str | None = None) -> alt.Chart:
    """Validation loss (nats per byte) against training steps, one line per net (colour =
    plain/residual, as every chart), from :func:`~resnet_explain.experiments.your_lm.lm_curves`;
    a dotted line at ``reference``, the byte-frequency loss, named on the chart."""
    d = curves.dropna(subset=["val_loss"])
    nets = d[["net", "arch"]].drop_duplicates()
    arch_col = dict(zip(VARIANT_COLORS.domain, VARIANT_COLORS.range))
    color = alt.Color("net:N", title=None, scale=alt.Scale(
        domain=list(nets["net"]), range=[arch_col.get(a, "#555") for a in nets["arch"]]),
        legend=legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300, symbolOpacity=1))
    x = alt.X("step:Q", title="training step")
    tooltip = ["net:N", "role:N", "step:Q", alt.Tooltip("val_loss:Q", title="validation loss", format=".3f"),
               alt.Tooltip("train_loss:Q", title="training loss since the last row", format=".3f")]
    layers = []
    if reference is not None:  # dotted, drawn first: the loss of knowing only byte frequencies
        c = pd.DataFrame({"y": [reference], "what": [f"byte frequencies only: {reference:.3f}"],
                          "step": [float(d["step"].max()) if len(d) else 0.0]})
        layers.append(alt.Chart(c).mark_rule(strokeDash=[2, 3], color="#777").encode(
            y="y:Q", tooltip=[alt.Tooltip("what:N", title="dotted line")]))
        # named under the line's right end: the curves cross it near the start, a network that
        # learns runs below it later (one that does not runs just above it)
        layers.append(alt.Chart(c).mark_text(align="right", baseline="top", dy=4, color="#777",
                                             fontSize=11).encode(x="step:Q", y="y:Q", text="what:N"))
    layers.append(alt.Chart(d).mark_line(strokeWidth=2.5).encode(
        x=x, y=alt.Y("val_loss:Q", title="validation loss (nats per byte)", scale=alt.Scale(zero=False)),
        color=color, detail="net:N", tooltip=tooltip))
    layers.append(alt.Chart(d).mark_point(filled=True, size=30).encode(x=x, y="val_loss:Q", color=color,
                                                                       tooltip=tooltip))
    chart = alt.layer(*layers).properties(height=height, width=W)
    return chart.properties(title=title) if title else chart
