"""Attribution registry: Captum axioms on our nets, every method on every block kind, mask scores."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from resnet_explain import build_model, cifar_resnet
from resnet_explain import numbers
from resnet_explain.content import attribution as words
from resnet_explain.data.normalizer import Normalizer
from resnet_explain.experiments import explain as lab
from resnet_explain.experiments.attribution import (
    METHODS,
    NO_NOISE_TUNNEL,
    AttributionError,
    attribute,
    block_attribution,
    completeness,
    make_baseline,
    pointing_game,
    positive_share_in_mask,
    score_methods,
)
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


def _f_diff(model, x, base, y):
    """f(x) − f(baseline) of each example's target logit, computed here, not by the library."""
    with torch.no_grad():
        return (model(x) - model(base)).gather(1, y.view(-1, 1)).squeeze(1).double()


@pytest.mark.parametrize("baseline", ["black", "blurred"])
def test_integrated_gradients_completeness(baseline):
    """Sundararajan et al. 2017: sum of IG attributions = f(x) − f(baseline), up to the integral's
    error, which must be small *relative to* f(x) − f(baseline) (itself far from 0 here)."""
    model = tiny("basic")
    x, y = inputs()
    a = attribute(model, x, y, "IntegratedGradients", baseline=baseline, n_steps=64)
    diff = _f_diff(model, x, make_baseline(baseline, x), y)
    assert (diff.abs() > 0.05).all(), diff  # not vacuous: the score depends on the input
    gap = (a.attr.flatten(1).sum(1).double() - diff).abs()
    assert (gap <= 0.02 * diff.abs()).all(), (gap / diff.abs()).tolist()


def test_gradient_shap_completeness_is_over_its_baseline_distribution():
    """GradientShap draws from the chosen baselines and black: its sum matches f(x) minus the mean
    of f over both (what completeness() reports), not f(x) − f(chosen). With the image itself as
    the chosen baseline the two differ most: f(x) − f(x) = 0 against half of f(x) − f(black)."""
    model = tiny("basic")
    x, y = inputs(1)
    a = attribute(model, x, y, "GradientShap", baseline=x.clone(), n_samples=400, stdevs=0.0, seed=0)
    assert a.baseline.shape[0] == 2
    want = _f_diff(model, x, torch.zeros_like(x), y)[0] / 2
    assert abs(float(want)) > 0.05
    c = completeness(model, x, a.baseline, y, a.attr)
    assert c["f_x_minus_f_baseline"][0] == pytest.approx(float(want), rel=1e-5)
    assert abs(float(a.attr.sum()) - float(want)) < 0.1 * abs(float(want))


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


def test_gradient_shap_is_seeded_and_leaves_the_global_generator_alone():
    model = tiny("basic")
    x, y = inputs()
    torch.manual_seed(123)
    np.random.seed(123)
    before = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(123)
    a = attribute(model, x, y, "GradientShap", seed=3).attr
    assert (torch.rand(1), np.random.rand()) == before  # the caller's random streams are untouched
    assert torch.equal(a, attribute(model, x, y, "GradientShap", seed=3).attr)
    assert not torch.equal(a, attribute(model, x, y, "GradientShap", seed=4).attr)


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
    assert not torch.equal(make_baseline("noise", x, seed=1), make_baseline("noise", x, seed=2))
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


# ---------------------------------------------------------------------------------------------
# explain(): the one pipeline behind the page and the CLI
# ---------------------------------------------------------------------------------------------
NORM = Normalizer((0.5, 0.4, 0.3), (0.25, 0.2, 0.3))


def image_and_mask(seed=7):
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, 8, 8), generator=g, dtype=torch.uint8)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2:6, 1:5] = True  # a quarter of the image
    return img, mask


def test_explain_integrated_gradients_completeness_relative():
    model = tiny("basic")
    img, mask = image_and_mask()
    e = lab.explain(model, NORM, img, target="pred", method="IntegratedGradients", mask=mask)
    x = NORM(img.unsqueeze(0))
    want = float(_f_diff(model, x, NORM(torch.zeros_like(img).unsqueeze(0)), torch.tensor([e.pred]))[0])
    assert e.f_diff == pytest.approx(want, rel=1e-5)  # f(x) − f(black), computed independently
    assert abs(want) > 0.05
    assert abs(e.attr_sum - want) <= 0.02 * abs(want)
    assert e.baseline == "black" and e.delta is not None and e.delta <= 0.02 * abs(want)
    facts = words.facts(e).split(" · ")  # every number the caption states, from the explanation
    assert facts[1] == f"convergence delta {numbers.sci(e.delta)}"
    assert facts[2] == f"Σ attribution {e.attr_sum:.4f} vs f(x) − f(baseline) {e.f_diff:.4f}"
    assert facts[3] == words.ig_clause(e.ig) and f"{e.mask_share:.0%} of the image" in facts[-1]


