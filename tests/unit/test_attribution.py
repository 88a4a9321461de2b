"""Attribution registry: Captum axioms on our nets, every method on every block kind, mask scores."""

import warnings

import pytest
import torch

from resnet_explain import build_model, cifar_resnet
from resnet_explain.lab.attribution import (METHODS, NO_NOISE_TUNNEL, AttributionError, attribute,
                                        block_attribution,
                                        completeness, make_baseline, pointing_game,
                                        positive_share_in_mask, score_methods)
from resnet_explain.spec import BlockSpec, NetSpec

warnings.filterwarnings("ignore", category=UserWarning)


def tiny(kind="basic", skip=True, shortcut="A"):
    blocks = (BlockSpec(kind=kind, width=4, skip=skip, shortcut=shortcut),
              BlockSpec(kind=kind, width=8, stride=2, skip=skip, shortcut=shortcut))
    spec = NetSpec(family="cnn", stages=(blocks,), in_size=8, stem_width=4, classes=3)
    torch.manual_seed(0)
    model = build_model(spec, seed=1)
    model.train()
    with torch.no_grad():  # one training-mode pass gives BatchNorm non-trivial running statistics
        model(torch.randn(16, 3, 8, 8))
    return model.eval()


def inputs(n=3):
    g = torch.Generator().manual_seed(5)
    return torch.randn(n, 3, 8, 8, generator=g), torch.tensor([0, 1, 2])[:n]


KINDS = [(k, s) for k in ("basic", "preact", "bottleneck") for s in (True, False)]


@pytest.mark.parametrize("kind,skip", KINDS)
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_on_every_block_kind(kind, skip, method):
    model = tiny(kind, skip, shortcut="B")
    x, y = inputs()
    kw = {"layer": "stage1.block1"} if method == "LayerGradCam" else {}
    if method == "IntegratedGradients":
        kw["n_steps"] = 8
    if method == "Occlusion":
        kw["sliding_window_shapes"] = (3, 2, 2)
        kw["strides"] = (3, 2, 2)
    a = attribute(model, x, y, method, **kw)
    want = (3, 1, 8, 8) if method == "LayerGradCam" else x.shape
    assert tuple(a.attr.shape) == tuple(want)
    assert torch.isfinite(a.attr).all()
    assert a.seconds >= 0


def test_integrated_gradients_completeness_within_delta():
    model = tiny("basic")
    x, y = inputs()
    a = attribute(model, x, y, "IntegratedGradients", baseline="blurred", n_steps=64)
    c = completeness(model, x, a.baseline, y, a.attr)
    tol = a.delta.abs().double().cpu().numpy() + 1e-6
    assert (abs(c["gap"].to_numpy()) <= tol).all()
    # Captum's delta is exactly that gap.
    assert torch.allclose(torch.tensor(c["gap"].to_numpy()), a.delta.double().cpu(), atol=1e-6)


def test_batched_equals_per_image():
    model = tiny("preact")
    x, y = inputs()
    for method in ("IntegratedGradients", "DeepLift", "Saliency", "Occlusion"):
        kw = {"n_steps": 16} if method == "IntegratedGradients" else {}
        if method == "Occlusion":
            kw = {"sliding_window_shapes": (3, 2, 2), "strides": (3, 2, 2)}
        whole = attribute(model, x, y, method, **kw).attr
        each = torch.cat([attribute(model, x[i:i + 1], y[i:i + 1], method, **kw).attr for i in range(3)])
        assert torch.allclose(whole, each, atol=1e-5, rtol=1e-4), method


def test_internal_batch_size_does_not_change_ig():
    model = tiny("basic")
    x, y = inputs()
    a = attribute(model, x, y, "IntegratedGradients", n_steps=20).attr
    b = attribute(model, x, y, "IntegratedGradients", n_steps=20, internal_batch_size=7).attr
    assert torch.allclose(a, b, atol=1e-6)


def test_noise_tunnel_is_seeded():
    model = tiny("basic")
    x, y = inputs()
    a = attribute(model, x, y, "Saliency", noise_tunnel=True, seed=3).attr
    b = attribute(model, x, y, "Saliency", noise_tunnel=True, seed=3).attr
    assert torch.equal(a, b)


