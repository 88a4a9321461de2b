"""Sentences pinned to measurements: what the workshop acts, the Vanishing page and the quiz say
about gradient sizes must be what the library measures (issue 15, "sentences that overstate")."""

import math

import pytest
import torch

from resnet_explain import magnitude, numbers
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
    assert f"shrinks to {numbers.times(measured['mlp-sigmoid20-plain'].ratio)} its size" in say
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


# ---- issue 27: seven sentences, each against its number (or its corrected wording) ---------------
def test_postact_sentence_says_the_skip_helps_but_does_not_rescue():
    """Misconceptions §4: post-activation skips help by the measured factor over plain, and the
    sentence says they do not rescue the net only while their own ratio still vanishes/shrinks."""
    from resnet_explain.content import highway as highway_text
    from resnet_explain.experiments.highway import postact_comparison
    from resnet_explain.probe import ratio_of

    f = postact_comparison(20, seed=0)
    plain, post, _ = (ratio_of(f[k]["grad_norm"]) for k in f)
    s = highway_text.postact_sentence(f)
    assert "only helps if the identity path is kept clean" not in s
    assert post > plain and f"**{magnitude.fmt_ratio(post / plain, 2)}×** the plain net's" in s
    assert ("do not rescue" in s) == (magnitude.judge_ratio(post).band in ("vanishes", "shrinks"))
    # the claim follows the numbers: a post-activation net that no longer vanishes is not told it does
    fake = {k: v.copy() for k, v in f.items()}
    key = list(fake)[1]
    fake[key]["grad_norm"] = 1.0
    assert "do not rescue" not in highway_text.postact_sentence(fake)


def test_skips_sentence_says_eq5_is_approximate_and_no_rule(measured):
    s = vanishing_text.skips_sentence("ResNet-56", measured["resnet56"].blocks)
    assert "so the product over the blocks does not vanish" not in s
    assert "only approximate" in s and "no rule for every skip" in s and "still vanishes" in s


def test_gains_sentence_calls_the_telescoping_product_an_identity(measured):
    from resnet_explain.content import highway as highway_text
    from resnet_explain.experiments.highway import highway_table

    r = measured["resnet56"]
    g = highway_text.gains_sentence(highway_table(r.blocks))
    assert "equal to the measured" not in g and "telescopes: an identity, not a check" in g
    assert f"**{magnitude.fmt_ratio(r.ratio)}**" in g and magnitude.judge_ratio(r.ratio).markdown in g


def test_quiz_near_one_is_the_sigmoid_nets_number_not_a_rule(measured):
    p = next(p for p in quiz.PREDICTIONS if p.key == "p_sigmoid_res")
    assert "stays near 1" not in p.explanation
    assert f"measures {measured['mlp-sigmoid20'].ratio:.3g}" in p.explanation
    assert magnitude.judge_ratio(measured["resnet56"].ratio).phrase in p.explanation


def test_home_intro_names_bottlenecks_and_projections():
    from resnet_explain.content import papers
    from resnet_explain.content.story import home_intro

    s = home_intro("a CPU")
    assert "one line to each block" not in s and "`out = F(x) + x`" in s
    assert papers.HE15_BOTTLENECK.detail in s and f"option B, {papers.HE15_BOTTLENECK.where}" in s


def test_yang_is_cited_for_what_it_proves():
    plain = preset("plain56")
    s = vanishing_text.yang_sentence(56)
    assert "**fully-connected**" in s and "at initialisation" in s and "Plain-56 is a CNN" in s
    assert "single step" in s and "unavoidable" not in s
    assert plain.family == "cnn"  # the sentence's "is a CNN" is about the net it names


def test_lr_readme_cross_check_says_the_cause_was_not_tested():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "assets" / "lr_sweep" / "README.md").read_text()
    script = (root / "scripts" / "make_lr_sweep.py").read_text()
    assert "the cause is the precision" not in readme
    said = "Where they differ, the cause has not been tested"
    assert said in readme and said in script  # the README says what its script prints


def test_warmup_sentence_reads_the_stored_sweep():
    from resnet_explain.content import papers
    from resnet_explain.content.training_lr import warmup_counterexample
    from resnet_explain.experiments import lr_sweep as sw

    stored = sw.load_stored()
    s = warmup_counterexample(stored)
    assert papers.HE15_WARMUP_110.value in s and "footnote 5" in s
    r = stored.table[(stored.table["variant"] == "residual") & (stored.table["depth"] == 56)]
    err = r.set_index("lr")["train_error"]
    assert err[0.8] < stored.meta["trains_below"] <= err[1.6]  # 0.8 trains, 1.6 does not
    pts = " → ".join(f"{100 * err[x]:.2g} %" for x in (0.1, 0.8, 1.6))
    assert f"rises {pts} over lr 0.1 → 0.8 → 1.6" in s
    assert err[0.1] == err.min() and err[0.1] < err[0.8] < err[1.6]
