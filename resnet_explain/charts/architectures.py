"""The Architectures page: its table, shaped for st.dataframe, and its one chart (two panels
sharing the variant axis): log10 first/last gradient ratio at initialisation of each variant
(skips on, residual's blue) and its twin (skips off, plain's red); and the training error after
one budget (one neutral grey: a measurement, not a kind of network)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from .. import magnitude
from ..content.architectures import ratio_text
from .axes import MID_GREY, NEUTRAL_COLORS, PLAIN_COLOR, RESIDUAL_COLOR, legend

NET, TWIN = "network (skips on)", "its twin (every skip off)"
ROLE_COLORS = alt.Scale(domain=[NET, TWIN], range=[RESIDUAL_COLOR, PLAIN_COLOR])
ERROR_COLOR = NEUTRAL_COLORS[0]


def builder_link(spec_query: str) -> str:
    """A link (relative to this page) that opens the Network Builder on ``spec_query``."""
    return f"builder?{spec_query}"


def table(df: pd.DataFrame) -> pd.DataFrame:
    """The rows as the page shows them: numbers stay numbers (sortable), and where a number
    cannot exist the reason is written in its own text column."""
    return pd.DataFrame({
        "variant": df["label"],
        "open in builder": [builder_link(q) for q in df["spec"]],
        "first/last gradient": [ratio_text(r, n) for r, n in zip(df["ratio"], df["ratio_note"])],
        "twin: first/last": [ratio_text(r, n) for r, n in zip(df["twin_ratio"], df["twin_note"])],
        "training error (%)": (100 * df["train_error"]).round(1),
        "published error (%)": df["published_error"],
        "published": [f"{v} — {s}" if v else "" for v, s in zip(df["published_value"], df["published_source"])],
        "parameters": df["params"],
        "MFLOPs / image": (df["flops"] / 1e6).round(2),
        "layers": df["layers"],
        "log10 ratio": df["log10_ratio"].round(2),
        "twin: log10 ratio": df["log10_twin_ratio"].round(2),
        "test error (%)": (100 * df["test_error"]).round(1),
        "training result": df["train_source"],
        "idea": df["idea"],
        "paper": df["cite"],
    })


def ratio_long(df: pd.DataFrame) -> pd.DataFrame:
    """Long form for the left panel: one row per (variant, network or twin) with a finite log10
    ratio; rows without one keep their place as text at 0."""
    rows = []
    for r in df.itertuples():
        for role, ratio, lg, note in ((NET, r.ratio, r.log10_ratio, r.ratio_note),
                                      (TWIN, r.twin_ratio, r.log10_twin_ratio, r.twin_note)):
            ok = isinstance(lg, float) and math.isfinite(lg)
            why = "" if ok else ("no gradient: classifier starts at 0" if note else "0 or not finite")
            rows.append({"variant": r.label, "role": role, "log10_ratio": lg if ok else 0.0,
                         "ratio_text": ratio_text(ratio, note),
                         "measured": ok, "why": why, "verdict": magnitude.judge_ratio(ratio).short if ok else why})
    return pd.DataFrame(rows)


def chart(df: pd.DataFrame, height: int | None = None) -> alt.HConcatChart:
    order = list(df["label"])
    h = height or max(220, 26 * len(order))
    # Widths that fit the narrowest page a presenter uses (1280 px with the sidebar open: 820 px):
    # names up to 200 px, the panels 300 and 170 (tests/e2e/test_e2e_fit.py measures it).
    y = alt.Y("variant:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    long = ratio_long(df)
    band = pd.DataFrame({"lo": [-math.log10(magnitude.SAME_FACTOR)], "hi": [math.log10(magnitude.SAME_FACTOR)]})
    tip = [alt.Tooltip("variant:N"), alt.Tooltip("role:N", title="network"),
           alt.Tooltip("ratio_text:N", title="first / last"), alt.Tooltip("verdict:N")]
    left = alt.layer(
        alt.Chart(band).mark_rect(color=MID_GREY, opacity=0.15).encode(x="lo:Q", x2="hi:Q"),
        alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color=MID_GREY).encode(x="x:Q"),
        alt.Chart(long[long["measured"]]).mark_point(filled=True, size=90).encode(
            x=alt.X("log10_ratio:Q", title=["log10 (first / last block gradient)", "at initialisation"]),
            y=y, color=alt.Color("role:N", scale=ROLE_COLORS, title=None, legend=legend(orient="top")),
            tooltip=tip),
        alt.Chart(long[~long["measured"] & (long["role"] == NET)]).mark_text(
            align="left", dx=4, fontSize=11, color=RESIDUAL_COLOR).encode(x="log10_ratio:Q", y=y, text="why:N"),
    ).properties(width=300, height=h, title=alt.TitleParams(
        ["Gradient at initialisation", "(grey band: within 2× of 1)"]))
    err = pd.DataFrame({"variant": df["label"], "err": 100 * df["train_error"],
                        "train_source": df["train_source"]})
    yr = alt.Y("variant:N", sort=order, title=None, axis=None)
    right = alt.layer(
        alt.Chart(err.dropna(subset=["err"])).mark_bar(color=ERROR_COLOR, size=14).encode(
            x=alt.X("err:Q", title="training error (%)", scale=alt.Scale(domain=[0, 100])), y=yr,
            tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("err:Q", title="training error (%)", format=".1f"),
                     alt.Tooltip("train_source:N", title="result")]),
        alt.Chart(err[err["err"].isna()].assign(x=0.0)).mark_text(
            align="left", dx=4, fontSize=11, color=MID_GREY).encode(x="x:Q", y=yr, text="train_source:N"),
    ).properties(width=170, height=h, title=alt.TitleParams(["Training error", "after the quick budget"]))
    return alt.hconcat(left, right).resolve_scale(y="shared")


def chart_data(df: pd.DataFrame) -> pd.DataFrame:
    """The chart's numbers in one table (for the export button)."""
    long = ratio_long(df)
    errs = dict(zip(df["label"], 100 * df["train_error"]))
    return long.assign(training_error_pct=long["variant"].map(errs))
