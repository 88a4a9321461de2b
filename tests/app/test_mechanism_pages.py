"""AppTest for "Why deep plain nets fail" and the closing page: both render from the stored results,
show the sentences the content functions build from them, and link only registered pages."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_explain.content import mechanisms as mech_text
from resnet_explain.content import why_residuals
from resnet_explain.content.story import STEPS
from resnet_explain.experiments import mechanism_runs
from resnet_explain.train import shipped

TIMEOUT = 90
ROOT = Path(__file__).resolve().parents[2]


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_mechanism_page_shows_each_chart_with_its_sentence():
    at = AppTest.from_file(str(ROOT / "app_pages" / "why_plain_fails.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    tables, _meta = mechanism_runs.load_stored()
    body = text(at)
    depth = max(int(d) for d in tables["grads"]["depth"])
    assert mech_text.gradient_sentence(tables["grads"], depth) in body
    assert mech_text.correlation_sentence(tables["correlation"], depth) in body
    assert mech_text.share_sentence(tables["share"], depth) in body
    assert mech_text.signal_sentence(tables["signal"], depth) in body
    assert len(at.get("vega_lite_chart")) == 5
    at.radio(key="mech_depth").set_value(20).run()
    assert not at.exception
    assert mech_text.share_sentence(tables["share"], 20) in text(at)
    at.radio(key="mech_q").set_value("update_ratio").run()
    assert not at.exception


def test_closing_page_says_each_reason_and_links_its_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/why_residuals_work.py").run()
    assert not at.exception, [e.value for e in at.exception]
    errors = {n: float(shipped.run(n).meta["train_error"]) for n in shipped.shipped()}
    reasons = why_residuals.reasons(errors, mechanism_runs.load_stored()[0])
    body = text(at)
    for r in reasons:
        assert r.text in body
    links = [el.proto.label for el in at.get("page_link")]
    assert all(r.link in links for r in reasons)
    assert {r.page for r in reasons} <= {s.file for s in STEPS}


def test_another_seed_measures_the_initialisation_live():
    at = AppTest.from_file(str(ROOT / "app_pages" / "why_plain_fails.py"), default_timeout=TIMEOUT)
    at.session_state["seed"] = 3
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key="mech_live").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    live = mechanism_runs.with_init_at(mechanism_runs.load_stored()[0], 3)
    assert mech_text.signal_sentence(live["signal"], 56) in text(at)
