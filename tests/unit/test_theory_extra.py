"""The closed-form helpers the theory pages add to theory.py."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from resnet_explain.content import vanishing as vanishing_text
from resnet_explain.experiments import theory


def test_sigmoid_prime_peaks_at_quarter():
    c = theory.sigmoid_curves()
    prime = c[c["curve"].str.startswith("σ′")]
    top = prime.loc[prime["value"].idxmax()]
    assert top["x"] == pytest.approx(0.0)
    assert top["value"] == pytest.approx(0.25)
    assert (prime["value"] <= 0.25 + 1e-15).all()


def test_sigmoid_peak_is_the_grid_maximum():
    x, v = theory.sigmoid_peak(theory.sigmoid_curves())
    assert x == pytest.approx(0.0) and v == pytest.approx(0.25)
    x, v = theory.sigmoid_peak(theory.sigmoid_curves(lo=1.0, hi=3.0, n=21))  # grid without 0
    assert x == pytest.approx(1.0) and v == pytest.approx(float(theory.sigmoid_prime(1.0)))


def test_activation_slopes_maxima():
    s = theory.activation_slopes()
    mx = s.groupby("activation")["slope"].max()
    assert mx["sigmoid"] == pytest.approx(0.25)
    assert mx["tanh"] == pytest.approx(1.0)
    assert mx["relu"] == 1.0
    assert vanishing_text.slopes_caption(s).startswith(  # the maxima above, as the caption states them
        f"Largest slope on this grid: sigmoid {mx['sigmoid']:.3f}, tanh {mx['tanh']:.3f}, ReLU {mx['relu']:.0f}")
    narrow = theory.activation_slopes(lo=1.0, hi=2.0, n=11)  # tanh's slope is below 1 away from 0
    assert f"tanh {float(theory.tanh_prime(1.0)):.3f}" in vanishing_text.slopes_caption(narrow)


@pytest.mark.parametrize("init,expected", [("default", math.sqrt(1 / 6)), ("kaiming", 1.0),
                                           ("xavier", math.sqrt(0.5))])
def test_relu_layer_gain(init, expected):
    assert theory.relu_layer_gain(init, 64, 64) == pytest.approx(expected)


def test_weight_variance_matches_pytorch_default_init():
    torch.manual_seed(0)
    w = nn.Linear(256, 256).weight.detach().double()
    assert float(w.var()) == pytest.approx(theory.weight_variance("default", 256, 256), rel=0.05)


def test_relu_gain_predicts_a_real_backward_pass():
    """Backward through 16 Linear+ReLU layers at default init shrinks the gradient by ~gain^16."""
    torch.manual_seed(0)
    layers = [m for _ in range(16) for m in (nn.Linear(256, 256, bias=False), nn.ReLU())]
    net = nn.Sequential(*layers)
    x = torch.randn(64, 256, requires_grad=True)
    h = x
    for m in net:
        h = m(h)
    h.backward(torch.randn_like(h))
    # compare log10 of the gradient ratio with the prediction within one decade
    g_in = float(x.grad.norm())
    predicted = 16 * math.log10(theory.relu_layer_gain("default", 256, 256))
    # the output gradient has norm ~ sqrt(numel); rescale to a ratio
    g_out = math.sqrt(64 * 256)
    assert abs(math.log10(g_in / g_out) - predicted) < 1.0


def test_autocorrelation_white_and_brown_noise():
    rng = np.random.default_rng(0)
    white = rng.standard_normal(4096)
    brown = np.cumsum(white)
    rw = theory.autocorrelation(white, 4)
    rb = theory.autocorrelation(brown, 4)
    assert rw[0] == pytest.approx(1.0) and rb[0] == pytest.approx(1.0)
    assert abs(rw[1]) < 0.05
    assert rb[1] > 0.95
    assert np.isnan(theory.autocorrelation(np.ones(10), 2)).all()
    assert len(theory.autocorrelation(white[:5], 100)) == 5


def test_geometric_log10_never_underflows():
    v = theory.geometric_log10(0.25, [75, 1000])
    assert v[0] == pytest.approx(75 * math.log10(0.25))
    assert np.isfinite(v).all()
    assert theory.float32_underflow_depth(0.25) == 75  # existing behaviour kept