def test_errors_a_user_can_cause():
    model = tiny()
    x, y = inputs()
    with pytest.raises(AttributionError):
        attribute(model, x, y, "Magic")
    with pytest.raises(AttributionError):
        attribute(model, x, y, "LayerGradCam")
    with pytest.raises(AttributionError):
        attribute(model, x, y, "LayerGradCam", layer="stage9.block0")
    with pytest.raises(AttributionError):
        attribute(model.train(), x, y, "Saliency")


def test_baselines():
    x, _ = inputs()
    assert torch.equal(make_baseline("black", x), torch.zeros_like(x))
    blurred = make_baseline("blurred", x)
    assert blurred.shape == x.shape and blurred.std() < x.std()
    assert torch.equal(make_baseline("noise", x, seed=1), make_baseline("noise", x, seed=1))
    with pytest.raises(AttributionError):
        make_baseline("white", x)


def test_mask_scores_on_hand_made_cases():
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, 1:3, 1:3] = True  # a 2x2 object in the middle: 25 % of the image
    attr = torch.zeros(2, 3, 4, 4)
    attr[0, 0, 1, 1] = 5.0  # peak inside
    attr[0, 0, 0, 0] = 1.0  # some outside: 5 / 6 of positive attribution inside
    attr[1, 0, 3, 3] = 2.0  # peak outside, nothing inside
    attr[1, 1, 2, 2] = -4.0  # negative evidence inside does not count as positive share
    assert pointing_game(attr, mask).tolist() == [True, False]
    share = positive_share_in_mask(attr, mask)
    assert share[0].item() == pytest.approx(5 / 6)
    assert share[1].item() == pytest.approx(0.0)
    # A tolerance of one pixel makes the corner (3, 3) count as a hit near the object.
    assert pointing_game(attr, mask, tolerance=1).tolist() == [True, True]
    # No positive attribution at all: undefined, not zero.
    assert torch.isnan(positive_share_in_mask(-attr.abs(), mask)).all()


def test_block_attribution_plain_blocks_carry_everything():
    """A plain block is a cut of the graph, so its branch's total equals f(x) - f(baseline)."""
    model = tiny("basic", skip=False)
    x, y = inputs(2)
    df = block_attribution(model, x, y, method="LayerIntegratedGradients", n_steps=32)
    assert len(df) == 2
    assert (abs(df["share_of_total"] - 1.0) < 0.05).all()
    res = block_attribution(tiny("basic", skip=True), x, y, method="LayerConductance", n_steps=8)
    assert res["skip"].all() and res["attribution"].notna().all()


def test_score_methods_table():
    class Norm:
        def __call__(self, u8):
            return u8.float() / 255.0

    model = tiny("basic")
    imgs = torch.randint(0, 255, (4, 3, 8, 8), dtype=torch.uint8)
    masks = torch.zeros(4, 8, 8, dtype=torch.bool)
    masks[:, 2:6, 2:6] = True
    labels = torch.tensor([0, 1, 2, 0])
    df = score_methods({"m": (model, Norm())}, imgs, masks, labels, methods=["Saliency", "LayerGradCam"],
                       batch=2)
    assert set(df.columns) >= {"model", "method", "pointing_game", "positive_share_in_mask",
                               "mask_share_of_image", "seconds_per_image"}
    assert df["mask_share_of_image"].iloc[0] == pytest.approx(0.25)
    assert ((df["pointing_game"] >= 0) & (df["pointing_game"] <= 1)).all()


def test_captum_on_a_full_size_resnet_block_kinds():
    """DeepLift refuses a module used twice; GuidedGradCam refuses in-place views. Ours pass."""
    import captum.attr as ca

    model = build_model(cifar_resnet(8, width=4), seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    ca.GuidedGradCam(model, model.stage3.block0.body.conv2).attribute(x, target=1)
    ca.DeepLift(model).attribute(x, target=1)



def test_attribute_leaves_no_hooks_behind():
    model = tiny("basic")
    x, y = inputs()
    for method in METHODS:
        kw = {"layer": "stage1.block1"} if method == "LayerGradCam" else {}
        if method == "Occlusion":
            kw = {"sliding_window_shapes": (3, 2, 2), "strides": (3, 2, 2)}
        attribute(model, x, y, method, **kw)
        if method not in NO_NOISE_TUNNEL:
            attribute(model, x, y, method, noise_tunnel=True, **kw)
        else:
            with pytest.raises(AttributionError):
                attribute(model, x, y, method, noise_tunnel=True, **kw)
    for m in model.modules():
        assert not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks), m
    assert all(p.grad is None for p in model.parameters())
