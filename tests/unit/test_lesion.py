"""Lesion study (Veit et al. 2016): deleting a block keeps the forward pass valid and is undone."""

import math

import pytest
import torch

from resnet_explain.experiments.lesion import (
    HOW_IDENTITY,
    HOW_NONE,
    HOW_RESIDUAL,
    LesionError,
    accuracy,
    lesion_study,
    lesioned,
)
from resnet_explain.model import build_model, find_blocks
from resnet_explain.spec import cifar_resnet


def data(n=24, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, side, side, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_lesion_of_residual_block_keeps_forward_valid_and_is_undone():
    model = build_model(cifar_resnet(14, width=4, in_size=8), seed=0).eval()
    x, _ = data()
    before = model(x)
    captured = {}
    blk = dict(find_blocks(model))["stage1.block1"]
    with lesioned(model, "stage1.block1"):
        # registered after the lesion hook, so it sees the lesioned output
        h = blk.register_forward_hook(lambda m, a, o: captured.update(inp=a[0], out=o))
        out = model(x)
        h.remove()
    assert out.shape == before.shape and torch.isfinite(out).all()
    # identity shortcut + ReLU after a ReLU: deleting the branch makes the block exactly y = x
    assert torch.equal(captured["out"], captured["inp"])
    assert not torch.equal(out, before)
    assert torch.equal(model(x), before)  # the hooks are gone
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    # a downsampling residual block (option A shortcut) can be deleted too
    with lesioned(model, ["stage2.block0", "stage3.block0"]):
        assert torch.isfinite(model(x)).all()


def test_hooks_removed_after_error():
    model = build_model(cifar_resnet(14, width=4, in_size=8, skip=False), seed=0)
    with pytest.raises(LesionError):
        with lesioned(model, "stage2.block0"):  # plain, changes shape: not removable
            model(data()[0])
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    with pytest.raises(LesionError):
        with lesioned(model, "stage9.block0"):
            pass


def test_study_residual_and_plain():
    x, y = data(40)
    res = build_model(cifar_resnet(14, width=4, in_size=8), seed=1).train()
    w = {k: v.clone() for k, v in res.state_dict().items()}
    df = lesion_study(res, (x, y), batch_size=16)
    assert list(df["block"]) == [n for n, _ in find_blocks(res)]
    assert df["removable"].all() and (df["lesion"] == HOW_RESIDUAL).all()
    assert (df["residual_ratio"] > 0).all() and df["accuracy"].between(0, 1).all()
    assert df["accuracy_drop"].tolist() == pytest.approx((df["base_accuracy"] - df["accuracy"]).tolist())
    assert res.training  # mode restored
    assert all(torch.equal(v, w[k]) for k, v in res.state_dict().items())  # running stats untouched
    assert df.attrs["n"] == 40

    plain = build_model(cifar_resnet(14, width=4, in_size=8, skip=False), seed=1)
    dp = lesion_study(plain, (x, y))
    ds = dp.set_index("block")
    assert not ds.loc["stage2.block0", "removable"] and ds.loc["stage2.block0", "lesion"] == HOW_NONE
    assert math.isnan(ds.loc["stage2.block0", "accuracy_drop"])
    assert ds.loc["stage1.block1", "removable"] and ds.loc["stage1.block1", "lesion"] == HOW_IDENTITY
    assert dp["residual_ratio"].isna().all()


def test_zero_branch_costs_nothing():
    # zero_init_last: every residual branch outputs exactly 0, so deleting it changes nothing
    # and ||F(x)||/||x|| is 0 (a residual block with a zeroed body is the identity).
    model = build_model(cifar_resnet(14, width=4, in_size=8, zero_init_last=True), seed=0)
    x, y = data(16)
    df = lesion_study(model, (x, y))
    assert (df["accuracy_drop"] == 0).all() and (df["residual_ratio"] == 0).all()
    assert accuracy(model, x, y, lesion=["stage1.block0", "stage3.block1"]) == df["base_accuracy"].iloc[0]


def test_image_set_needs_normalizer():
    from resnet_explain.data import Normalizer, make_shapes

    s = make_shapes(12, size=8)
    model = build_model(cifar_resnet(8, width=2, in_size=8), seed=0)
    with pytest.raises(LesionError):
        lesion_study(model, s)
    assert len(lesion_study(model, s, Normalizer.of(s))) == 3


# ---- the page's sentences (charts.lesion), from a hand-made pair of lesion tables ----------------------
def _frames(plain_drops, res_drops, plain_base=0.8, res_base=0.85, ratios=None):
    import pandas as pd

    def one(drops, base, skip, ratio):
        names = [f"stage{1 + i // 3}.block{i % 3}" for i in range(len(drops))]
        return pd.DataFrame({
            "block": names, "position": range(len(drops)),
            "removable": [d is not None for d in drops], "lesion": "x",
            "accuracy": [base - d / 100 if d is not None else float("nan") for d in drops],
            "base_accuracy": base,
            "accuracy_drop": [d / 100 if d is not None else float("nan") for d in drops],
            "residual_ratio": ratio if skip else [float("nan")] * len(drops)})
    ratios = ratios or [0.1 * (i + 1) for i in range(len(res_drops))]
    return {"plain": one(plain_drops, plain_base, False, None),
            "residual": one(res_drops, res_base, True, ratios)}


def test_downsampling_blocks_follow_the_shape_rule():
    from resnet_explain.experiments.lesion import downsampling_blocks

    spec = cifar_resnet(14, width=4, in_size=8, skip=False)
    ds = downsampling_blocks(spec)
    assert [n for n, v in ds.items() if v] == ["stage2.block0", "stage3.block0"]
    # the same blocks the lesion study finds not removable in the plain twin (shape changes)
    x, y = data(8)
    df = lesion_study(build_model(spec, seed=0), (x, y))
    assert set(df.loc[~df["removable"], "block"]) == {n for n, v in ds.items() if v}


def test_lesion_sentences_and_verdict():
    from resnet_explain.charts import lesion as lc
    from resnet_explain.content import lesion as lt

    ds = {"stage2.block0": True}
    long = lc.lesion_long(_frames([30, 40, 50, None, 20, 10], [1, 2, 3, 9, 1, 0]), ds, 20)
    f = lc.lesion_findings(long)
    s = lt.arch_sentence("plain", 20, f["plain"])
    assert f"costs a median of **{f['plain']['median_drop']:.1f}** points" in s and "(stage2.block0)" in s
    assert f['plain']['median_drop'] == 30.0 and f["plain"]["not_removable_blocks"] == ["stage2.block0"]
    r = lt.arch_sentence("residual", 20, f["residual"])
    fr = f["residual"]  # the numbers the sentence states are the findings'
    assert (fr["n_small"], fr["removable"], fr["big_blocks"], fr["big_downsampling"]) == (5, 6, ["stage2.block0"], 1)
    assert f"{fr['n_small']} of {fr['removable']} deletable blocks cost at most {lt.BIG_DROP:.0f} points" in r
    assert f"stage2.block0 ({fr['big_drops'][0]:.0f}); 1 of these 1 is a downsampling block" in r
    assert lt.pair_warning(f, 20, chance=0.1) is None
    v = lt.lesion_verdict(f, chance=0.1)
    assert v.startswith("**In short:**") and "as Veit et al. found" in v  # plain hurts, residual barely
    assert (f"costs the plain net {f['plain']['median_drop']:.1f} points and the residual net "
            f"{fr['median_drop']:.1f}") in v and fr["median_drop"] == 1.5
    # a plain twin that barely learned: a warning, and no verdict
    weak = lc.lesion_findings(lc.lesion_long(_frames([1, 1, 1, None, 1, 1], [1, 1, 1, 1, 1, 1],
                                                     plain_base=0.12), ds, 56))
    w = lt.pair_warning(weak, 56, chance=0.1)
    assert w.startswith("**plain-56 never left chance** (12% accuracy, chance 10%") and "GPU" in w
    assert lt.lesion_verdict(weak, chance=0.1) is None
    # a plain twin that left chance but trained far worse (22 %: 0.13 of its twin's way): the same
    far = lc.lesion_findings(lc.lesion_long(_frames([1, 1, 1, None, 1, 1], [1, 1, 1, 1, 1, 1],
                                                    plain_base=0.22), ds, 56))
    w = lt.pair_warning(far, 56, chance=0.1)
    assert w.startswith("**plain-56 trained far worse than residual-56** (22% accuracy against")
    assert lt.lesion_verdict(far, chance=0.1) is None
    # both fragile, residual about as much: not Veit et al.'s contrast
    both = lc.lesion_findings(lc.lesion_long(_frames([30] * 6, [25] * 6), {}, 20))
    assert "about as fragile" in lt.lesion_verdict(both, chance=0.1)
    calm = lc.lesion_findings(lc.lesion_long(_frames([2] * 6, [1] * 6), {}, 20))
    assert "neither net loses more than 5 points" in lt.lesion_verdict(calm, chance=0.1)


def test_ratio_sentence_spearman():
    from resnet_explain.charts import lesion as lc
    from resnet_explain.content import lesion as lt

    drops = [1, 2, 3, 4, 5, 6]
    long = lc.lesion_long(_frames([30] * 6, drops, ratios=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), {}, 20)
    s = lt.ratio_sentence(long, lc.lesion_findings(long))
    res = long[long["arch"] == "residual"]
    top = res.loc[res["residual_ratio"].idxmax(), "block"]
    assert (f"runs from {res['residual_ratio'].min():.2f} to {res['residual_ratio'].max():.2f} (median "
            f"{res['residual_ratio'].median():.2f}); the largest is at {top}") in s and top == "stage2.block2"
    assert "Spearman ρ = 1.00 — the blocks that add most" in s
    long = lc.lesion_long(_frames([30] * 6, drops, ratios=[0.3, 0.6, 0.1, 0.5, 0.2, 0.4]), {}, 20)
    assert "ρ = -0.09 — weak" in lt.ratio_sentence(long, lc.lesion_findings(long))
    no_res = lc.lesion_long({"plain": _frames([1] * 3, [1] * 3)["plain"]}, {}, 20)
    assert lt.ratio_sentence(no_res, lc.lesion_findings(no_res)) is None


@pytest.mark.parametrize("net,expect", [
    ("b16*2", lambda s, g: s),                  # add: S(x)
    ("b16@s*2", lambda s, g: 0.5 * s),          # constant scaling: ½·S(x)
    ("b16@g*2", lambda s, g: (1 - g) * s),      # exclusive gating: (1 − g)·S(x)
    ("b16@o*2", lambda s, g: (1 - g) * s),      # shortcut-only gating: (1 − g)·S(x)
])
def test_a_lesion_deletes_the_branch_as_the_block_joins_it(net, expect):
    """Deleting F(x) keeps what the combine makes of the shortcut alone (not S(x) for every
    combine): the block's output under the lesion is act(rule(S, 0, g))."""
    from resnet_explain.spec import NetSpec

    spec = NetSpec.from_query(f"fam=cnn&net={net}&ins=8")
    model = build_model(spec, seed=0).eval()
    x, _ = data()
    blk = dict(find_blocks(model))["stage1.block1"]
    seen = {}
    with lesioned(model, "stage1.block1"):
        h = blk.register_forward_hook(lambda m, a, o: seen.update(inp=a[0], out=o))
        model(x)
        h.remove()
    inp = seen["inp"]
    g = blk.gate(inp) if blk.gate is not None else None
    torch.testing.assert_close(seen["out"], blk.out_act(expect(blk.shortcut(inp), g)))


def test_a_lesioned_dense_block_keeps_its_input_and_zeroes_its_new_channels():
    from resnet_explain.spec import NetSpec

    spec = NetSpec.from_query("fam=cnn&net=d24,d32&ins=8&stem=16")
    model = build_model(spec, seed=0).eval()
    x, _ = data()
    blk = dict(find_blocks(model))["stage1.block1"]
    seen = {}
    with lesioned(model, "stage1.block1"):
        h = blk.register_forward_hook(lambda m, a, o: seen.update(inp=a[0], out=o))
        out = model(x)
        h.remove()
    assert out.shape == model(x).shape and seen["out"].shape[1] == 32
    torch.testing.assert_close(seen["out"][:, :24], seen["inp"])
    assert (seen["out"][:, 24:] == 0).all()
