"""AppTest for the quiz page: options appear in the seed's order, and grading still follows the
options themselves after the shuffle (form mode and presenter mode)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_explain.content import quiz

TIMEOUT = 90
ROOT = Path(__file__).resolve().parents[2]
CONCEPT = {q.key: q for q in quiz.QUESTIONS}


def page(**state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "quiz.py"), default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def shown(at, q) -> list[str]:
    return at.radio(key=f"quiz_{q.key}").options


def test_options_follow_the_seed_and_the_count_is_computed():
    at0, at7 = page(), page(seed=7)
    assert not at0.exception and not at7.exception
    for q in quiz.QUESTIONS:
        assert shown(at0, q) == [q.options[i] for i in quiz.option_order(q, 0)]
        assert shown(at7, q) == [q.options[i] for i in quiz.option_order(q, 7)]
    assert any(shown(at0, q) != shown(at7, q) for q in quiz.QUESTIONS)
    intro = "\n".join(m.value for m in at0.markdown)
    assert f"{len(quiz.QUESTIONS)} questions about the ideas" in intro


def _check(at, pick) -> AppTest:
    for q in quiz.QUESTIONS:
        at.radio(key=f"quiz_{q.key}").set_value(pick(q))
    next(b for b in at.button if b.label == "Check my answers").click()
    return at.run()


def test_grading_after_the_shuffle():
    seed = 7
    n_items = len(quiz.QUESTIONS) + len(quiz.PREDICTIONS)  # predictions left unanswered: wrong
    at = _check(page(seed=seed), lambda q: q.answer)
    assert not at.exception
    assert at.metric[0].value == f"{len(quiz.QUESTIONS)} / {n_items}"
    assert len(at.success) == len(quiz.QUESTIONS) and not at.error
    # the first option shown, whenever it is not the answer; else the second
    first_wrong = lambda q: next(i for i in quiz.option_order(q, seed) if i != q.answer)
    at = _check(page(seed=seed), first_wrong)
    assert at.metric[0].value == f"0 / {n_items}"
    assert len(at.error) == len(quiz.QUESTIONS)
    # each "Not quite" names the right option's text
    for q, e in zip(quiz.QUESTIONS, at.error):
        assert q.options[q.answer] in e.value


def test_presenter_mode_grades_the_shuffled_options():
    q = quiz.QUESTIONS[0]
    at = page(presenter=True, seed=7)
    assert not at.exception
    assert at.radio[0].options == [q.options[i] for i in quiz.option_order(q, 7)]
    at.radio[0].set_value(q.answer)
    next(b for b in at.button if b.label == "Reveal the answer").click()
    at.run()
    assert len(at.success) == 1 and not at.error


def _in_order(node) -> list:
    """The page's elements in the order they are drawn (depth first)."""
    kids = getattr(node, "children", None)
    if not kids:
        return [node]
    return [e for k in sorted(kids) for e in _in_order(kids[k])]


def test_presenter_next_sits_below_the_feedback():
    q = quiz.QUESTIONS[0]
    at = page(presenter=True, seed=7)
    at.radio[0].set_value(q.answer)
    next(b for b in at.button if b.label == "Reveal the answer").click()
    at.run()
    flat = _in_order(at.main)
    feedback = next(i for i, e in enumerate(flat) if e.type == "alert" or type(e).__name__ == "Success")
    nxt = next(i for i, e in enumerate(flat) if getattr(e, "label", None) == "Next")
    assert feedback < nxt
    assert not any(getattr(e, "label", None) == "Reveal the answer" for e in flat)  # gone once revealed
    next(b for b in at.button if b.label == "Next").click()
    at.run()
    assert not at.exception and at.radio[0].options == [quiz.QUESTIONS[1].options[i]
                                                          for i in quiz.option_order(quiz.QUESTIONS[1], 7)]
