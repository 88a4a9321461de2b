"""Charts of the "Why deep plain nets fail" page (:mod:`resnet_explain.experiments.mechanism_runs`'
tables): the correlation of neighbouring inputs' gradients against the distance between them, the
residual branch's share per block, and the blocks' mean² and variance at initialisation. One line
per network (plain red, residual blue), initialisation dashed. Pure functions: DataFrame -> chart.
(The gradient snapshots use :func:`resnet_explain.charts.grad_history.heatmap`.)"""

from __future__ import annotations

import altair as alt
import pandas as pd

from .axes import PLAIN_COLOR, RESIDUAL_COLOR, W, dash_legend, legend, name_tooltips, shade, with_readable

STATES = ["init", "trained"]
STATE_DASH = alt.Scale(domain=STATES, range=[[5, 3], [1, 0]])


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(network=df["arch"] + "-" + df["depth"].astype(str))


def network_scale(df: pd.DataFrame) -> alt.Scale:
    """plain red, residual blue; the shallower depths in a lighter shade of the same colour."""
    nets = df[["network", "arch", "depth"]].drop_duplicates().sort_values(["arch", "depth"])
    deepest = int(df["depth"].max())
    colors = [shade(PLAIN_COLOR if a == "plain" else RESIDUAL_COLOR, 0.0 if int(d) == deepest else 0.5)
              for a, d in zip(nets["arch"], nets["depth"])]
    return alt.Scale(domain=list(nets["network"]), range=colors)


def _color(df: pd.DataFrame) -> alt.Color:
    return alt.Color("network:N", scale=network_scale(df), legend=legend(title="network"))


def correlation_chart(corr: pd.DataFrame, depth: int, height: int = 260) -> alt.LayerChart:
    """Mean correlation of the gradients of points ``lag`` steps apart on a line (band: the lines'
    min to max), plain and residual at ``depth``, init dashed."""
    d = _labelled(corr[corr["depth"] == depth])
    base = alt.Chart(d).encode(x=alt.X("lag:Q", title="distance between the two inputs (steps on the line)"),
                               color=_color(d))
    band = base.mark_area(opacity=0.12).encode(y="low:Q", y2="high:Q", detail="state:N",
                                               color=alt.Color("network:N", scale=network_scale(d), legend=None))
    line = base.mark_line(point=True).encode(
        y=alt.Y("correlation:Q", title="correlation of ∂f/∂x", scale=alt.Scale(domain=[-0.1, 1])),
        strokeDash=alt.StrokeDash("state:N", scale=STATE_DASH, legend=dash_legend(title="weights")),
        tooltip=["network:N", "state:N", "lag:Q", alt.Tooltip("correlation:Q", format=".3f")])
    return (band + line).properties(width=W, height=height, title=f"depth {depth}")


def share_chart(share: pd.DataFrame, height: int = 260) -> alt.Chart:
    """‖F(x)‖/‖S(x)‖ per block of the residual nets, init dashed and trained solid."""
    d = with_readable(_labelled(share[share["arch"] == "residual"].dropna(subset=["share"])))
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("position:Q", title="block (input → output)"),
        y=alt.Y("share:Q", title="‖F(x)‖ / ‖S(x)‖"),
        color=_color(d),
        strokeDash=alt.StrokeDash("state:N", scale=STATE_DASH, legend=dash_legend(title="weights")),
        tooltip=["network:N", "state:N", *name_tooltips(d), alt.Tooltip("share:Q", format=".3f")],
    ).properties(width=W, height=height)


def signal_chart(signal: pd.DataFrame, column: str, state: str = "init", height: int = 240) -> alt.Chart:
    """``column`` ("variance" or "mean_sq") of every block output, one line per network."""
    d = with_readable(_labelled(signal[signal["state"] == state]))
    # Brock et al.'s "average channel variance" / "average channel squared mean", short enough for the axis
    title = {"variance": "channel variance", "mean_sq": "channel mean²"}[column]
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("position:Q", title="block (input → output)"),
        y=alt.Y(f"{column}:Q", title=f"{title} ({state})"),
        color=_color(d),
        tooltip=["network:N", *name_tooltips(d), alt.Tooltip(f"{column}:Q", format=".3f")],
    ).properties(width=W, height=height)
