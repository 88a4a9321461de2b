"""Pure chart functions and the architecture diagram."""

from dataclasses import replace

import numpy as np
import pandas as pd

from resnet_explain import preset, probe_spec
from resnet_explain.charts import export
from resnet_explain.charts import gradflow as charts
from resnet_explain.charts.diagram import to_dot
from resnet_explain.spec import NetSpec


def test_diagram_draws_skips_only_where_they_are():
    res, plain = to_dot(preset("resnet20"), collapse=False), to_dot(preset("plain20"), collapse=False)
    assert res.count("style=dashed") == 9  # one skip edge per block
    assert plain.count("style=dashed") == 0
    assert "zero-pad" in res and "identity" in res
    # Collapsed: one node (and one skip edge) per run of identical blocks: 3 + (1 + 2) + (1 + 2).
    assert to_dot(preset("resnet20"), collapse=True).count("style=dashed") == 5
    option_b = preset("resnet20").map_blocks(lambda b: replace(b, shortcut="B"))
    assert to_dot(option_b, collapse=False).count("1×1 projection") == 2


def test_diagram_collapses_runs():
    dot = to_dot(preset("resnet110"), collapse=True)
    assert "× 17" in dot and dot.count("->") < 40
    assert to_dot(preset("resnet110"), collapse=False).count("style=dashed") == 54


def test_gradflow_long_keeps_underflow_rows_and_flags_them():
    df = pd.DataFrame({"position": [0, 1, 2], "block": ["a", "b", "c"], "grad_norm": [0.0, 1e-3, 1.0],
                       "log10_grad_norm": [np.nan, -3.0, 0.0], "underflow": [True, False, False],
                       "has_nan": [False, False, False], "has_inf": [False, False, False]})
    long = charts.gradflow_long({"plain": df}, yours="plain")
    assert len(long) == 3
    assert long.loc[0, "status"] == "0 in float32 (underflow)"
    assert long.loc[0, "y"] < -3.0 and np.isfinite(long["y"]).all()
    spec = charts.grad_norm_chart(long).to_dict()  # validated against the Vega-Lite schema
    # The line, then the underflow row's marker and its label.
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "point", "text"]
    assert spec["layer"][1]["mark"]["shape"] == "triangle-down"


def test_chart_export_png_svg_csv():
    r = probe_spec(replace(preset("resnet20"), stages=preset("resnet20").stages[:1]), batch=4)
    long = charts.gradflow_long({"residual": r.blocks})
    c = charts.grad_norm_chart(long)
    assert export.to_image(c, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in export.to_image(c, "svg")[:500]
    assert export.to_csv(long).startswith(b"position,")
    split = charts.split_long(r.blocks)
    assert set(split["term"]) == {"identity (shortcut) term", "residual-branch term J_Fᵀg"}
    wl = charts.weight_grad_long({"residual": r.params})
    # Weight matrices and kernels only, input to output: the stem conv, 2 convs in each of
    # ResNet-20's first 3 blocks, the head (no norm scales, no biases).
    assert len(wl) == 8 and list(wl["layer"]) == list(range(8))
    assert wl["param"].iloc[0] == "stem.conv.weight" and wl["param"].iloc[-1] == "head.fc.weight"
    assert not wl["param"].str.contains("norm").any()


def test_diagram_labels_gates_scaling_dropout_and_concatenation():
    gated = to_dot(preset("zoo-highway20"), collapse=False)
    assert gated.count("gate: (1−g)·S + g·F") == 9 and 'label="+"' not in gated
    assert to_dot(preset("zoo-sgate20")).count("gate: (1−g)·S + F") == 5
    assert "½·S + ½·F" in to_dot(preset("zoo-scale20"))
    drop = to_dot(preset("zoo-drop20"), collapse=False)
    assert drop.count("dropout 0.5 · identity") == 7 and drop.count("dropout 0.5 · zero-pad") == 2
    dense = to_dot(preset("zoo-dense22"), collapse=True)
    # Every dense layer widens (+12 channels), so none collapse: 18 concatenations.
    assert dense.count("concat [x, F(x)]") == 18 and dense.count("(+12 new)") == 18
    assert "zero-pad" not in dense and 'label="+"' not in dense
    # between the dense blocks, transitions (no skip; they pool in their own body)
    assert dense.count("transition") == 2 and dense.count("stride 2  (no skip)") == 2
    assert "avg-pool 2×2" not in dense
    assert to_dot(NetSpec.from_query("net=d28~d40/2&stem=16")).count("avg-pool 2×2") == 1  # a strided dense layer
    plain = to_dot(preset("zoo-dense22").twin())
    assert "concat" not in plain and "new)" not in plain and plain.count("(no skip)") == 20
    # Plain add stays a "+".
    assert to_dot(preset("resnet20")).count('label="+"') == 5


def test_split_names_gate_and_concatenation_terms():
    gated = charts.split_long(probe_spec(preset("zoo-highway20"), batch=4).blocks)
    assert list(gated["term"].unique()) == charts.GATED_TERMS
    assert (gated.groupby("term").size() == 9).all()  # every block: carry, transform, gate
    assert np.isfinite(gated["log10"]).all()
    charts.split_chart(gated).to_dict()
    dense = charts.split_long(probe_spec(preset("zoo-dense22"), batch=4).blocks)
    assert list(dense["term"].unique()) == charts.DENSE_TERMS
    charts.split_chart(dense).to_dict()
    table = charts.numbers_table({"residual": probe_spec(preset("zoo-dense22"), batch=4).blocks})
    assert "gate_norm" not in table  # no gate, no gate column
