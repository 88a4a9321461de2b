"""AppTest for the Network Builder's new blocks: ResNeXt and dense kinds, He et al. 2016's combines,
stochastic depth, gate bias, cardinality, the width factor and the zoo presets, each edit in the URL;
a refused combination is a message, never an exception."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.spec import NetSpec, preset

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]


def builder(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("app_pages/builder.py").run()
    assert not at.exception
    return at


def widget(at, kind: str, label: str):
    return next(w for w in getattr(at, kind) if w.label == label)


def labels(at, kind: str) -> set[str]:
    return {w.label for w in getattr(at, kind)}


def errors(at) -> str:
    return " ".join(e.value for e in at.error)


@pytest.mark.parametrize("combine, code", [("scale", "@s"), ("gate", "@g"), ("sgate", "@o"), ("drop", "@d")])
def test_block_editor_sets_each_combine_and_the_url_follows(combine, code):
    at = builder({"fam": "cnn", "net": "b16*2"})
    widget(at, "selectbox", "Combine").set_value(combine).run()
    assert not at.exception and not at.error
    assert at.query_params["net"] == f"b16{code},b16"
    assert at.session_state["spec"].blocks[0].combine == combine


def test_block_editor_picks_resnext_and_dense():
    at = builder({"fam": "cnn", "net": "b16~b32/2"})
    widget(at, "selectbox", "Kind of this block").set_value("resnext").run()
    assert not at.exception and at.query_params["net"] == "x16~b32/2"
    at.selectbox(key="builder_block").set_value("stage2.block0").run()
    widget(at, "selectbox", "Kind of this block").set_value("dense").run()
    assert not at.exception and not at.error
    assert at.query_params["net"] == "x16~d32/2"
    assert widget(at, "selectbox", "Combine").disabled  # a dense block concatenates
    assert "concat" in at.get("graphviz_chart")[0].proto.spec


def test_invalid_resnext_width_is_a_message_not_an_exception():
    at = builder({"fam": "cnn", "net": "b20*2"})  # width/2 = 10: not a multiple of cardinality 8
    widget(at, "selectbox", "Kind of this block").set_value("resnext").run()
    assert not at.exception
    assert "multiple of the cardinality 8" in errors(at)
    assert at.query_params["net"] == "b20*2"  # the refused edit never reached the URL


def test_dense_block_that_does_not_widen_is_a_message():
    at = builder({"fam": "cnn", "net": "b16*2"})
    widget(at, "selectbox", "Kind of this block").set_value("dense").run()
    assert not at.exception
    assert "width must exceed 16" in errors(at)


def test_survival_gate_bias_and_cardinality_round_trip_through_the_url():
    at = builder({"fam": "cnn", "net": "x32@g*2"})
    assert {"Gate bias (init)", "ResNeXt cardinality"} <= labels(at, "number_input")
    widget(at, "number_input", "Stochastic depth p_L").set_value(0.5).run()
    widget(at, "number_input", "Gate bias (init)").set_value(-2.0).run()
    widget(at, "number_input", "ResNeXt cardinality").set_value(16).run()
    assert not at.exception and not at.error
    q = {k: at.query_params[k] for k in ("pl", "gb", "card")}
    assert q == {"pl": "0.5", "gb": "-2", "card": "16"}
    spec = at.session_state["spec"]
    assert (spec.survival, spec.gate_bias, spec.cardinality) == (0.5, -2.0, 16)
    # A new session from that link shows the same values.
    again = builder(spec.to_params())
    assert again.session_state["spec"] == spec
    assert widget(again, "number_input", "Stochastic depth p_L").value == 0.5
    assert widget(again, "number_input", "Gate bias (init)").value == -2.0
    assert widget(again, "number_input", "ResNeXt cardinality").value == 16
    # A cardinality that does not divide the inner width (16) is refused with a message.
    widget(again, "number_input", "ResNeXt cardinality").set_value(3).run()
    assert not again.exception and "multiple of the cardinality 3" in errors(again)
    assert again.query_params["card"] == "16"


def test_gate_bias_and_cardinality_only_where_they_matter():
    at = builder(preset("resnet20").to_params())
    assert not {"Gate bias (init)", "ResNeXt cardinality"} & labels(at, "number_input")
    assert "fixup" in widget(at, "selectbox", "Initialisation").options


def test_bulk_combine_and_width_factor():
    at = builder(preset("resnet20").to_params())
    widget(at, "selectbox", "and the combine").set_value("gate").run()
    at.button(key="bulk_apply").click().run()
    assert not at.exception
    assert {b.combine for b in at.session_state["spec"].blocks} == {"gate"}
    assert at.query_params["net"] == "b16@g*3~b32/2@g,b32@g*2~b64/2@g,b64@g*2"
    at.number_input(key="widen_k").set_value(2).run()
    at.button(key="widen_apply").click().run()
    assert not at.exception
    assert at.query_params["net"] == "b32@g*3~b64/2@g,b64@g*2~b128/2@g,b128@g*2"


@pytest.mark.parametrize("name", ["zoo-highway20", "zoo-dense22"])
def test_zoo_preset_loads(name):
    at = builder(preset("resnet20").to_params())
    widget(at, "selectbox", "Start from a preset").set_value(name).run()
    widget(at, "button", "Load preset").click().run()
    assert not at.exception
    assert at.session_state["spec"] == preset(name)
    assert NetSpec.from_query(dict(at.query_params)) == preset(name)
    dot = at.get("graphviz_chart")[0].proto.spec
    assert ("gate: (1−g)·S + g·F" if "highway" in name else "concat [x, F(x)]") in dot
