"""AppTest for the stage features: a picked block on Gradient Flow and the Builder, the theme."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_explain import magnitude
from resnet_explain.charts.diagram import HIGHLIGHT, HIGHLIGHT_MARK

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]


def _page(path: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _highlighted_lines(at) -> list[str]:
    (dot,) = [g.proto.spec for g in at.get("graphviz_chart")]
    return [line for line in dot.splitlines() if HIGHLIGHT in line]


def test_gradient_flow_click_shows_the_blocks_numbers_and_highlights_it():
    at = _page("app_pages/gradient_flow.py")
    # nothing picked yet: the architecture's expander is drawn when opened (Graphviz's renderer is
    # not fetched by every new browser), and then it marks no block
    assert not at.get("graphviz_chart")
    at.session_state["gf_arch"] = True  # what a click on the expander sends
    at.run()
    assert _highlighted_lines(at) == []
    # AppTest cannot click a chart; set the chart's selection state as a click would.
    at.session_state["gf_norms_chart"] = {"selection": {"pick": [{"block": "stage2.block1"}]}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = [m.value for m in at.markdown if m.value.startswith("**stage 2 · block 2**")]
    assert len(text) == 1 and "in your network (plain)" in text[0] and "× the twin's" in text[0]
    rows = [d.value for d in at.dataframe if len(d.value) == 2]
    assert rows and set(rows[0]["block"]) == {"stage2.block1"} and list(rows[0]["network"]) == ["yours", "twin"]
    (line,) = _highlighted_lines(at)
    assert "block 2:" in line and HIGHLIGHT_MARK in line  # stage2.block1, counted from 1 in the diagram
    mine, twin = rows[0]["grad_norm"]  # the sentence's numbers are the table's
    assert f"{magnitude.value_text(mine)} in your network" in text[0]
    assert f"{magnitude.value_text(twin)} in its twin" in text[0]
    assert f"{magnitude.fmt_ratio(mine / twin)}× the twin's" in text[0]


def test_builder_highlights_the_picked_block_only():
    at = _page("app_pages/builder.py", {"fam": "cnn", "net": "b16*3~b32/2,b32*2~b64/2,b64*2"})
    picker = at.selectbox(key="builder_block")
    for name in ("stage1.block0", "stage3.block2"):
        picker.set_value(name).run()
        assert not at.exception
        (line,) = _highlighted_lines(at)
        assert line.split("[label=\"")[1].startswith(f"block {int(name[-1]) + 1}:"), line


def test_theme_rides_in_the_url_and_loads_streamlits_theme_option():
    at = _page("app_pages/builder.py", {"theme": "dark"})
    assert at.sidebar.selectbox(key="theme").value == "dark"
    scripts = [h.proto.body for h in at.get("html") if "embed_options" in h.proto.body]
    assert len(scripts) == 1 and 'want = "dark_theme"' in scripts[0] and "changed = false" in scripts[0]
    at.sidebar.selectbox(key="theme").set_value("light").run()
    scripts = [h.proto.body for h in at.get("html") if "embed_options" in h.proto.body]
    assert len(scripts) == 1 and 'want = "light_theme"' in scripts[0] and "changed = true" in scripts[0]
