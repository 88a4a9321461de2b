"""The charts' colours, from the one place they live (charts/palette.py): each reads on both themes'
backgrounds on a projector, categorical neighbours are different hues (not shades of one), and a
chart drawn by the app takes the scheme for channels without a scale of their own."""

import colorsys
import tomllib
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from resnet_explain.charts import palette

from .test_stage import _contrast

ROOT = Path(__file__).resolve().parents[2]
THEMES = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
EVERY = sorted({*palette.CATEGORICAL, *palette.ACTIVATION_COLORS.values(), *palette.RESIDUAL_SHADES,
                *palette.NEUTRAL_COLORS, palette.PLAIN_COLOR, palette.RESIDUAL_COLOR, palette.MID_GREY,
                palette.IDENTITY_TERM_COLOR, palette.BRANCH_TERM_COLOR, palette.TOTAL_GRAD_COLOR})


@pytest.mark.parametrize("color", EVERY)
def test_every_colour_reads_on_the_light_and_the_dark_theme(color):
    for theme in ("light", "dark"):  # WCAG's 3:1 for graphics
        assert _contrast(color, THEMES[theme]["backgroundColor"]) >= 3, (color, theme)


def _hue(color: str) -> float:
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    return h * 360 if s > 0.15 else -1.0  # -1: a grey


def test_categorical_neighbours_are_different_hues():
    hues = [_hue(c) for c in palette.CATEGORICAL]
    assert len(set(palette.CATEGORICAL)) == len(hues)
    for a, b in zip(hues, hues[1:]):  # stage 1 beside stage 2, …: at least 40° apart, or one grey
        gap = min(abs(a - b), 360 - abs(a - b))
        assert a < 0 or b < 0 or gap >= 40, (a, b)


def test_residual_variants_are_hues_not_shades_of_blue():
    residual = _hue(palette.RESIDUAL_COLOR)
    for c in palette.RESIDUAL_SHADES:
        gap = min(abs(_hue(c) - residual), 360 - abs(_hue(c) - residual))
        assert gap >= 40, c


def test_with_palette_sets_the_scheme_for_charts_without_a_scale():
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "stage": ["a", "b"]})).mark_point().encode(x="x", color="stage")
    spec = palette.with_palette(chart).to_dict()
    assert spec["config"]["range"]["category"] == list(palette.CATEGORICAL)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_diagram_takes_the_theme_colours_on_a_transparent_background(theme):
    from resnet_explain.charts.diagram import HIGHLIGHT_MARK, THEMES, to_dot
    from resnet_explain.spec import preset

    dot = to_dot(preset("resnet20"), highlight="stage2.block1", theme=theme)
    other = THEMES["dark" if theme == "light" else "light"]
    assert 'bgcolor="transparent"' in dot  # never a white slab on the dark page
    for part in ("text", "box", "residual", "skip", "pick"):
        assert THEMES[theme][part] in dot and other[part] not in dot, part
    assert dot.count(HIGHLIGHT_MARK) == 1
