"""Words a page shows (issue 24): numbers as people write them, symbols in one style, every
share and count explained where it is shown."""

import re

import pandas as pd

from resnet_explain.content import highway, lesion, story, training, verdict
from resnet_explain.spec import NetSpec, preset


def _visible(text: str) -> str:
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a markdown link shows its text only


def _depth(text: str) -> int:
    d = m = 0
    for c in text:
        d += c == "("
        d -= c == ")"
        m = max(m, d)
    return m


def test_home_has_no_nested_brackets_and_one_symbol_style():
    assert _depth(_visible(story.home_intro("CPU only (2 threads)"))) == 1
    blurbs = " ".join(s.blurb for s in story.STEPS) + " ".join(a.say for a in story.talk())
    assert "sigma'" not in blurbs and "σ′" in blurbs and "alpha" not in blurbs
    assert "e+0" not in blurbs and "e-1" not in blurbs  # numbers as people write them


def test_identity_counts_are_read_in_a_sentence():
    assert "mainly along the skip" in highway.identity_reading(7, 9)
    few = highway.identity_reading(2, 9)
    assert "7 of 9" in few and "branch's term is the larger" in few


def test_a_flat_gradient_is_said_once():
    blocks = pd.DataFrame({"grad_rel_last": [1.0, 1.0, 1.0], "act_std": [2.0, 2.0, 2.0]})
    s = highway.identity_sentence(blocks, 0.0, False, "default", 8)
    assert "between" not in s and "**1×** the last block's at every block" in s


def test_onecycle_is_explained_where_a_budget_is_shown():
    s = training.schedule_words("onecycle", 0.1)
    assert "one-cycle" in s and "warm-up from a tenth of the peak 0.1" in s and "15 %" in s
    assert "onecycle" not in s


def test_the_downsampling_shortcut_is_named_from_the_spec():
    assert "zero-pads" in lesion.downsampling_shortcut(preset("resnet20"))
    b = lesion.downsampling_shortcut(NetSpec.from_query("fam=cnn&net=b16*2~b32/2:B"))
    assert "projection" in b and "zero-pads" not in b and "option B" in b


def test_the_classifier_spike_is_explained_with_its_measured_size():
    long = pd.DataFrame({"variant": ["residual"] * 4, "layer": range(4), "grad_norm": [0.5, 0.4, 0.6, 2.5],
                         "param": ["stem.conv.weight", "a.weight", "b.weight", "head.fc.weight"]})
    note = verdict.classifier_note(long, "batch")
    assert "`head.fc`" in note and "residual 5× the median" in note and "BatchNorm" in note
    assert verdict.classifier_note(long.assign(grad_norm=[0.5, 0.4, 0.6, 0.55]), "batch") is None
    assert "BatchNorm" not in verdict.classifier_note(long, "none")
