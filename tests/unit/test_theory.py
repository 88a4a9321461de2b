"""Closed-form curves: exact values, float32 underflow marked (not dropped), log10 never underflows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from resnet_explain.experiments import theory
from resnet_explain.experiments.theory import (
    FLOAT32_TINY,
    SIGMOID_MAX_SLOPE,
    float32_underflow_depth,
    power_curve,
    residual_product,
    sigmoid_bound,
    sigmoid_prime,
    tanh_prime,
)


def test_float32_underflow_depth():
    # 0.25**75 = 2**-150, exactly half the smallest float32 subnormal (2**-149): rounds to 0.
    assert float32_underflow_depth(0.25) == 75
    assert np.float32(0.25) ** np.float32(74) > 0
    assert np.float32(0.25) ** np.float32(75) == 0
    assert float32_underflow_depth(0.5) == 150
    assert FLOAT32_TINY == 2.0 ** -149
    for base in (0.1, 0.3, 0.9, 0.99):
        L = float32_underflow_depth(base)
        assert np.float32(base) ** np.float32(L) == 0
        assert np.float32(base) ** np.float32(L - 1) > 0
    for bad in (0.0, 1.0, 1.5, -0.5):
        with pytest.raises(ValueError):
            float32_underflow_depth(bad)


def test_power_curve_marks_float32_underflow():
    df = power_curve(0.25, [1, 10, 74, 75, 100, 1000])
    assert list(df.columns[:5]) == ["depth", "value", "log10", "float32", "float32_underflow"]
    assert df["float32_underflow"].tolist() == [False, False, False, True, True, True]
    assert len(df) == 6  # underflowing rows are kept
    np.testing.assert_allclose(df["log10"], np.array([1, 10, 74, 75, 100, 1000]) * math.log10(0.25))
    assert df["value"].iloc[1] == 0.25 ** 10
    assert df["value"].iloc[4] == 0.25 ** 100 > 0  # float64 still has it
    assert df["value"].iloc[5] == 0.0  # 0.25**1000 = 1e-602 underflows float64 too...
    assert np.isfinite(df["log10"]).all()  # ...but log10 is exact
    assert df["float32"].iloc[2] == float(np.float32(0.25) ** 74)
    assert (df["float32"][df["float32_underflow"]] == 0).all()
    sb = sigmoid_bound(range(1, 81))
    assert sb["float32_underflow"].idxmax() == 74  # row of depth 75
    assert SIGMOID_MAX_SLOPE == 0.25


def test_residual_product_values():
    df = residual_product([0.5, 0.5, -0.5, 0.0])
    assert df["block"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(df["log10_residual"],
                               np.cumsum(np.log10([1.5, 1.5, 0.5, 1.0])))
    np.testing.assert_allclose(df["log10_plain"][:3], np.cumsum(np.log10([0.5, 0.5, 0.5])))
    assert df["log10_plain"].iloc[3] == -np.inf  # a zero slope kills the plain product
    # Small slopes: the plain product vanishes, the residual one stays near 1.
    s = np.full(100, 0.01)
    d = residual_product(s)
    assert d["log10_plain"].iloc[-1] == pytest.approx(-200)
    assert d["log10_residual"].iloc[-1] == pytest.approx(100 * math.log10(1.01))
    assert residual_product([]).empty


def test_derivatives():
    assert sigmoid_prime(0.0) == 0.25
    assert float(np.max(sigmoid_prime(np.linspace(-5, 5, 1001)))) == pytest.approx(0.25)
    assert tanh_prime(0.0) == 1.0
    np.testing.assert_allclose(tanh_prime([1.0]), [1 - math.tanh(1.0) ** 2])


@pytest.mark.skipif(not hasattr(theory, "sigmoid_bound_from_last"), reason="not present")
def test_sigmoid_bound_from_last():
    blocks = pd.DataFrame({"block": ["a", "b", "c"], "position": [0, 1, 2],
                           "kind": ["basic", "bottleneck", "basic"],
                           "log10_grad_norm": [-9.0, -5.0, -1.0]})
    df = theory.sigmoid_bound_from_last(blocks)
    # Sigmoid layers between each block output and the last one: c 0, b 2 (c's), a 2 + 3.
    assert df["n_sigmoid_layers"].tolist() == [5, 2, 0]
    np.testing.assert_allclose(df["log10"], -1.0 + np.array([5, 2, 0]) * math.log10(0.25))
