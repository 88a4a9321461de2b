"""What every chart shares: one colour per concept (plain and residual, each activation), the
block axis, legends and axis titles that fit, and the ▼ markers for values that have no finite
log10 (0 in float32, NaN, Inf), drawn at a floor and never dropped."""

from __future__ import annotations

import textwrap

import altair as alt
import pandas as pd

from .. import magnitude
from ..spec import block_label
from .palette import (  # noqa: F401 (re-exported: the charts import their colours from here)
    ACTIVATION_COLORS,
    BRANCH_TERM_COLOR,
    IDENTITY_TERM_COLOR,
    MID_GREY,
    NEUTRAL_COLORS,
    PLAIN_COLOR,
    RESIDUAL_COLOR,
    RESIDUAL_SHADES,
    TOTAL_GRAD_COLOR,
)

W = "container"  # charts fill the page's width

# The colours live in .palette (one place, projector-safe); named here too, where charts import them.
VARIANT_COLORS = alt.Scale(domain=["residual", "plain"], range=[RESIDUAL_COLOR, PLAIN_COLOR])

# Legends: long labels are shown whole (Vega's default cuts them at 160 px with "…").
LEGEND_LABEL_LIMIT = 420
LEGEND_TITLE_LIMIT = 420
# An axis title longer than its axis is cut; wrap it instead. Characters per pixel of axis
# length at the largest title font the app uses (17 px in presenter mode, ~9 px a character).
TITLE_PX_PER_CHAR = 9.0
# A chart's height on a page is the whole chart's (Streamlit fits a container-wide chart into its
# width and height), so the y axis is shorter by the x axis below it: block names at -60° and
# the x title take up to ~110 px (measured in Chromium: tests/e2e/test_e2e_fit.py).
X_AXIS_PX = 110


def legend(**kw) -> alt.Legend:
    """A legend whose labels and title are not cut (every chart's colour/dash legend)."""
    kw.setdefault("labelLimit", LEGEND_LABEL_LIMIT)
    kw.setdefault("titleLimit", LEGEND_TITLE_LIMIT)
    return alt.Legend(**kw)


def dash_legend(**kw) -> alt.Legend:
    """A legend for a strokeDash channel that draws each dash as a grey line. (With a colour
    legend beside it and points on the lines, Vega-Lite would draw its symbols as identical
    dots: the fill colour set here stops that.)"""
    for k, v in dict(symbolType="stroke", symbolStrokeColor=MID_GREY, symbolFillColor="transparent",
                     symbolStrokeWidth=2.5, symbolSize=400, symbolOpacity=1).items():
        kw.setdefault(k, v)
    return legend(**kw)


def fit_title(text: str, length_px: float) -> str | list[str]:
    """``text`` as it fits the y axis of a chart ``length_px`` high: one line when it fits, else
    wrapped at words into lines that each fit (Vega-Lite draws a list as a multi-line title)."""
    per_line = max(12, int((length_px - X_AXIS_PX) / TITLE_PX_PER_CHAR))
    if len(text) <= per_line:
        return text
    return textwrap.wrap(text, per_line, break_long_words=False) or [text]


def activation_scale(domain) -> alt.Scale:
    """Colours for rows keyed by activation name (``sigmoid``, ``relu``…): ACTIVATION_COLORS."""
    domain = list(dict.fromkeys(domain))
    return alt.Scale(domain=domain, range=[ACTIVATION_COLORS.get(a, MID_GREY) for a in domain])


def shade(color: str, f: float) -> str:
    """``color`` (#rrggbb) mixed toward white (``f`` > 0) or black (``f`` < 0) by ``|f|``."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    mix = [c + (255 - c) * f if f > 0 else c * (1 + f) for c in rgb]
    return "#" + "".join(f"{round(c):02x}" for c in mix)


def activation_init_scale(labels, acts, inits) -> alt.Scale:
    """Colours for rows of (activation, init): the activation's colour at its first init (PyTorch's
    default), lighter and darker shades of it for the others."""
    rows = list(dict.fromkeys(zip(labels, acts, inits)))
    seen: dict[str, int] = {}
    rng = []
    for _, act, _ in rows:
        k = seen[act] = seen.get(act, -1) + 1
        rng.append(shade(ACTIVATION_COLORS.get(act, MID_GREY), (0.0, 0.45, -0.5, 0.7)[k % 4]))
    return alt.Scale(domain=[r[0] for r in rows], range=rng)


def variant_scale(names) -> alt.Scale:
    """Colours for named networks: a name starting with "plain" is plain's red, one starting
    with "residual" residual's blue; other names (residual variants such as "skip, …" or
    "α = 0.0") take residual's blue and then its shades, in order."""
    names = [str(n) for n in dict.fromkeys(names)]
    has_residual = any(n.startswith("residual") for n in names)
    others = iter((() if has_residual else (RESIDUAL_COLOR,)) + RESIDUAL_SHADES + NEUTRAL_COLORS * 9)
    out = [PLAIN_COLOR if n.startswith("plain") else RESIDUAL_COLOR if n.startswith("residual")
           else next(others) for n in names]
    return alt.Scale(domain=names, range=out)


