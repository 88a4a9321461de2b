"""AppTest for the theory pages: each renders, shows the library's numbers, keeps underflow rows,
and the quiz scores correctly (form mode and presenter step-by-step mode)."""

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from resnet_explain import magnitude, numbers
from resnet_explain.content import quiz
from resnet_explain.experiments import highway, shattered
from resnet_explain.experiments import quiz as quiz_measure
from resnet_explain.probe import probe_spec
from resnet_explain.spec import cifar_resnet, preset

from .chartdata import chart_frames

TIMEOUT = 90
ROOT = Path(__file__).resolve().parents[2]


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / name), default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def fmt2(r):  # the pages' two-significant-figure format (resnet_explain.numbers)
    return numbers.number(r, 2)


def test_vanishing_numbers_and_underflow():
    at = page("vanishing.py")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) >= 5
    r20 = probe_spec(preset("mlp-sigmoid20-plain"), seed=0, batch=32).ratio
    assert f"**{fmt2(r20)}**" in text(at)
    rp = probe_spec(cifar_resnet(56, skip=False), seed=0, batch=32).ratio
    rr = probe_spec(cifar_resnet(56, skip=True), seed=0, batch=32).ratio
    assert magnitude.judge_ratio(rp).band == "explodes"
    assert f"**Plain-56:** the gradient grows **{fmt2(rp)}-fold** toward the input: it **explodes**" in text(at)
    # skips stop vanishing, not growth: the page says so with ResNet-56's measured number
    assert f"ResNet-56's gradient still grows **{fmt2(rr)}-fold**" in text(at)
    assert "fix both" not in text(at)
    # the underflow case: every depth kept in the chart data, 0 in float32 flagged, no exception
    long = max(chart_frames(at)[1], key=len)
    assert len(long) == 4 * 14  # 14 depths x (float32, float64, 0.25^L, 0.3^L)
    assert (long["status"] == "0 in float32 (underflow)").any()
    assert np.isfinite(long["y"]).all()
    at.select_slider(key="van_depth").set_value(64).run()
    assert not at.exception
    assert f"first block's gradient is **{magnitude.UNDERFLOW}**" in text(at)
    assert "| 0 (underflow) |" not in text(at)  # the table is a table element, not markdown
    df = at.table[0].value
    assert (df["float32"] == magnitude.UNDERFLOW_TEXT).any()


def test_highway_identity_start_and_alpha():
    at = page("highway.py")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) >= 5
    md = text(at)
    assert "first/last: **1**" in md and "exactly the identity" in md
    s = highway.alpha_sweep([1.0], depths=(20,), inits=("default",), seed=0)
    assert f"**{s['ratio'].iloc[0]:.3g}** at depth 20" in md
    at.select_slider(key="hw_alpha").set_value(1.0)
    at.selectbox(key="hw_init").set_value("kaiming")
    at.run()
    assert not at.exception
    r = probe_spec(highway.identity_spec(20, 1.0, "kaiming"), seed=0).ratio
    assert f"first/last: **{r:.4g}**" in text(at)


def test_shattered_page():
    at = page("shattered.py")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 4
    _, ac = shattered.shattered_experiment(20, seed=0, n_points=256)
    r1 = ac[ac["lag"] == 1].set_index("variant")["autocorrelation"]
    assert f"plain **{r1['plain']:.2f}**" in text(at)
    assert f"residual **{r1['residual']:.2f}**" in text(at)


def test_misconceptions_page():
    at = page("misconceptions.py")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 4
    f = highway.postact_comparison(20, seed=0)
    r = [f[k]["grad_norm"].iloc[0] / f[k]["grad_norm"].iloc[-1] for k in f]
    assert f"**{fmt2(r[1])}** (it vanishes)" in text(at)  # σ after the add: the skip does not save it
    assert "little difference" in text(at)


def _quiz_answers(at, correct: bool):
    for q in quiz.QUESTIONS:
        at.radio(key=f"quiz_{q.key}").set_value(q.answer if correct else (q.answer + 1) % len(q.options))
    for p in quiz.PREDICTIONS:
        b = quiz_measure.ratio_bin(quiz_measure.measure_prediction(p, seed=0))
        at.radio(key=f"quiz_{p.key}").set_value(b if correct else (b + 1) % len(quiz.RATIO_BINS))
    next(b for b in at.button if b.label == "Check my answers").click()
    return at.run()


def test_quiz_scores_correctly():
    n = len(quiz.QUESTIONS) + len(quiz.PREDICTIONS)
    at = _quiz_answers(page("quiz.py"), correct=True)
    assert not at.exception
    assert at.metric[0].value == f"{n} / {n}"
    at = _quiz_answers(page("quiz.py"), correct=False)
    assert at.metric[0].value == f"0 / {n}"
    assert len(at.error) == n


def test_quiz_presenter_reveals_step_by_step():
    at = page("quiz.py", presenter=True)
    assert not at.exception
    q = quiz.QUESTIONS[0]
    assert at.radio[0].label == q.prompt and len(at.radio) == 1
    at.radio[0].set_value(q.answer)
    next(b for b in at.button if b.label == "Reveal the answer").click()
    at.run()
    assert len(at.success) == 1
    next(b for b in at.button if b.label == "Next").click()
    at.run()
    assert at.radio[0].label == quiz.QUESTIONS[1].prompt
    assert "score so far 1 / 1" in at.get("progress")[0].proto.text


def test_pages_through_the_app():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    for name in ("vanishing", "highway", "shattered", "misconceptions", "quiz"):
        at.switch_page(f"app_pages/{name}.py").run()
        assert not at.exception, name
    at = _quiz_answers(at, correct=True)  # feedback renders st.page_link to registered pages
    assert not at.exception
    assert len(at.get("page_link")) == len(quiz.QUESTIONS) + len(quiz.PREDICTIONS)
