"""The one verdict on a first/last gradient ratio (magnitude.judge_ratio), the verdict on a whole
probe table and the twin sentence (verdict.judge_blocks / twin_sentence)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from resnet_explain import magnitude
from resnet_explain.content.verdict import judge_blocks, twin_sentence
from resnet_explain.magnitude import BANDS, judge_ratio
from resnet_explain.probe import probe_spec
from resnet_explain.spec import cifar_resnet, mlp


@pytest.mark.parametrize("ratio, band", [
    (1e6, "explodes"), (100.0, "explodes"), (99.99, "grows"), (17.0, "grows"), (2.0, "grows"),
    (1.999, "about the same"), (1.0, "about the same"), (0.5001, "about the same"),
    (0.5, "shrinks"), (0.0101, "shrinks"), (0.01, "vanishes"), (1e-30, "vanishes"),
])
def test_every_band_boundary(ratio, band):
    v = judge_ratio(ratio)
    assert v.band == band and v.ratio == ratio
    assert v.exploding == (band == "explodes") and v.vanishing == (band == "vanishes")


def test_phrases_say_the_number_and_the_word():
    v = judge_ratio(17.0)
    assert v.phrase == "grows 17-fold toward the input"
    assert v.markdown == "grows **17-fold** toward the input"
    assert judge_ratio(12059.6).phrase == "grows 12,000-fold toward the input: it explodes"
    assert judge_ratio(5e14).phrase == "grows 5.0 × 10¹⁴-fold toward the input: it explodes"
    assert judge_ratio(3e-14).phrase == "shrinks to 3.0 × 10⁻¹⁴ times its size toward the input: it vanishes"
    assert "within 2×" in judge_ratio(1.3).phrase and "about the same size" in judge_ratio(1.3).phrase
    assert judge_ratio(0.2).phrase == "shrinks to 0.2× its size toward the input"
    assert judge_ratio(17.0).short == "it grows" and judge_ratio(1.0).short == "about the same size"


def test_underflow_and_not_finite():
    u = judge_ratio(0.0)
    assert u.band == magnitude.UNDERFLOW_BAND and u.vanishing and not u.exploding
    assert magnitude.UNDERFLOW in u.phrase and u.rank == 0
    for bad in (float("nan"), float("inf"), -float("inf"), None):
        v = judge_ratio(bad)
        assert v.band == magnitude.NOT_FINITE_BAND and v.rank is None
        assert not v.vanishing and not v.exploding and "not finite" in v.phrase


@given(st.floats(min_value=1e-300, max_value=1e300), st.floats(min_value=1e-300, max_value=1e300))
def test_band_is_monotone_in_the_ratio(a, b):
    lo, hi = sorted((a, b))
    assert judge_ratio(lo).rank <= judge_ratio(hi).rank


@given(st.floats(min_value=1e-12, max_value=1e12))
def test_band_is_symmetric_in_log(r):
    # growing by x and shrinking by x are judged alike, except at the closed/open band edges
    up, down = judge_ratio(r).rank, judge_ratio(1 / r).rank
    if not any(math.isclose(r, e, rel_tol=1e-9) or math.isclose(1 / r, e, rel_tol=1e-9)
               for e in (2.0, 100.0, 0.5, 0.01)):
        assert up + down == len(BANDS) - 1


def test_value_text_and_fmt_ratio():
    assert magnitude.value_text(0.0) == magnitude.UNDERFLOW_TEXT
    assert magnitude.value_text(1.23456e-7) == "1.235 × 10⁻⁷"
    assert magnitude.value_text(1.23456e-7, ".3e") == "1.235e-07"  # the CLI's ASCII columns
    assert magnitude.value_text(2.328306e-10, ".4g") == "2.328e-10"
    assert magnitude.fmt_ratio(0.0, zero=magnitude.UNDERFLOW) == magnitude.UNDERFLOW
    assert magnitude.fmt_ratio(17.0, 2) == "17" and magnitude.fmt_ratio(1.2e5, 2) == "120,000"
    assert magnitude.fmt_ratio(3.2e7, 2) == "3.2 × 10⁷" and magnitude.fmt_factor(3.2e7) == "3.2 × 10⁷"


# ---- a whole block table ------------------------------------------------------------------------------------
def table(grads, nan=None, inf=None):
    n = len(grads)
    return pd.DataFrame({"block": [f"stage1.block{i}" for i in range(n)], "position": range(n),
                         "grad_norm": grads,
                         "has_nan": nan if nan is not None else [False] * n,
                         "has_inf": inf if inf is not None else [False] * n})


def test_judge_blocks_names_the_first_nonfinite_block():
    v = judge_blocks(table([1.0, float("nan"), float("nan"), 1.0], nan=[False, True, True, False]))
    assert v.band == magnitude.NOT_FINITE_BAND and "`stage1.block1`" in v.phrase
    v = judge_blocks(table([float("inf"), 2.0, 1.0], inf=[True, False, False]))
    assert "`stage1.block0`" in v.phrase
    # a table whose flags say nothing but whose norms are not finite is still caught
    v = judge_blocks(table([1.0, 1.0, float("inf")]))
    assert v.band == magnitude.NOT_FINITE_BAND and "`stage1.block2`" in v.phrase


def test_judge_blocks_underflow_and_dead_last_block():
    v = judge_blocks(table([0.0, 1e-20, 1.0]))
    assert v.band == magnitude.UNDERFLOW_BAND and magnitude.UNDERFLOW in v.phrase
    assert "switch on float64" in v.phrase
    v64 = judge_blocks(table([0.0, 1e-200, 1.0]), dtype="float64")
    assert "0 even in float64" in v64.phrase and "switch on" not in v64.phrase
    dead = judge_blocks(table([0.0, 0.0, 0.0]))  # last block 0: no ratio, and not "underflow"
    assert dead.band == magnitude.NO_GRADIENT_BAND and "exactly 0" in dead.phrase
    assert math.isnan(dead.ratio)


def test_judge_blocks_agrees_with_judge_ratio():
    for g in ([17.0, 3.0, 1.0], [1.0, 1.0], [3e-14, 1.0], [5.0]):
        assert judge_blocks(table(g)) == judge_ratio(g[0] / g[-1])


def test_twin_sentence():
    s = twin_sentence(table([17.0, 4.0, 1.0]), table([4.7, 2.0, 1.0]), "Plain (yours)", "residual (twin)")
    assert s == ("**Plain (yours):** the gradient grows **17-fold** toward the input; "
                 "**residual (twin):** grows **4.7-fold** toward the input.")
    s = twin_sentence(table([0.0, 1.0]), table([float("nan"), 1.0], nan=[True, False]), "A", "B")
    assert s.startswith("**A:** the gradient reaches the first block as **0 in float32 (underflow)**")
    assert "**B:** is **not finite**: the first NaN/Inf is at `stage1.block0`." in s


def test_judge_blocks_on_real_probes():
    # BN + ReLU plain-20 grows ~17x, its ResNet twin ~4.7x (seed 0, batch 32); they are "grows"
    plain = probe_spec(cifar_resnet(20, skip=False), seed=0).blocks
    res = probe_spec(cifar_resnet(20, skip=True), seed=0).blocks
    assert judge_blocks(plain).band == "grows" and judge_blocks(res).band == "grows"
    assert judge_blocks(plain).ratio > judge_blocks(res).ratio
    # a deep sigmoid MLP underflows float32 at its first block; float64 measures it and it vanishes
    deep = mlp(64, skip=False, act="sigmoid")
    assert judge_blocks(probe_spec(deep, seed=0).blocks).band == magnitude.UNDERFLOW_BAND
    v64 = judge_blocks(probe_spec(deep, seed=0, dtype=torch.float64).blocks, dtype="float64")
    assert v64.band == "vanishes" and 0 < v64.ratio < 1e-40
    assert np.isfinite(v64.ratio)