def test_explain_target_selection():
    model = tiny("basic")
    img, _ = image_and_mask()
    with torch.no_grad():
        probs = torch.softmax(model(NORM(img.unsqueeze(0))), 1)[0]
    pred = int(probs.argmax())
    other = (pred + 1) % 3
    kw = {"method": "Saliency"}
    e = lab.explain(model, NORM, img, target="pred", **kw)
    assert (e.pred, e.target) == (pred, pred)
    assert e.confidence == pytest.approx(float(probs[pred])) and e.p_target == e.confidence
    e = lab.explain(model, NORM, img, target="true", label=other, **kw)
    assert (e.pred, e.target) == (pred, other)
    assert e.p_target == pytest.approx(float(probs[other]))
    assert words.headline(e, ("a", "b", "c"), label=other).endswith(f"(true: {'abc'[other]}). Explaining "
                                                             f"**{'abc'[other]}** (p = {e.p_target:.2f}).")
    e = lab.explain(model, NORM, img, target=other, **kw)
    assert e.target == other
    # the map explains the chosen class: it is the target's gradient, not the prediction's
    direct = attribute(model, NORM(img.unsqueeze(0)), other, "Saliency").attr[0].sum(0).double().numpy()
    assert np.allclose(e.attr_map, direct)
    for bad, label in (("true", None), (3, None), (-1, None), ("best", None)):
        with pytest.raises(AttributionError):
            lab.explain(model, NORM, img, target=bad, label=label, **kw)


@pytest.mark.parametrize("method", list(METHODS))
def test_explain_map_shape_and_mask_scores_match_the_scorers(method):
    model = tiny("preact")
    img, mask = image_and_mask()
    kw = {"sliding_window_shapes": (3, 2, 2), "strides": (3, 2, 2)} if method == "Occlusion" else {}
    e = lab.explain(model, NORM, img, target="pred", method=method, mask=mask, **kw)
    assert e.attr_map.shape == (8, 8) and e.attr_map.dtype == np.float64
    layer = "stage1.block1" if method == "LayerGradCam" else None  # the default: the last block
    if method == "IntegratedGradients":  # the steps the completeness loop settled on
        kw["n_steps"] = e.ig_steps
    a = attribute(model, NORM(img.unsqueeze(0)), e.target, method, black=NORM(torch.zeros(1, 3, 8, 8,
                  dtype=torch.uint8)), layer=layer, **kw)
    assert np.allclose(e.attr_map, a.attr[0].sum(0).double().numpy(), atol=1e-6), method
    assert e.pointing_game == bool(pointing_game(a.attr, mask[None])[0])
    want = float(positive_share_in_mask(a.attr, mask[None])[0])
    assert (np.isnan(e.positive_share) and np.isnan(want)) or e.positive_share == pytest.approx(want)
    assert e.mask_share == pytest.approx(0.25)
    assert e.attr_sum == pytest.approx(float(a.attr.sum()), rel=1e-5, abs=1e-6)
    has_f = METHODS[method].baselines and METHODS[method].kind == "input"
    assert (e.f_diff is not None) == has_f and (e.baseline is not None) == METHODS[method].baselines


def test_explain_without_mask_has_no_mask_scores_and_rejects_a_bad_image():
    model = tiny("basic")
    img, _ = image_and_mask()
    e = lab.explain(model, NORM, img, target="pred", method="Saliency")
    assert e.pointing_game is None and e.positive_share is None and e.mask_share is None
    assert words.facts(e) == f"{e.seconds * 1e3:.0f} ms on {e.device}"  # Saliency: no completeness, no mask
    with pytest.raises(AttributionError):
        lab.explain(model, NORM, img.float(), target="pred")