def block_order(long: pd.DataFrame) -> list[str]:
    """Block names in network order (by ``position``), each once."""
    return list(dict.fromkeys(long.sort_values("position")["block"]))


# spec.block_label as a Vega expression, so an axis shows "stage 1 · block 1" while the data (and
# a click's selection) keep the stable code name "stage1.block0"; other names pass through.
# tests/unit/test_block_label.py renders it and compares with block_label.
BLOCK_LABEL_EXPR = ("test(regexp('^stage[0-9]+[.]block[0-9]+$'), datum.label) ? 'stage ' + "
                    "slice(split(datum.label, '.')[0], 5) + ' · block ' + "
                    "(toNumber(slice(split(datum.label, '.')[1], 5)) + 1) : datum.label")


def block_axis(**kw) -> alt.Axis:
    """An axis of block names, labelled as a learner reads them (:data:`BLOCK_LABEL_EXPR`)."""
    return alt.Axis(labelExpr=BLOCK_LABEL_EXPR, **kw)


# A tooltip cannot take a labelExpr: it shows a field as it is. So a chart's data gets a readable
# copy of each name (spec.block_label, the one naming rule) and its tooltips show that, with the
# code name beside it only where it says something else (tests/unit/test_chart_tooltips.py).
CODE_NAME = "code name"


def readable_name(name) -> str:
    """A block's or a parameter's name as a learner reads it: ``stage1.block0`` -> ``stage 1 ·
    block 1``, ``stage1.block0.body.conv1.weight`` -> ``stage 1 · block 1 · body.conv1.weight``;
    other names (``stem.conv.weight``, ``layer1.0``) as they are."""
    parts = str(name).split(".")
    head = ".".join(parts[:2])
    label = block_label(head)
    if label == head:
        return str(name)
    return " · ".join([label] + ([".".join(parts[2:])] if len(parts) > 2 else []))


def with_readable(df: pd.DataFrame, col: str = "block") -> pd.DataFrame:
    """``df`` with ``<col>_label``: :func:`readable_name` of each value of ``col``."""
    out = df.copy()
    out[f"{col}_label"] = [readable_name(v) for v in out[col]] if col in out else []
    return out


def name_tooltips(df: pd.DataFrame, col: str = "block", title: str = "block") -> list:
    """The tooltip fields for a name column: the readable name under ``title``, then the code name
    under "code name" where any differs (``df`` from :func:`with_readable`)."""
    tips = [alt.Tooltip(f"{col}_label:N", title=title)]
    if col in df and (df[col].astype(str) != df[f"{col}_label"]).any():
        tips.append(alt.Tooltip(f"{col}:N", title=CODE_NAME))
    return tips


def xblock(order, title: str = "block (input → output)") -> alt.X:
    return alt.X("block:O", sort=order, title=title, axis=block_axis(labelAngle=-60, labelOverlap=True))


def flagged_markers(long: pd.DataFrame, x, color=None, tooltip=None, label: bool = False) -> list:
    """▼ markers for the rows whose status is not ``measured`` (drawn at their floor ``y``), and
    with ``label`` one text per status beside the first of them."""
    flagged = long[long["status"] != magnitude.MEASURED]
    if not len(flagged):
        return []
    enc = {"x": x, "y": "y:Q"}
    if color is not None:
        enc["color"] = color
    if tooltip is not None:
        enc["tooltip"] = tooltip
    layers = [alt.Chart(flagged).mark_point(shape="triangle-down", size=160, filled=True).encode(**enc)]
    if label:
        layers.append(alt.Chart(flagged.drop_duplicates("status")).mark_text(
            align="left", dx=8, dy=-10, fontSize=12).encode(x=x, y="y:Q", text="status:N"))
    return layers
