"""build_model: every valid spec trains (finite forward+backward), stable names, the maths of a
zeroed residual branch, seeding (twin, per-block seeds) and Captum/hook hygiene (no module used
twice, nothing in place)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from resnet_explain.model import build_model, make_batch
from resnet_explain.model.blocks import Block, PadShortcut, Pool, Projection, make_act
from resnet_explain.spec import BLOCK_KINDS, BlockSpec, NetSpec, SpecError, cifar_resnet, mlp

CNN_KINDS = [k for k, v in BLOCK_KINDS.items() if "cnn" in v.families]  # Transformer sublayers: test_transformer_model.py

try:  # tests/ is a package (tests/__init__.py); fall back to rootdir-style imports without it
    from tests.unit.test_spec import valid_specs
except ImportError:  # pragma: no cover
    from test_spec import valid_specs


# Widths (stem 4) that every kind accepts: a dense block must be wider than its input, so its
# widths grow by 2 per block; a ResNeXt block's inner width (width / 2) is a multiple of the
# cardinality, 2 here (inner widths 2 and 4).
_WIDTHS = {"dense": (6, 8, 10, 12)}


def _tiny_cnn(kind="basic", skip=True, shortcut="B", **kw) -> NetSpec:
    kw = {"in_channels": 3, "in_size": 8, "stem_width": 4, "classes": 3, "cardinality": 2, **kw}
    w = _WIDTHS.get(kind, (4, 4, 8, 8))
    skip = skip and kind != "transition"  # a transition never has a skip
    return NetSpec(family="cnn", stages=(
        (BlockSpec(kind, w[0], 1, skip, shortcut), BlockSpec(kind, w[1], 1, skip, shortcut)),
        (BlockSpec(kind, w[2], 2, skip, shortcut), BlockSpec(kind, w[3], 1, skip, shortcut)),
    ), **kw)


# ---------------------------------------------------------------------------------------------
# Every valid spec builds and runs
# ---------------------------------------------------------------------------------------------
@given(valid_specs(), st.integers(2, 4), st.integers(0, 2**31 - 1))
def test_random_valid_specs_forward_backward_finite(spec, batch, seed):
    model = build_model(spec, seed=seed)
    x, y = make_batch(spec, batch=batch, seed=seed)
    assert x.shape == spec.input_shape(batch)
    model.train()
    out = model(x)
    assert out.shape == (batch, spec.classes)
    assert torch.isfinite(out).all()
    loss = F.cross_entropy(out, y)
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():  # timm's test: every parameter gets a finite grad
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (batch, spec.classes) and torch.isfinite(out).all()


@pytest.mark.parametrize("kind", CNN_KINDS)
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_every_kind_and_shortcut_cnn_with_stride(kind, shortcut):
    spec = _tiny_cnn(kind, shortcut=shortcut)
    model = build_model(spec)
    x, y = make_batch(spec, batch=2)
    F.cross_entropy(model(x), y).backward()
    blk = model.stage2.block0
    sc = blk.shortcut
    if kind == "transition":  # no shortcut at all: norm-act-1x1, then 2x2 average pooling
        assert sc is None and not blk.skip and isinstance(blk.body.pool, Pool)
        assert blk(torch.randn(2, 4, 8, 8)).shape == (2, 8, 4, 4)
        assert spec.twin() == spec.with_skips(True) and not spec.any_skip
        return
    if kind == "dense":  # concatenates its input as it is, pooled where it strides; no option
        assert isinstance(sc, Pool) and not any(True for _ in sc.parameters())
        assert isinstance(model.stage1.block1.shortcut, nn.Identity)
        assert blk.combine is None
        x8 = torch.randn(2, 8, 8, 8)  # stage2.block0: 8 -> 10 channels, 8x8 -> 4x4
        out = blk(x8)
        assert out.shape == (2, 10, 4, 4)
        assert torch.equal(out[:, :8], F.avg_pool2d(x8, 2))  # the input's channels, pooled
        plain = build_model(spec.with_skips(False)).stage2.block0
        assert plain.shortcut is None and not plain.skip and plain(x8).shape == (2, 10, 4, 4)
        return
    if shortcut == "A":
        assert isinstance(sc, PadShortcut)
        assert not any(True for _ in sc.parameters())  # option A has no parameters
    else:
        assert isinstance(sc, Projection)
    same = model.stage1.block1.shortcut
    assert isinstance(same, Projection if shortcut == "C" else nn.Identity)
    plain = build_model(spec.with_skips(False)).stage2.block0
    assert plain.shortcut is None and not plain.skip


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
def test_stable_human_names():
    spec = cifar_resnet(14, width=4, in_size=8)
    model = build_model(spec)
    names = dict(model.named_modules())
    for n in ("stem", "stage1", "stage1.block0", "stage1.block1", "stage2.block0",
              "stage3.block1", "head", "head.fc", "stem.conv"):
        assert n in names, n
    assert [n for n, _ in model.named_blocks()] == [n for n, _ in spec.named_blocks()]
    assert all(isinstance(m, Block) for _, m in model.named_blocks())
    assert list(dict(model.named_children())) == ["stem", "stage1", "stage2", "stage3", "head"]
    assert model.stage2.block0.spec == spec.stages[1][0]
    # The same names in the mlp family.
    m2 = build_model(mlp(8, width=4, in_features=4))
    assert [n for n, _ in m2.named_blocks()] == ["stage1.block0", "stage1.block1",
                                                 "stage1.block2"]


# ---------------------------------------------------------------------------------------------
# A zeroed residual branch is the identity
# ---------------------------------------------------------------------------------------------
def _zero_body(blk: Block) -> None:
    with torch.no_grad():
        for p in blk.body.parameters():
            p.zero_()


@pytest.mark.parametrize("family", ["mlp", "cnn"])
@pytest.mark.parametrize("norm", ["none", "batch"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "gelu"])
@pytest.mark.parametrize("res_scale", [1.0, 0.5])
def test_zeroed_body_preact_is_exactly_identity(family, norm, act, res_scale):
    blk = Block(BlockSpec("preact", 4), family, act, norm, 4, res_scale)
    assert isinstance(blk.shortcut, nn.Identity)
    _zero_body(blk)
    x = torch.randn((3, 4, 5, 5) if family == "cnn" else (3, 4))
    for mode in (True, False):
        blk.train(mode)
        assert torch.equal(blk(x), x)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
@pytest.mark.parametrize("kind", ["basic", "bottleneck"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "gelu"])
def test_zeroed_body_basic_is_exactly_act(family, kind, act):
    blk = Block(BlockSpec(kind, 4), family, act, "none", 4)
    _zero_body(blk)
    x = torch.randn((3, 4, 5, 5) if family == "cnn" else (3, 4))
    assert torch.equal(blk(x), make_act(act)(x))


@pytest.mark.parametrize("kind", ["basic", "preact", "bottleneck"])
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_zero_init_last_with_batchnorm_in_eval_is_identity(kind, family):
    spec = (_tiny_cnn(kind, shortcut="A", zero_init_last=True) if family == "cnn" else
            mlp(6, width=4, kind=kind, act="relu", norm="batch", zero_init_last=True,
                in_features=4))
    model = build_model(spec).eval()
    blk = model.stage1.block1  # identity shortcut
    assert isinstance(blk.shortcut, nn.Identity)
    x = torch.randn((2, 4, 8, 8) if family == "cnn" else (2, 4))
    expect = x if kind == "preact" else torch.relu(x)
    assert torch.equal(blk(x), expect)


@pytest.mark.parametrize("kind", ["preact", "basic", "bottleneck"])
def test_zero_init_last_without_norm_is_identity(kind):
    spec = mlp(4, width=4, kind=kind, act="relu", norm="none", zero_init_last=True,
               in_features=4)
    blk = build_model(spec).stage1.block0
    x = torch.randn(3, 4)
    assert torch.equal(blk.body(x), torch.zeros_like(x))


def test_zero_init_last_leaves_plain_blocks_alone():
    spec = _tiny_cnn("basic", skip=False, zero_init_last=True)
    model = build_model(spec)
    for _, blk in model.named_blocks():
        assert blk.last_layer().weight.abs().sum() > 0


def test_res_scale_zero_starts_as_identity_and_is_learnable():
    spec = mlp(6, width=4, act="relu", res_scale=0.0, in_features=4)
    model = build_model(spec)
    blk = model.stage1.block0
    assert isinstance(blk.res_scale, nn.Parameter) and blk.res_scale.item() == 0.0
    x = torch.randn(3, 4)
    assert torch.equal(blk(x), x)
    x, y = make_batch(spec, batch=4)
    F.cross_entropy(model(x), y).backward()
    assert blk.res_scale.grad is not None and blk.res_scale.grad.abs() > 0
    assert build_model(mlp(6, width=4, in_features=4)).stage1.block0.res_scale is None


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------
def _same_state(a: nn.Module, b: nn.Module, keys=None) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    keys = keys if keys is not None else sa.keys()
    return all(torch.equal(sa[k], sb[k]) for k in keys)


@pytest.mark.parametrize("spec", [
    _tiny_cnn("basic", shortcut="A"), _tiny_cnn("basic", shortcut="C"),
    _tiny_cnn("bottleneck", shortcut="B"), _tiny_cnn("preact", shortcut="B"),
    _tiny_cnn("basic", shortcut="A", init="kaiming"), _tiny_cnn("preact", shortcut="A",
                                                                init="xavier"),
    _tiny_cnn("bottleneck", shortcut="B", init="kaiming"),
    _tiny_cnn("basic", shortcut="C", init="xavier"),
    mlp(10, width=4, in_features=4), mlp(10, width=4, in_features=4, res_scale=0.0),
], ids=["cnn-A", "cnn-C", "cnn-bottleneck-B", "cnn-preact-B", "cnn-A-kaiming",
        "cnn-preact-A-xavier", "cnn-bottleneck-B-kaiming", "cnn-C-xavier", "mlp", "mlp-skipinit"])
def test_plain_twin_has_identical_body_weights(spec):
    twin = spec.twin()
    assert spec.any_skip and not twin.any_skip
    r, p = build_model(spec, seed=3), build_model(twin, seed=3)
    sr, sp = r.state_dict(), p.state_dict()
    shared = set(sr) & set(sp)
    assert set(sp) <= set(sr)  # the twin only lacks shortcut projections / res_scale
    assert all(".shortcut." in k or k.endswith("res_scale") for k in set(sr) - set(sp))
    assert any(".body." in k for k in shared)
    for k in shared:
        assert torch.equal(sr[k], sp[k]), k


@given(valid_specs(), st.integers(0, 2**31 - 1))
def test_random_twins_share_body_weights(spec, seed):
    """Every block of the twin has its residual twin's body weights, with two differences that
    are by design: a dense block's plain twin makes all ``width`` channels itself (its layer has
    ``width`` outputs, not ``width - c_in``), and Fixup rescales a residual branch (its first
    layers by L^(-1/(2m-2)), its last to 0) but leaves a plain block at kaiming."""
    # zero_init_last zeroes residual branches only, by design.
    spec = dataclasses.replace(spec, zero_init_last=False)
    twin = spec.twin()  # where a pad (A) shortcut would have to shrink, with_skips uses B
    a, b = build_model(spec, seed=seed), build_model(twin, seed=seed)
    sr, sp = a.state_dict(), b.state_dict()
    checked = set()
    for (name, x), (_, y), c_in in zip(a.named_blocks(), b.named_blocks(), spec.in_widths()):
        res, plain = (x, y) if x.skip else (y, x)
        if x.skip == y.skip:
            continue  # the same block in both (plain in both): checked with the rest below
        if x.spec.kind == "dense":
            assert res.body.conv1.weight.shape[0] == x.spec.width - c_in
            assert plain.body.conv1.weight.shape[0] == x.spec.width
            checked |= {k for k in sr if k.startswith(f"{name}.body.conv1.")}
        elif spec.init == "fixup":
            layers_r, layers_p = res.weight_layers(), plain.weight_layers()
            L = (spec if spec.any_skip else twin).residual_branches  # of the residual one
            factor = L ** (-1.0 / (2 * len(layers_r) - 2)) \
                if len(layers_r) > 1 else 1.0
            for lr_, lp in zip(layers_r[:-1], layers_p[:-1]):
                torch.testing.assert_close(lr_.weight, lp.weight * factor, rtol=1e-6, atol=0)
            assert not layers_r[-1].weight.any() and layers_p[-1].weight.any()
            checked |= {f"{name}.body.{n}" for n, _ in res.body.named_parameters()
                        if n.split(".")[0] in {m for m, mod in res.body.named_children()
                                               if isinstance(mod, (nn.Conv2d, nn.Linear))}}
    for k in set(sr) & set(sp) - checked:
        assert torch.equal(sr[k], sp[k]), k


def test_same_seed_same_weights_different_seed_different():
    spec = _tiny_cnn("basic", shortcut="B")
    a, b, c = build_model(spec, seed=1), build_model(spec, seed=1), build_model(spec, seed=2)
    assert _same_state(a, b)
    for k, v in a.state_dict().items():
        if k.endswith("weight") and v.numel() > 1 and "norm" not in k:
            assert not torch.equal(v, c.state_dict()[k]), k
    # The global RNG is neither used nor disturbed.
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    build_model(spec, seed=5)
    assert torch.equal(torch.rand(3), before)
    x1, y1 = make_batch(spec, 4, seed=1)
    x2, y2 = make_batch(spec, 4, seed=1)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(make_batch(spec, 4, seed=2)[0], x1)


def test_adding_a_block_leaves_other_weights_unchanged():
    spec = _tiny_cnn("basic", shortcut="B")
    grown = dataclasses.replace(spec, stages=(spec.stages[0], spec.stages[1]
                                              + (BlockSpec("basic", 8),)))
    a, b = build_model(spec, seed=7), build_model(grown, seed=7)
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) < set(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    # Adding a block to the first stage (same width) leaves the later stages' blocks alone too.
    grown1 = dataclasses.replace(spec, stages=(spec.stages[0] + (BlockSpec("basic", 4),),
                                               spec.stages[1]))
    c = build_model(grown1, seed=7).state_dict()
    for k in sa:
        if k.startswith(("stem.", "stage1.", "stage2.", "head.")):
            assert torch.equal(sa[k], c[k]), k


# ---------------------------------------------------------------------------------------------
# Hook/Captum hygiene
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CNN_KINDS)
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_no_module_used_twice_and_nothing_in_place(kind, family):
    if family == "cnn":
        spec = _tiny_cnn(kind, shortcut="A", norm="batch")
    elif kind == "resnext":  # a grouped 3x3 convolution has no fully connected form
        with pytest.raises(SpecError, match="cnn family"):
            NetSpec(family="mlp", in_features=4, stem_width=4, classes=3, cardinality=2,
                    stages=((BlockSpec(kind, 4), BlockSpec(kind, 8, shortcut="B")),))
        return
    else:
        w = _WIDTHS.get(kind, (4, 4, 8, 8))
        skip = kind != "transition"
        spec = NetSpec(family="mlp", in_features=4, stem_width=4, classes=3, stages=(
            (BlockSpec(kind, w[0], skip=skip), BlockSpec(kind, w[2], shortcut="B", skip=skip)),))
    model = build_model(spec)
    seen: dict[int, str] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        assert id(m) not in seen, f"{name} is the same module as {seen[id(m)]}"
        seen[id(m)] = name
        assert not getattr(m, "inplace", False), name
    acts = [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.Sigmoid,
                                                                    nn.Tanh, nn.GELU))]
    # One module per call site: the stem's, 2 per basic/preact block (+1 in the preact and dense
    # heads), 3 per bottleneck / ResNeXt block (act1, act2 and the one after the add), 1 per dense
    # layer (its norm-act before the conv).
    # A transition: 1 (its norm-act before the 1x1).
    per_block = {"basic": 2, "preact": 2, "bottleneck": 3, "resnext": 3, "dense": 1, "transition": 1}[kind]
    assert len(acts) == 1 + per_block * spec.n_blocks + (kind in ("preact", "dense"))


def test_forward_does_not_modify_its_input():
    spec = _tiny_cnn("preact", shortcut="A")
    model = build_model(spec)
    x, _ = make_batch(spec, 2)
    x0 = x.clone()
    model(x)
    assert torch.equal(x, x0)


def test_build_model_dtype():
    spec = mlp(6, width=4, in_features=4, act="tanh")
    m = build_model(spec, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in m.parameters())
    x, _ = make_batch(spec, 2, dtype=torch.float64)
    assert m(x).dtype == torch.float64
    m32 = build_model(spec)
    for (k, a), b in zip(m32.state_dict().items(), m.state_dict().values()):
        assert torch.equal(a.double(), b), k
