"""Sentences pinned to measurements: what the workshop acts, the Vanishing page and the quiz say
about gradient sizes must be what the library measures (issue 15, "sentences that overstate")."""

import math

import pytest
import torch

from resnet_explain import magnitude
from resnet_explain.content import quiz
from resnet_explain.content import vanishing as vanishing_text
from resnet_explain.content.story import ACT_RATIOS, talk
from resnet_explain.experiments import vanishing
from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import probe, probe_spec
from resnet_explain.spec import preset


@pytest.fixture(scope="module")
def measured():
    """The acts' networks, probed the way the acts' links open them (seed 0, batch 32)."""
    return {name: probe_spec(preset(name), seed=0, batch=32) for name in ACT_RATIOS}


def test_act_ratios_are_the_measured_ones(measured):
    for name, stored in ACT_RATIOS.items():
        r = measured[name].ratio
        assert abs(math.log10(r) - math.log10(stored)) < math.log10(1.01), (name, r, stored)
        assert magnitude.judge_ratio(r).band == magnitude.judge_ratio(stored).band, name


def test_act3_says_both_numbers(measured):
    say = next(a.say for a in talk() if a.title.startswith("3 "))
    plain, res = measured["plain56"].ratio, measured["resnet56"].ratio
    assert magnitude.judge_ratio(plain).phrase in say and "explodes" in say
    # the residual twin grows too, with its number: not "barely", not "fixed"
    assert magnitude.judge_ratio(res).band == "grows"
    assert f"grows {magnitude.fmt_ratio(res, 2)}-fold" in say and "barely" not in say
    assert f"but {preset('resnet56').n_blocks - 1} such factors" in say


def test_act2_numbers(measured):
    say = next(a.say for a in talk() if a.title.startswith("2 "))
    assert f"shrinks to {magnitude.fmt_ratio(measured['mlp-sigmoid20-plain'].ratio, 2)}×" in say
    assert magnitude.judge_ratio(measured["mlp-sigmoid20"].ratio).band == "about the same"
    assert "about the same size" in say


def test_vanishing_page_says_what_skips_do_not_do(measured):
    """The Vanishing page's BN-CNN text at depth 56: skips stop the product vanishing; ResNet-56
    still grows, by the measured factor (and the act quotes the same factor)."""
    plain, res = measured["plain56"].blocks, measured["resnet56"].blocks
    txt = vanishing_text.bn_cnn_text(plain, res, 56, "batch 32, seed 0, cpu")
    r = measured["resnet56"].ratio
    assert f"ResNet-56's gradient still grows **{magnitude.fmt_ratio(r, 2)}-fold**" in txt
    assert "does not vanish" in txt and "fix both" not in txt
    assert magnitude.fmt_ratio(r, 2) == magnitude.fmt_ratio(ACT_RATIOS["resnet56"], 2)


def _layer_bound(model) -> tuple[float, int]:
    """∏ over the blocks after the first of ‖W‖₂/4 per Linear (σ′ ≤ 1/4 per sigmoid): the most a
    plain sigmoid MLP can change the gradient between the first and the last block's output;
    and the largest ‖W‖₂ among those layers."""
    blocks = [b for _, b in model.named_blocks()][1:]
    norms = [float(torch.linalg.matrix_norm(m.weight.detach().double(), 2))
             for b in blocks for m in b.body if isinstance(m, torch.nn.Linear)]
    return math.prod(n / 4 for n in norms), max(norms)


def test_sigmoid_shrink_holds_only_while_gain_below_4():
    """Quiz (why_vanish), Vanishing and Gradient Flow say: a sigmoid layer's whole factor is at most
    ‖W‖/4, so the product must shrink only while the weights' gain is below 4 — true at PyTorch's
    default init — and "0.25 per layer" bounds σ′, not a layer."""
    spec = preset("mlp-sigmoid20-plain")
    x, y = make_batch(spec, batch=32, seed=0)
    model = build_model(spec, seed=0)
    bound, top = _layer_bound(model)
    r = probe(model, x, y).ratio
    assert top < 4 and bound < 1 and 0 < r <= bound  # default init: the shrink is guaranteed
    with torch.no_grad():  # the same net with weights 16x larger: gains above 4
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(16)
    bound, top = _layer_bound(model)
    r = probe(model, x, y).ratio
    L = vanishing.layers_crossed(spec)
    assert top > 4 and bound > 1  # the σ′ bound no longer promises any shrink
    assert r > 1e6 * 0.25 ** L  # and the whole net shrinks far less than 0.25 per layer


def test_quiz_sigmoid_item_cites_the_vanishing_papers():
    q = next(q for q in quiz.QUESTIONS if q.key == "why_vanish")
    assert "Hochreiter 1991" in q.cite and "Bengio" in q.cite and "1512.03385" not in q.cite
    assert "below 4" in q.explanation


def test_misconceptions_sentences_state_their_tables_numbers():
    """The Misconceptions page's two computed sentences say the numbers of the tables they read."""
    import pandas as pd

    from resnet_explain.content.misconceptions import depth_sentence, weight_change_sentence

    summary = pd.DataFrame({"depth": [4, 4, 56, 56], "variant": ["plain", "residual"] * 2,
                            "final_loss": [0.50, 0.45, 1.38, 0.27], "accuracy": [0.8, 0.82, 0.31, 0.93]})
    s = depth_sentence(summary, 4, 56)
    assert "0.500 and 0.450" in s and "(difference +0.050)" in s and "little difference" in s
    assert "plain 1.380 (accuracy 31%)" in s and "residual 0.270 (accuracy 93%)" in s and "+1.110" in s
    change = pd.DataFrame({"depth": 56, "variant": ["plain", "residual"] * 3,
                           "layer": [1, 1, 2, 2, 3, 3], "rel_change": [0.0, 0.12, 0.5, 0.6, 0.7, 0.8]})
    w = weight_change_sentence(change, 56)
    assert "**exactly 0**" in w and "**0.12** of its size" in w and "by 0.5 and 0.6" in w
