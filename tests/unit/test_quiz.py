"""The quiz cannot be gamed by option length or position, its options come in a seeded order, and
its distractors are the misconceptions people hold (issue 16, "the quiz")."""

from collections import Counter

from resnet_explain.content import quiz
from resnet_explain.experiments import quiz as quiz_measure

QS = quiz.QUESTIONS
CHANCE = len(QS) / 4  # four options per question


def _lengths(q, measure=len):
    return [measure(o) for o in q.options]


def _words(text):
    return len(text.split())


FAIR_SHARE = -(-len(QS) // 4)  # questions per length rank if the answers' ranks were dealt evenly


def test_four_options_each():
    assert all(len(q.options) == 4 and len(set(q.options)) == 4 for q in QS)


def _rank_hits(measure):
    """Per length rank (0 = longest … 3 = shortest): in how many questions the right answer has
    that rank's length (a tie counts for every rank it shares, so a tie never hides a tell)."""
    hits = [0] * 4
    for q in QS:
        lengths = sorted(_lengths(q, measure), reverse=True)
        for r in range(4):
            hits[r] += measure(q.options[q.answer]) == lengths[r]
    return hits


def test_the_right_answer_is_not_systematically_the_longest():
    """Counted in characters and in words (what a reader sees): the right answer is the longest
    option in at most a fair share of the questions, and no length rank (longest, second, third,
    shortest) holds it more often than that — so "pick the longest", "skip the extremes" or any
    other length rule scores no better than a fair share."""
    for measure in (len, _words):
        hits = _rank_hits(measure)
        assert hits[0] <= FAIR_SHARE, (measure.__name__, hits)
        assert max(hits) <= FAIR_SHARE, (measure.__name__, hits)


def test_option_lengths_are_balanced():
    for q in QS:
        lengths = _lengths(q)
        assert max(lengths) / min(lengths) <= 1.25, (q.key, lengths)


def test_option_order_is_a_seeded_permutation():
    for q in QS:
        order = quiz.option_order(q, seed=3)
        assert sorted(order) == list(range(len(q.options)))
        assert quiz.option_order(q, seed=3) == order  # same seed, same order
        assert len({quiz.option_order(q, seed=s) for s in range(10)}) > 1, q.key  # seeds differ


def test_the_answer_moves_around_with_the_seed():
    """Over many seeds the right answer is shown in every position, about equally often."""
    for q in QS:
        where = Counter(quiz.option_order(q, seed=s).index(q.answer) for s in range(400))
        assert set(where) == {0, 1, 2, 3}, q.key
        assert min(where.values()) > 60, (q.key, where)  # 100 each on average


def test_no_fixed_position_scores_above_chance():
    """For any seed, always picking the same shown position scores at most chance, rounded up
    (2 of 7 with four options)."""
    for seed in range(50):
        for pos in range(4):
            hits = sum(quiz.option_order(q, seed=seed)[pos] == q.answer for q in QS)
            assert hits <= -(-CHANCE // 1), (seed, pos, hits)


def test_distractors_are_real_misconceptions():
    wrong = " ".join(o for q in QS for i, o in enumerate(q.options) if i != q.answer).lower()
    for misconception in ("every deep network",   # "gradients vanish in every deep net"
                          "adds parameters",      # "skips add parameters"
                          "batchnorm alone",      # "BatchNorm alone fixes it"
                          "overfitting"):         # degradation is not overfitting
        assert misconception in wrong, misconception


def test_grading_uses_the_original_indices():
    """Whatever order the page shows, choosing q.answer is right and anything else wrong."""
    right = {q.key: q.answer for q in QS}
    assert quiz_measure.score_quiz(right)["correct"].all()
    first_shown_wrong = {q.key: next(i for i in quiz.option_order(q, 5) if i != q.answer) for q in QS}
    assert not quiz_measure.score_quiz(first_shown_wrong)["correct"].any()
