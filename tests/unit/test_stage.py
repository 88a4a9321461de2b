"""The stage features in the library: the picked block in the diagram and the gradient chart,
the theme's sections and colours."""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from resnet_explain import preset
from resnet_explain.charts import gradflow
from resnet_explain.charts.axes import MID_GREY, PLAIN_COLOR, RESIDUAL_COLOR
from resnet_explain.charts.diagram import HIGHLIGHT, HIGHLIGHT_MARK, to_dot

ROOT = Path(__file__).resolve().parents[2]


def _marked(dot: str) -> list[str]:
    return [line for line in dot.splitlines() if HIGHLIGHT in line]


def test_diagram_marks_the_highlighted_block_and_only_it():
    spec = preset("resnet20")
    assert _marked(to_dot(spec, collapse=False)) == []
    for name, label in (("stage1.block0", "block 1:"), ("stage2.block2", "block 3:"), ("stage3.block1", "block 2:")):
        (line,) = _marked(to_dot(spec, collapse=False, highlight=name))
        assert f'[label="{label}' in line and HIGHLIGHT_MARK in line
        assert to_dot(spec, collapse=False, highlight=name).count(HIGHLIGHT_MARK) == 1
    # Collapsed: the run that holds the block is marked (stage2's blocks 1-2 are one node).
    (line,) = _marked(to_dot(spec, collapse=True, highlight="stage2.block2"))
    assert '[label="blocks 2–3:' in line
    # A name that is not a block of this network marks nothing (and does not raise).
    for bad in ("stage9.block0", "nonsense", ""):
        assert _marked(to_dot(spec, highlight=bad)) == []


def _frames():
    def table(norms, skip):
        n = len(norms)
        return pd.DataFrame({"position": range(n), "block": [f"stage1.block{i}" for i in range(n)],
                             "kind": "basic", "skip": skip, "grad_norm": norms,
                             "log10_grad_norm": np.log10(np.where(np.array(norms) > 0, norms, np.nan)),
                             "underflow": [v == 0 for v in norms], "has_nan": False, "has_inf": False,
                             "identity_norm": np.nan, "residual_norm": np.nan, "act_mean": 0.0, "act_std": 1.0})
    return {"plain": table([4.0, 2.0, 0.0], False), "residual": table([1.0, 0.5, 0.25], True)}


def test_picked_block_reads_streamlits_selection_event():
    blocks = ["stage1.block0", "stage1.block1"]
    assert gradflow.picked_block({"selection": {gradflow.PICK: [{"block": "stage1.block1"}]}}, blocks) == "stage1.block1"
    assert gradflow.picked_block({"selection": {gradflow.PICK: []}}, blocks) is None  # cleared
    assert gradflow.picked_block({"selection": {gradflow.PICK: [{"block": "stage4.block0"}]}}, blocks) is None
    assert gradflow.picked_block(None, blocks) is None and gradflow.picked_block({}, blocks) is None


def test_block_numbers_are_the_blocks_rows_and_their_ratio():
    rows, text = gradflow.block_numbers(_frames(), "stage1.block1", yours="plain")
    assert list(rows["network"]) == ["yours", "twin"] and list(rows["grad_norm"]) == [2.0, 0.5]
    assert text == ("**stage 1 · block 2**: ‖∂L/∂x‖ = 2.000 in your network (plain), "
                    "5.000 × 10⁻¹ in its twin (residual): yours is 4× the twin's.")
    _, text = gradflow.block_numbers(_frames(), "stage1.block2", yours="plain")  # yours underflows
    assert "0 (underflow) in your network" in text and "yours is 0×" in text
    _, text = gradflow.block_numbers(_frames(), "stage1.block2", yours="residual")  # the twin underflows
    assert "0 (underflow) in its twin" in text and "yours is" not in text  # no ratio over an exact 0


def test_grad_norm_chart_is_pickable_only_when_asked():
    long = gradflow.gradflow_long(_frames(), yours="plain")
    assert "params" not in gradflow.grad_norm_chart(long).to_dict()
    spec = gradflow.grad_norm_chart(long, pickable=True).to_dict()
    (param,) = spec["params"]
    assert param["name"] == gradflow.PICK and param["select"]["fields"] == ["block"]
    assert any(layer.get("mark", {}).get("type") == "rule" for layer in spec["layer"])  # the picked block's rule


def _luminance(hex_color: str) -> float:
    c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_theme_sections_and_one_colour_per_concept_reads_on_both():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    light, dark = cfg["theme"]["light"], cfg["theme"]["dark"]
    assert cfg["server"]["xsrfCookieSameSite"] == "lax"  # plain-http LAN; the Space's Dockerfile sets none
    assert _contrast(dark["textColor"], dark["backgroundColor"]) >= 7  # WCAG AAA for text
    assert _contrast(light["textColor"], light["backgroundColor"]) >= 7
    # Lines and points (WCAG's 3:1 for graphics): plain red, residual blue and the neutral grey.
    for color in (PLAIN_COLOR, RESIDUAL_COLOR, MID_GREY):
        assert _contrast(color, dark["backgroundColor"]) >= 3, color
        assert _contrast(color, light["backgroundColor"]) >= 3, color


def test_theme_script_is_constant_per_choice():
    from resnet_explain.ui.sidebar import THEMES, theme_sync_js

    assert THEMES == ("auto", "light", "dark")
    assert 'want = "dark_theme"' in theme_sync_js("dark", False)
    assert 'want = "light_theme"' in theme_sync_js("light", True) and "changed = true" in theme_sync_js("light", True)
    # Anything else is "auto": no user text reaches the script.
    assert theme_sync_js('"; alert(1); "', False) == theme_sync_js("auto", False)