def test_block_shares_is_block_attribution_on_the_normalised_image():
    model = tiny("basic", skip=False)
    img, _ = image_and_mask()
    df = lab.block_shares(model, NORM, img, 1, n_steps=32)
    x, black = NORM(img.unsqueeze(0)), NORM(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    ref = block_attribution(model, x, 1, "LayerIntegratedGradients", baseline=black, n_steps=32)
    assert df["attribution"].tolist() == pytest.approx(ref["attribution"].tolist())
    assert df["f_x_minus_f_baseline"].iloc[0] == pytest.approx(float(_f_diff(model, x, black,
                                                                              torch.tensor([1]))[0]))


def _frame(shares, diff, skip):
    return pd.DataFrame({"position": range(len(shares)), "block": [f"stage1.block{i}" for i in range(len(shares))],
                         "skip": skip, "attribution": [s * diff for s in shares], "share_of_total": shares,
                         "f_x_minus_f_baseline": diff, "method": "LayerIntegratedGradients"})


def test_block_summary_leaves_a_collapsed_net_out_and_the_words_name_the_largest_residual_share():
    frames = {"plain": _frame([1.0, 0.98, 1.02], 2.0, False), "residual": _frame([0.1, -0.6, 0.3], 2.0, True)}
    d = lab.block_summary(frames)
    assert d.collapsed == {} and len(d.shown) == 6 and set(d.table["variant"]) == {"plain", "residual"}
    s = words.summarise_blocks(frames, "ring")
    assert not s.notes and s.shown.equals(d.shown)
    assert "**−60 %**, goes through stage 1 · block 2" in s.sentence  # largest |share|, sign kept
    assert "carry 100 % (median; from 98 % to 102 %" in s.sentence
    assert s.sentence.endswith(words.SHARES_OUTSIDE)  # a share below 0 % is explained where shown
    assert "**ring**" in s.sentence
    frames["plain"] = _frame([0.3, 5.0, -2.0], 4e-4, False)  # collapsed: f(x) − f(b) ≈ 0
    d = lab.block_summary(frames)
    assert d.collapsed == {"plain": 4e-4} and set(d.shown["variant"]) == {"residual"} and len(d.table) == 6
    s = words.summarise_blocks(frames, "ring")
    assert s.notes == [words.collapsed_note("plain", 4e-4)] and "4.0 × 10⁻⁴" in s.notes[0]
    assert "plain net" not in s.sentence
    inside = words.summarise_blocks({**frames, "residual": _frame([0.2, 0.5, 0.3], 2.0, True)}, "ring")
    assert words.SHARES_OUTSIDE not in inside.sentence and "**50 %**" in inside.sentence
    frames["residual"] = _frame([0.1], -1e-5, True)
    s = words.summarise_blocks(frames, "ring")
    assert len(s.notes) == 2 and s.shown.empty and s.sentence is None


def _scores(pg, n=32):
    models = ["plain20", "residual20"]
    methods = ["Saliency", "DeepLift", "Occlusion"]
    rows = [{"model": m, "method": k, "n": n, "pointing_game": p, "positive_share_in_mask": 0.5,
             "mask_share_of_image": 0.2, "seconds_per_image": 0.01}
            for (m, k), p in zip([(m, k) for m in models for k in methods], pg)]
    return pd.DataFrame(rows)


def test_score_summary_names_ties_and_the_real_count():
    one = words.score_summary(_scores([0.5, 0.75, 0.25, 0.5, 0.5, 0.5], n=32))
    assert one.startswith("Best pointing game: **DeepLift** on **plain20**, 75% of 32 images")
    assert "tied" not in one and " N " not in one
    assert "mask covers 20%" in one and "1.9 s" in one  # 6 rows × 32 images × 0.01 s
    tied = words.score_summary(_scores([1.0, 0.5, 1.0, 0.5, 1.0, 0.25], n=16))
    assert ("tied: **Saliency** on **plain20**, **Occlusion** on **plain20**, **DeepLift** on "
            "**residual20** at 100% of 16 images") in tied


def test_private_copy_is_private():
    from resnet_explain.train import shipped

    if "plain20" not in shipped.shipped():
        pytest.skip("no shipped checkpoints")
    shared = shipped.load_readonly("plain20")
    model, normalizer, meta = shipped.private_copy(shared)
    assert model is not shared[0] and normalizer is shared[1] and meta is shared[2]
    assert all(not p.requires_grad for p in shared[0].parameters())
    for (n, p), (_, q) in zip(model.named_parameters(), shared[0].named_parameters()):
        assert torch.equal(p, q) and p.data_ptr() != q.data_ptr(), n
    model.get_submodule("stage1.block0").register_forward_hook(lambda *a: None)
    assert not any(m._forward_hooks for m in shared[0].modules())


# ---------------------------------------------------------------------------------------------
# The CLI prints what explain() computes
# ---------------------------------------------------------------------------------------------
CLI_KEYS = {"model", "method", "index", "label", "label_name", "prediction", "prediction_name",
            "confidence", "target", "baseline", "attribution_sum", "f_x_minus_f_baseline",
            "convergence_delta", "pointing_game", "positive_share_in_mask", "mask_share_of_image",
            "seconds", "device", "torch", "run_id", "ig_steps", "completeness_gap", "ig_converged"}


@pytest.mark.parametrize("method,target", [("IntegratedGradients", "true"), ("LayerGradCam", "pred"),
                                           ("Saliency", "2")])
def test_cli_attribute_matches_explain(capsys, method, target):
    import json

    from resnet_explain import cli
    from resnet_explain.train import shipped

    if "residual20" not in shipped.shipped():
        pytest.skip("no shipped checkpoints")
    rc = cli.main(["attribute", "--model", "residual20", "--method", method, "--index", "5",
                   "--target", target, "--device", "cpu", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    d = json.loads(out)
    assert set(d) == CLI_KEYS
    model, normalizer, meta = shipped.load("residual20")
    test = shipped.test_images(meta, 8)
    e = lab.explain(model, normalizer, test.x[5], target=int(target) if target.isdigit() else target,
                    label=int(test.y[5]), method=method, mask=test.mask[5])
    assert (d["label"], d["prediction"], d["target"]) == (int(test.y[5]), e.pred, e.target)
    assert d["confidence"] == pytest.approx(e.confidence)
    assert d["attribution_sum"] == pytest.approx(e.attr_sum, rel=1e-5)
    assert d["pointing_game"] == e.pointing_game
    assert d["positive_share_in_mask"] == pytest.approx(e.positive_share)
    if method == "IntegratedGradients":
        assert d["target"] == d["label"] and d["baseline"] == "black"
        # the three numbers agree with each other: Captum's delta is the completeness gap
        gap = abs(d["attribution_sum"] - d["f_x_minus_f_baseline"])
        assert d["convergence_delta"] == pytest.approx(gap, rel=1e-3, abs=1e-5)
        assert d["f_x_minus_f_baseline"] == pytest.approx(e.f_diff, rel=1e-5)
        # the steps the loop settled on and the gap left, as explain() reports them
        assert (d["ig_steps"], d["ig_converged"]) == (e.ig_steps, e.ig.converged)
        assert d["completeness_gap"] == pytest.approx(gap / abs(d["f_x_minus_f_baseline"]), rel=1e-3)
        assert d["completeness_gap"] <= 0.01 or d["ig_steps"] == 800
    else:
        assert d["f_x_minus_f_baseline"] is None and d["convergence_delta"] is None
        assert d["ig_steps"] is None and d["completeness_gap"] is None


def test_cli_attribute_bad_target_is_one_line(capsys):
    from resnet_explain import cli
    from resnet_explain.train import shipped

    if "residual20" not in shipped.shipped():
        pytest.skip("no shipped checkpoints")
    for bad in ("99", "best"):
        rc = cli.main(["attribute", "--model", "residual20", "--target", bad, "--device", "cpu"])
        err = capsys.readouterr().err
        assert rc == 2 and "target must be" in err and err.count("\n") == 1, err


def test_cli_attribution_scores_equal_score_methods_on_the_test_split(capsys):
    import json

    from resnet_explain import cli
    from resnet_explain.train import shipped

    if 20 not in shipped.pairs():
        pytest.skip("no shipped checkpoints")
    rc = cli.main(["attribution-scores", "--n", "6", "--depths", "20", "--methods", "Saliency",
                   "--device", "cpu", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = json.loads(out)["rows"]
    models = {n: shipped.load(n)[:2] for n in shipped.pairs()[20]}
    test = shipped.test_images(shipped.load("plain20")[2], 6)
    want = score_methods(models, test.x, test.mask, test.y, methods=["Saliency"])
    assert [(r["model"], r["n"]) for r in rows] == [("plain20", 6), ("residual20", 6)]
    assert [r["pointing_game"] for r in rows] == pytest.approx(want["pointing_game"].tolist())
    assert [r["positive_share_in_mask"] for r in rows] == pytest.approx(want["positive_share_in_mask"].tolist())
