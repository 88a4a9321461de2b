"""AppTest for the shell (app.py + home), the Network Builder and the Gradient Flow page."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain import estimate_cost, preset, probe_spec
from resnet_explain.content.story import STEPS

from .chartdata import chart_frames

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at


def _grad_series(at, variant: str) -> np.ndarray:
    frames = chart_frames(at)[0]
    long = max(frames, key=len)
    d = long[long["variant"] == variant].sort_values("position")
    return d["grad_norm"].to_numpy()


def test_home_renders_and_links_every_step():
    at = app().run()
    assert not at.exception
    assert at.title[0].value.startswith("Why do residual")
    links = [el.proto.label for el in at.get("page_link")]
    for n, step in enumerate(STEPS, start=1):
        assert f"{n}. {step.title}" in links
    assert f"Next: {STEPS[0].title}" in links
    acts = [el for el in at.get("page_link") if el.proto.label[:1].isdigit() and " · " in el.proto.label]
    assert acts, "the workshop acts are linked"


def test_every_page_renders_without_exception():
    at = app().run()
    for step in STEPS:
        at.switch_page(step.file).run()
        assert not at.exception, (step.file, [e.value for e in at.exception])
        assert at.title, step.file


def test_sidebar_has_device_seed_presenter():
    at = app().run()
    labels = [w.label for w in at.sidebar.selectbox] + [w.label for w in at.sidebar.number_input] \
        + [w.label for w in at.sidebar.toggle]
    assert {"Device", "Seed", "Presenter mode", "Controls"} <= set(labels)
    assert any("CPU" in c.value or "GPU" in c.value or "MPS" in c.value for c in at.sidebar.caption)


def test_builder_renders_diagram_cost_and_code():
    at = app().run()
    at.switch_page("app_pages/builder.py").run()
    assert not at.exception
    assert len(at.get("graphviz_chart")) == 1
    metrics = {m.label: m for m in at.metric}
    params = estimate_cost(preset("plain20")).params
    assert params == 269_722 and metrics["Parameters"].value == "270 k"
    assert f"{params:,} parameters" in metrics["Parameters"].help
    key = "code_resnet_explain_model_blocks_Block_forward"
    assert not any("def forward" in c.value for c in at.code)  # drawn when its expander opens
    at.session_state[key] = True  # what a click on "Show the code" sends
    at.run()
    assert any("def forward" in c.value for c in at.code)


def test_builder_preset_and_skip_toggle_edit_the_url():
    at = app().run()
    at.switch_page("app_pages/builder.py").run()
    sb = [s for s in at.selectbox if s.label == "Start from a preset"][0]
    sb.set_value("resnet56").run()
    [b for b in at.button if b.label == "Load preset"][0].click().run()
    assert not at.exception
    assert at.query_params["net"] == preset("resnet56").to_params()["net"]
    [b for b in at.button if b.label == "All skips off"][0].click().run()
    assert at.query_params["net"] == preset("plain56").to_params()["net"]
    assert at.session_state["spec"] == preset("plain56")


def test_builder_remove_and_duplicate_block():
    at = app({k: v for k, v in preset("resnet20").to_params().items()}).run()
    at.switch_page("app_pages/builder.py").run()
    n0 = at.session_state["spec"].n_blocks
    [b for b in at.button if b.label == "Duplicate"][0].click().run()
    assert at.session_state["spec"].n_blocks == n0 + 1
    [b for b in at.button if b.label == "Remove"][0].click().run()
    assert at.session_state["spec"].n_blocks == n0
    assert not at.exception


def test_gradient_flow_numbers_equal_the_library_and_skip_toggle_changes_them():
    spec = preset("plain20")
    at = app(spec.to_params()).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    plain = _grad_series(at, "plain")
    expected = probe_spec(spec, seed=0, batch=32).blocks["grad_norm"].to_numpy()
    np.testing.assert_allclose(plain, expected, rtol=1e-6)
    before = _grad_series(at, "residual")
    # Toggle the skips: "yours" becomes residual; both curves are still drawn, from new probes.
    at.toggle(key="gf_skips").set_value(True).run()
    assert not at.exception
    assert at.session_state["spec"] == preset("resnet20")
    np.testing.assert_allclose(_grad_series(at, "residual"), before, rtol=1e-6)
    text = " ".join(m.value for m in at.markdown)
    ratios = {k: probe_spec(preset(k), seed=0, batch=32).ratio for k in ("plain20", "resnet20")}
    assert ratios["plain20"] > 2 and ratios["resnet20"] > 2  # both grow: one verdict, judge_ratio's
    assert (f"**Residual (yours):** the gradient grows **{ratios['resnet20']:.2g}-fold** toward the input; "
            f"**plain (twin):** grows **{ratios['plain20']:.2g}-fold** toward the input.") in text
    assert "about the same size" not in text


def test_url_reproduces_the_same_numbers_with_seed():
    spec = preset("resnet20")
    q = dict(spec.to_params(), seed="7")
    a = app(q).run()
    a.switch_page("app_pages/gradient_flow.py").run()
    b = app(q).run()
    b.switch_page("app_pages/gradient_flow.py").run()
    np.testing.assert_array_equal(_grad_series(a, "residual"), _grad_series(b, "residual"))
    expected = probe_spec(spec, seed=7, batch=32).blocks["grad_norm"].to_numpy()
    np.testing.assert_allclose(_grad_series(a, "residual"), expected, rtol=1e-6)


@pytest.mark.parametrize("query", [
    {"net": "<script>alert(1)</script>"},
    {"net": "b16*99999"},
    {"fam": "cnn", "net": "b16", "act": "swish"},
    {"fam": "rnn", "net": "b16"},
    {"net": "b16", "bogus": "1"},
    {"net": "b16", "alpha": "nan"},
    {"net": "b16~", "cls": "1e9"},
    {"net": "b16", "ins": "-3"},
    {"net": "ｂ１６", "act": "rélu"},
])
def test_bad_query_params_warn_and_fall_back(query):
    at = app(query).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    assert any("could not be read" in w.value for w in at.warning)
    assert at.session_state["spec"] == preset("plain20")  # the default network
    assert at.get("vega_lite_chart")


def test_bad_sidebar_values_are_ignored():
    at = app({"seed": "abc", "device": "tpu", "presenter": "maybe"}).run()
    assert not at.exception
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception


def test_underflow_renders_without_dropping_rows():
    spec = replace(preset("mlp-sigmoid50-plain"), stages=((preset("mlp-sigmoid50-plain").blocks[0],) * 60,))
    at = app(spec.to_params()).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    frames = chart_frames(at)[0]
    long = max(frames, key=len)
    plain = long[long["variant"] == "plain"]
    assert len(plain) == spec.n_blocks
    assert plain["underflow"].any()
    assert (plain.loc[plain["underflow"], "status"] == "0 in float32 (underflow)").all()
    assert np.isfinite(plain["y"]).all()


def test_old_plain_link_gets_a_real_residual_twin_and_the_switch_changes_the_url():
    """Issue: a network of `p` blocks used to be its own twin (an identical copy labelled
    "residual"); turning its skips on changed nothing and never finished under AppTest."""
    at = app({"fam": "cnn", "net": "p16*3~p32/2,p32*2"}).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    spec = at.session_state["spec"]
    assert spec.n_skips == 0 and at.query_params["net"] == "b16!*3~b32/2!,b32!*2"
    plain, residual = _grad_series(at, "plain"), _grad_series(at, "residual")
    assert len(plain) == len(residual) == 6 and not np.allclose(plain, residual)
    at.toggle(key="gf_skips").set_value(True).run()
    assert not at.exception
    assert at.session_state["spec"].n_skips == 6
    assert at.query_params["net"] == "b16*3~b32/2,b32*2"


def test_gradient_flow_shows_the_gate_term_on_a_highway_net():
    spec = preset("zoo-highway20")
    at = app(spec.to_params()).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    frames = [f for chart in chart_frames(at) for f in chart if "term" in f]
    assert frames and set(frames[0]["term"]) == {"carry (shortcut) term", "transform (branch) term",
                                                 "through the gate g(x)"}
    expected = probe_spec(spec, seed=0, batch=32).blocks["gate_norm"].to_numpy()
    gate = frames[0][frames[0]["term"] == "through the gate g(x)"].sort_values("position")["norm"]
    np.testing.assert_allclose(gate.to_numpy(), expected, rtol=1e-6)
    text = " ".join(m.value for m in at.markdown)
    assert "**through the gate**" in text and r"g = \sigma(-2) = 0.12$" in text


def test_gradient_flow_says_through_the_concatenation_on_a_dense_net():
    at = app(preset("zoo-dense22").to_params()).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    assert any("through the concatenation" in m.value for m in at.markdown)
    assert not any("gate" in m.value for m in at.markdown)
