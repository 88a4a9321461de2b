"""The quiz cannot be gamed by option length or position, its options come in a seeded order, and
its distractors are the misconceptions people hold (issue 16, "the quiz")."""

from collections import Counter

from resnet_explain.content import quiz
from resnet_explain.experiments import quiz as quiz_measure

QS = quiz.QUESTIONS
CHANCE = len(QS) / 4  # four options per question


def _lengths(q):
    return [len(o) for o in q.options]


def test_four_options_each():
    assert all(len(q.options) == 4 and len(set(q.options)) == 4 for q in QS)


def test_the_right_answer_is_never_the_longest():
    for q in QS:
        lengths = _lengths(q)
        assert lengths[q.answer] < max(lengths), q.key


def test_length_strategies_score_no_better_than_chance():
    """Always picking the longest (or the shortest) option, ties counted as a hit, scores at most
    what guessing would, rounded up."""
    longest = sum(len(q.options[q.answer]) == max(_lengths(q)) for q in QS)
    shortest = sum(len(q.options[q.answer]) == min(_lengths(q)) for q in QS)
    assert longest == 0
    assert shortest <= -(-CHANCE // 1), shortest


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
