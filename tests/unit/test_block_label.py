"""spec.block_label: one naming of blocks for people (stage 1 · block 1), the code name kept for machines;
the charts' axis expression says the same as the Python function."""

import re

import altair as alt
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_explain.charts.axes import BLOCK_LABEL_EXPR, xblock
from resnet_explain.spec import block_label, block_name, parse_block_name


def test_counts_stages_and_blocks_from_one():
    assert block_name(0, 0) == "stage1.block0"
    assert block_label("stage1.block0") == "stage 1 · block 1"
    assert block_label("stage3.block8") == "stage 3 · block 9"


@given(st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=500))
def test_label_is_a_one_to_one_reading_of_the_stable_name(stage, index):
    name = block_name(stage, index)
    label = block_label(name)
    m = re.fullmatch(r"stage (\d+) · block (\d+)", label)
    assert m and (int(m.group(1)) - 1, int(m.group(2)) - 1) == parse_block_name(name) == (stage, index)


@pytest.mark.parametrize("other", ["stem", "head", "layer1.0", "stage1.block", "blocks.3", ""])
def test_other_names_pass_through(other):
    assert block_label(other) == other


def test_axis_expression_renders_the_same_labels():
    vlc = pytest.importorskip("vl_convert")
    names = ["stage1.block0", "stage2.block11", "stem", "layer1.0"]
    chart = alt.Chart(pd.DataFrame({"block": names, "y": range(4)})).mark_point().encode(
        x=xblock(names), y="y:Q").properties(width=400)
    svg = vlc.vegalite_to_svg(chart.to_dict())
    for n in names:
        assert f">{block_label(n)}</text>" in svg.replace("&#183;", "·").replace("&middot;", "·"), n
    assert "labelExpr" in str(chart.to_dict()) and BLOCK_LABEL_EXPR in str(chart.to_dict())
