"""AppTest: a Transformer spec from the URL in the Network Builder (its knobs) and Gradient Flow."""

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from resnet_explain import estimate_cost, probe_spec
from resnet_explain.spec import NetSpec
from resnet_explain.spec.transformer import transformer_spec

from .chartdata import chart_frames

ROOT = Path(__file__).resolve().parents[2]
SPEC = transformer_spec(depth=2, width=16, heads=2, context=8)


def app(spec: NetSpec) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in spec.to_params().items():
        at.query_params[k] = v
    return at


def test_builder_shows_the_knobs_and_edits_the_url():
    at = app(SPEC).run()
    at.switch_page("app_pages/builder.py").run()
    assert not at.exception
    assert at.session_state["spec"] == SPEC
    metrics = {m.label: m for m in at.metric}
    assert f"{estimate_cost(SPEC).params:,} parameters" in metrics["Parameters"].help
    assert len(at.get("graphviz_chart")) == 1
    at.session_state["code_resnet_explain_model_blocks_Block_forward"] = True  # open "Show the code"
    at.run()
    assert any("def forward" in c.value for c in at.code)
    [n for n in at.number_input if n.label == "Layers"][0].set_value(3).run()
    assert at.session_state["spec"] == transformer_spec(depth=3, width=16, heads=2, context=8)
    at.multiselect(key=[w.key for w in at.multiselect][0]).set_value(["layer1.mlp"]).run()
    spec = at.session_state["spec"]
    assert [b.skip for b in spec.blocks] == [True, True, True, False, True, True]
    assert NetSpec.from_query("&".join(f"{k}={at.query_params[k]}" for k in spec.to_params())) == spec
    # DeepNorm needs post-LN: a clear message, the network unchanged
    [s for s in at.selectbox if s.label == "Residual scaling"][0].set_value("deepnorm").run()
    assert not at.exception and at.session_state["spec"] == spec
    assert any("post" in e.value for e in at.error)
    [b for b in at.button if b.label == "Start from scratch"][0].click().run()
    assert not at.exception and at.session_state["spec"].depth == 1


def test_gradient_flow_probes_the_transformer_and_its_twin():
    at = app(SPEC).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception
    long = max(chart_frames(at)[0], key=len)
    got = long[long["variant"] == "residual"].sort_values("position")["grad_norm"].to_numpy()
    np.testing.assert_allclose(got, probe_spec(SPEC, seed=0, batch=32).blocks["grad_norm"].to_numpy(), rtol=1e-6)
    assert set(long["block"]) == {n for n, _ in SPEC.named_blocks()}
