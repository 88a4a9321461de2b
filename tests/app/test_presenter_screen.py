"""The presenter's screen (ui/stage.py): with ``controls=hide`` a page's controls fold into one
"Controls" expander and its explanations are hidden, leaving its title, sentence and chart; presenter
mode draws side-by-side charts one under the other, full width. (What this looks like at 1280×720 is
measured in Chromium: tests/e2e/test_e2e_presenter.py.)"""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
SMALL = {"fam": "mlp", "net": "b16*3", "act": "sigmoid", "norm": "none"}  # a net that probes in ms


def gradient_flow(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "gradient_flow.py"), default_timeout=TIMEOUT)
    at.query_params.update({**SMALL, **query})
    return at.run()


def test_on_stage_the_controls_fold_into_one_expander_and_the_asides_are_hidden():
    at = gradient_flow({"controls": "hide", "presenter": "true"})
    assert not at.exception
    (box,) = [e for e in at.main.expander if e.label == "Controls"]
    assert {t.key for t in box.toggle} == {"gf_skips", "gf_f64"} and box.selectbox(key="gf_batch")
    css = " ".join(h.proto.body for h in at.get("html"))
    assert 'st-key-aside_' in css and "display: none" in css  # the explanations are not drawn
    assert any("(yours)" in m.value and "(twin)" in m.value for m in at.markdown)  # the sentence stays
    assert at.get("vega_lite_chart")  # and the chart


def test_off_stage_the_page_is_unchanged():
    at = gradient_flow({})
    assert not at.exception
    assert not [e for e in at.main.expander if e.label == "Controls"]
    assert at.toggle(key="gf_skips") and "display: none" not in " ".join(h.proto.body for h in at.get("html"))


def _two_charts():
    import streamlit as st

    from resnet_explain import ui

    for i, col in enumerate(ui.columns(2)):
        col.write(f"chart {i}")
    st.markdown(str(ui.chart_height(300, 405, 370)))


def test_presenter_mode_stacks_columns_and_the_stage_sets_its_chart_height():
    plain = AppTest.from_function(_two_charts, default_timeout=TIMEOUT).run()
    assert len(plain.columns) == 2 and plain.markdown[-1].value == "300"
    big = AppTest.from_function(_two_charts, default_timeout=TIMEOUT)
    big.session_state["presenter"] = True
    big.run()
    assert len(big.columns) == 0 and big.markdown[-1].value == "405"  # full width, one under the other
    stage = AppTest.from_function(_two_charts, default_timeout=TIMEOUT)
    stage.session_state["presenter"] = True
    stage.query_params["controls"] = "hide"
    stage.run()
    assert stage.markdown[-1].value == "370"  # what fits the first screen at 1280×720


def _two_curves():
    from resnet_explain import ui

    for i, col in enumerate(ui.columns(2, stage_side_by_side=True)):
        col.write(f"curve {i}")


def test_charts_that_share_the_first_screen_stay_side_by_side_on_stage_only():
    """Act 5's two curves: stacked on stage they had 50 px high plots (1280×720); side by side each
    keeps the height that fits (tests/e2e/test_e2e_presenter.py measures both whole)."""
    from resnet_explain.ui.stage import CHART_GAP_PX, SCREEN_PX, stage_share

    big = AppTest.from_function(_two_curves, default_timeout=TIMEOUT)
    big.session_state["presenter"] = True
    big.run()
    assert len(big.columns) == 0  # presenter mode off stage: full width, one under the other
    stage = AppTest.from_function(_two_curves, default_timeout=TIMEOUT)
    stage.session_state["presenter"] = True
    stage.query_params["controls"] = "hide"
    stage.run()
    assert len(stage.columns) == 2
    assert stage_share(1, 262) == SCREEN_PX - 262 - 8  # one chart: the rest of the screen
    two = stage_share(2, 262)
    assert 262 + 2 * two + CHART_GAP_PX <= SCREEN_PX  # two stacked: both end on it
