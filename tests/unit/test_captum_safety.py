"""Captum runs on nets of every block kind, plain and residual.

The two failure modes this guards against (design doc): a module used twice (DeepLift: "A
Module ... was detected that does not contain some of the input/output attributes..." / wrong
multipliers) and in-place ops ("a view ... is being modified inplace"), both of which
torchvision's BasicBlock has.
"""

from __future__ import annotations

import pytest
import torch
from captum.attr import DeepLift, IntegratedGradients, LayerAttribution, LayerGradCam
from torch import nn

from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import probe
from resnet_explain.spec import BLOCK_KINDS, BlockSpec, NetSpec

pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting forward, backward hooks and attributes on non-linear:UserWarning")

CASES = [(k, s, sc) for k in BLOCK_KINDS if "cnn" in BLOCK_KINDS[k].families for s in (False, True) for sc in ("A", "B")
         if not (k == "plain" and s) and not (not s and sc == "B") and not (k == "transition" and s)]


# Widths every kind accepts (stem 4): a dense layer must be wider than its input; a ResNeXt
# block's inner widths (2 and 4) are multiples of the cardinality (2).
WIDTHS = {"dense": (6, 10)}


def _net(kind: str, skip: bool, shortcut: str, act: str = "relu"):
    w1, w2 = WIDTHS.get(kind, (4, 8))
    spec = NetSpec(family="cnn", act=act, in_channels=3, in_size=8, stem_width=4, classes=3,
                   cardinality=2, stages=((BlockSpec(kind, w1, 1, skip, shortcut),
                                           BlockSpec(kind, w2, 2, skip, shortcut)),))
    model = build_model(spec, seed=0).eval()
    x, _ = make_batch(spec, batch=2, seed=0)
    return spec, model, x.requires_grad_(True)


def _assert_complete(attr, diff):
    """Sum of attributions = f(x) − f(baseline), to 0.1 % of |f(x) − f(baseline)|. Where the net
    ignores its input (a plain bottleneck net at init: dead ReLUs, f(x) = f(0)) completeness says
    the attributions sum to 0, which is then the check."""
    gap = (attr.flatten(1).sum(1) - diff).abs()
    if diff.abs().max() < 1e-6:
        assert gap.max() < 1e-6, gap
    else:
        assert (gap <= 1e-3 * diff.abs() + 1e-7).all(), (gap / diff.abs()).tolist()


def _hooks_left(model) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
               for m in model.modules())


@pytest.mark.parametrize("kind,skip,shortcut", CASES)
def test_deeplift(kind, skip, shortcut):
    _, model, x = _net(kind, skip, shortcut)
    dl = DeepLift(model)
    attr, delta = dl.attribute(x, baselines=torch.zeros_like(x), target=1,
                               return_convergence_delta=True)
    assert attr.shape == x.shape and torch.isfinite(attr).all()
    # DeepLift's completeness (summation-to-delta): sum of attributions = f(x) - f(baseline).
    # Holds only if every nonlinearity is its own module, which is what we check.
    assert not x.grad_fn  # the input is untouched
    with torch.no_grad():
        diff = model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]
    _assert_complete(attr, diff)
    assert delta.abs().max() < 1e-4
    assert not _hooks_left(model)


@pytest.mark.parametrize("kind,skip,shortcut", CASES)
def test_layer_gradcam_on_a_block(kind, skip, shortcut):
    _, model, x = _net(kind, skip, shortcut)
    for layer, side in ((model.stage1.block0, 8), (model.stage1.block1, 4)):
        attr = LayerGradCam(model, layer).attribute(x, target=0)
        assert attr.shape == (2, 1, side, side) and torch.isfinite(attr).all()
        up = LayerAttribution.interpolate(attr, x.shape[-2:])
        assert up.shape == (2, 1) + x.shape[-2:]
    assert not _hooks_left(model)


@pytest.mark.parametrize("kind,skip,shortcut", CASES)
def test_integrated_gradients(kind, skip, shortcut):
    _, model, x = _net(kind, skip, shortcut)
    attr, delta = IntegratedGradients(model).attribute(x, target=2, n_steps=16,
                                                       return_convergence_delta=True)
    assert attr.shape == x.shape and torch.isfinite(attr).all()
    assert torch.isfinite(delta).all()
    with torch.no_grad():  # computed here, not taken from Captum's delta
        diff = model(x)[:, 2] - model(torch.zeros_like(x))[:, 2]
    _assert_complete(attr.detach(), diff)
    assert not _hooks_left(model)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "gelu"])
def test_other_activations_run(act):
    _, model, x = _net("basic", True, "A", act=act)
    assert DeepLift(model).attribute(x, target=0).shape == x.shape
    assert IntegratedGradients(model).attribute(x, target=0, n_steps=4).shape == x.shape


def test_probe_still_exact_after_captum():
    """Captum's hooks are gone afterwards: a probe gives the same numbers as on a fresh model."""
    spec, model, x = _net("basic", True, "B")
    y = torch.tensor([0, 1])
    DeepLift(model).attribute(x, target=0)
    LayerGradCam(model, model.stage1.block1).attribute(x, target=0)
    fresh = build_model(spec, seed=0).eval()
    a, b = probe(model, x, y, train=False), probe(fresh, x, y, train=False)
    assert a.blocks["grad_norm"].tolist() == b.blocks["grad_norm"].tolist()


def test_negative_control_a_reused_relu_breaks_deeplift():
    """torchvision's pattern (one ReLU called twice): DeepLift refuses it. Our blocks never do."""

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.fc = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 3)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.l2(self.relu(self.l1(x)))
            return self.fc(self.relu(out + x))

    x = torch.randn(2, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="more than once"):
        DeepLift(Reused().eval()).attribute(x, target=0)
