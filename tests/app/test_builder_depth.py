"""AppTest for the Network Builder's depth control: blocks per stage n (depth 6n+2 for He et al.'s
CIFAR ResNets), in the URL's network; a refused depth is a message, never an exception."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.spec import NetSpec, preset
from resnet_explain.spec.limits import MAX_BLOCKS
from resnet_explain.ui import builder_panels as panels

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]
LABEL = "Blocks per stage (n)"


def builder(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("app_pages/builder.py").run()
    assert not at.exception
    return at


def depth_input(at):
    return next(w for w in at.number_input if w.label == LABEL)


def test_setting_n_rebuilds_every_stage_and_the_url_follows():
    at = builder(preset("resnet20").to_params())
    assert depth_input(at).value == 3 and "6n + 2" in depth_input(at).help
    depth_input(at).set_value(9).run()
    assert not at.exception and not at.error
    spec = at.session_state["spec"]
    assert [len(s) for s in spec.stages] == [9, 9, 9] and spec.depth == 56
    assert spec == preset("resnet56")  # the same network as He et al.'s ResNet-56
    assert at.query_params["net"] == preset("resnet56").to_params()["net"]
    assert next(m for m in at.metric if m.label == "Depth").value == "56"
    assert depth_input(at).value == 9  # a fresh widget, read from the new network


def test_a_link_with_unequal_stages_shows_no_n_until_one_is_typed():
    at = builder({"fam": "cnn", "net": "b16*2~b32/2"})
    assert depth_input(at).value is None
    depth_input(at).set_value(2).run()
    assert not at.exception and at.query_params["net"] == "b16*2~b32/2,b32"


def test_a_refused_depth_is_a_message():
    at = builder(preset("resnet20").to_params())
    depth_input(at).set_value(MAX_BLOCKS // 2).run()  # 3 stages: more blocks than the limit
    assert not at.exception and str(MAX_BLOCKS) in " ".join(e.value for e in at.error)
    assert at.session_state["spec"] == preset("resnet20")  # the network is kept


@pytest.mark.parametrize("name, n", [("resnet20", 3), ("plain56", 9), ("resnet110", 18)])
def test_with_blocks_per_stage_gives_he_et_al_s_depths(name, n):
    spec = panels.with_blocks_per_stage(preset("resnet20" if "resnet" in name else "plain20"), n)
    assert spec == preset(name) and spec.depth == 6 * n + 2
    assert panels.blocks_per_stage(spec) == n


def test_blocks_per_stage_is_none_for_unequal_stages_and_help_states_the_rule():
    spec = NetSpec.from_query("fam=cnn&net=b16*2~b32/2")
    assert panels.blocks_per_stage(spec) is None
    assert "depth = 4n + 2" in panels.depth_help(spec)
    assert "6n + 2" in panels.depth_help(preset("resnet56"))
