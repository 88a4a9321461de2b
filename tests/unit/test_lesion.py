"""Lesion study (Veit et al. 2016): deleting a block keeps the forward pass valid and is undone."""

import math

import pytest
import torch

from resnet_explain.lab.lesion import (HOW_IDENTITY, HOW_NONE, HOW_RESIDUAL, LesionError, accuracy,
                                       lesion_study, lesioned)
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
    from resnet_explain.data import make_shapes
    from resnet_explain.data import Normalizer

    s = make_shapes(12, size=8)
    model = build_model(cifar_resnet(8, width=2, in_size=8), seed=0)
    with pytest.raises(LesionError):
        lesion_study(model, s)
    assert len(lesion_study(model, s, Normalizer.of(s))) == 3
