"""The zoo's blocks and options (model/blocks.py): ResNeXt, dense layers, the combines of He et al.
2016 (constant scaling, exclusive and shortcut-only gating, dropout shortcut), stochastic depth
(DropPath) and Fixup.

For each: the shapes it makes, its twin, its gradient (``torch.autograd.gradcheck`` in float64),
Integrated Gradients' completeness on a tiny net, and the limits where it must reproduce a block we
already trust (a gate shut or wide open, a zero branch scale, evaluation mode), exactly. Then the
probe's split of a dense and a gated block's gradient against an independent autograd computation,
and the spec rules of the two new kinds.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients
from torch import nn
from torch.func import functional_call

from resnet_explain.model import build_model, make_batch
from resnet_explain.model.blocks import Block, DropPath, Gate, Pool
from resnet_explain.probe import probe
from resnet_explain.spec import BlockSpec, NetSpec, SpecError

pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting forward, backward hooks and attributes on non-linear:UserWarning")

F64 = torch.float64
NEW_COMBINES = ("scale", "gate", "sgate", "drop")


def _spec(kind="basic", combine="add", *, family="cnn", shortcut="A", norm="batch", act="relu",
          in_size=6, **globals_) -> NetSpec:
    """Stem 4, then a same-shape block and a widening one (stride 2 in the cnn family). Dense
    layers grow 4 -> 6 -> 10; ResNeXt's inner widths 2 and 4 are multiples of cardinality 2."""
    w = (6, 10) if kind == "dense" else (4, 8)
    s = 2 if family == "cnn" else 1
    kw = {"family": family, "norm": norm, "act": act, "in_channels": 2, "in_size": in_size,
          "in_features": 5, "stem_width": 4, "classes": 3, "cardinality": 2}
    kw.update(globals_)
    return NetSpec(stages=((BlockSpec(kind, w[0], 1, True, shortcut, combine),
                            BlockSpec(kind, w[1], s, True, shortcut, combine)),), **kw)


# Every new block or option once (the ids say which), some in both families and with projections.
OPTIONS = {
    "resnext-A": _spec("resnext"),
    "resnext-C-card1": _spec("resnext", shortcut="C", cardinality=1),
    "dense": _spec("dense"),
    "dense-mlp": _spec("dense", family="mlp"),
    **{f"{c}-{k}": _spec(k, c) for c in NEW_COMBINES for k in ("basic", "preact", "bottleneck")},
    **{f"{c}-C-mlp-nonorm": _spec("basic", c, family="mlp", shortcut="C", norm="none")
       for c in NEW_COMBINES},
    "gate-resnext-B": _spec("resnext", "gate", shortcut="B"),
    "droppath": _spec("basic", survival=0.5),
    "droppath-preact-gate": _spec("preact", "gate", survival=0.5, gate_bias=-1.0),
    "fixup": _spec("basic", norm="none", init="fixup"),
    "fixup-bottleneck-B": _spec("bottleneck", norm="none", init="fixup", shortcut="B"),
}
STOCHASTIC = {k for k, s in OPTIONS.items() if s.survival < 1 or any(b.combine == "drop" for b in s.blocks)}
ALL = pytest.mark.parametrize("name", list(OPTIONS))


def _side(side: int, stride: int) -> int:
    return (side - 1) // stride + 1  # a padded 3x3 (or 1x1) convolution's output side


# ---------------------------------------------------------------------------------------------
# Shapes and twins
# ---------------------------------------------------------------------------------------------
@ALL
def test_block_output_shapes(name):
    spec = OPTIONS[name]
    model = build_model(spec)
    shapes = {}
    for n, blk in model.named_blocks():
        blk.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
    x, _ = make_batch(spec, batch=3)
    for mode in (True, False):
        shapes.clear()
        out = model.train(mode)(x)
        assert out.shape == (3, spec.classes) and torch.isfinite(out).all()
        side = spec.in_size
        for n, b in spec.named_blocks():
            side = _side(side, b.stride)
            want = (3, b.width, side, side) if spec.family == "cnn" else (3, b.width)
            assert shapes[n] == want, (n, mode)


@ALL
def test_the_options_are_the_modules_built(name):
    spec = OPTIONS[name]
    model = build_model(spec)
    for (n, blk), c_in in zip(model.named_blocks(), spec.in_widths()):
        b = spec.block(n)
        assert (blk.gate is not None) == (b.combine in ("gate", "sgate")), n
        assert (blk.shortcut_dropout is not None) == (b.combine == "drop"), n
        assert (blk.drop_path is not None) == (spec.survival < 1 and b.kind != "dense"), n
        if blk.drop_path is not None:
            assert blk.drop_path.survival == spec.block_survival()[spec.blocks.index(b)]
        if isinstance(blk.gate, Gate):
            assert torch.all(blk.gate.proj.bias == spec.gate_bias)
        if b.kind == "resnext":
            assert blk.body.conv2.groups == spec.cardinality
            assert blk.body.conv2.in_channels == blk.body.conv2.out_channels == b.width // 2
        if b.kind == "dense":
            assert blk.combine is None
            assert blk.body.conv1.weight.shape[0] == b.width - c_in  # the new channels only
            assert isinstance(blk.shortcut, Pool if b.stride > 1 else nn.Identity)
        assert (blk.res_scale is not None) == (spec.init == "fixup"), n


@ALL
def test_twin_differs_only_in_skips_and_builds(name):
    spec = OPTIONS[name]
    twin = spec.twin()
    for f in fields(NetSpec):
        if f.name != "stages":
            assert getattr(twin, f.name) == getattr(spec, f.name), f.name
    assert [len(s) for s in twin.stages] == [len(s) for s in spec.stages]
    for b, t in zip(spec.blocks, twin.blocks):
        assert b.skip and not t.skip and replace(b, skip=False) == t
    assert twin.twin() == spec
    model = build_model(twin)
    x, _ = make_batch(twin, batch=2)
    assert torch.isfinite(model(x)).all()
    # Without a skip nothing is combined: no gate, no dropout, no dropped branch, no scalar.
    assert not any(isinstance(m, (Gate, DropPath, nn.Dropout, Pool)) for m in model.modules())
    assert all(blk.combine is None and blk.res_scale is None for _, blk in model.named_blocks())


# ---------------------------------------------------------------------------------------------
# Gradients: gradcheck in float64
# ---------------------------------------------------------------------------------------------
def _gradcheck_block(blk: Block, x: torch.Tensor, seed: int | None = None) -> None:
    """gradcheck of the block as a function of its input and all its parameters. ``seed``: the
    global generator is reseeded before every call, so a stochastic block draws the same masks."""
    names = [n for n, _ in blk.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in blk.parameters())

    def f(x, *ps):
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            return functional_call(blk, dict(zip(names, ps)), (x,))

    # In full with respect to the input; with respect to every parameter as well in gradcheck's
    # fast mode (a random projection of the Jacobian: hundreds of parameters stay quick).
    assert torch.autograd.gradcheck(lambda x: f(x, *params), (x.clone().requires_grad_(True),),
                                    eps=1e-6, atol=1e-5)
    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),) + params, eps=1e-6,
                                    atol=1e-5, fast_mode=True)


@ALL
def test_gradcheck(name):
    # Smooth activations (a kink of ReLU inside the finite difference would fail gradcheck for a
    # reason that is not the block's); the gates at bias 0 so both their paths carry gradient.
    spec = replace(OPTIONS[name], act="tanh", gate_bias=0.0, in_size=4)
    model = build_model(spec, seed=1, dtype=F64)
    if spec.init == "fixup":  # the last layers start at 0: give them weights, so all paths count
        g = torch.Generator().manual_seed(0)
        for _, blk in model.named_blocks():
            with torch.no_grad():
                blk.weight_layers()[-1].weight.copy_(torch.randn(blk.weight_layers()[-1].weight.shape,
                                                                 generator=g, dtype=F64))
    blk = model.stage1.block1  # the widening block: pad, projection or pooling, and a stride
    c_in = spec.in_widths()[1]
    x = torch.randn((2, c_in, 4, 4) if spec.family == "cnn" else (3, c_in), dtype=F64,
                    generator=torch.Generator().manual_seed(2))
    if name in STOCHASTIC:
        _gradcheck_block(blk.eval(), x.clone())  # evaluation: deterministic
        _gradcheck_block(blk.train(), x.clone(), seed=3)  # training, masks fixed by the seed
    else:
        _gradcheck_block(blk.train(), x.clone())  # BatchNorm with batch statistics
        _gradcheck_block(blk.eval(), x.clone())


# ---------------------------------------------------------------------------------------------
# Integrated Gradients: completeness on a tiny net
# ---------------------------------------------------------------------------------------------
@ALL
def test_integrated_gradients_completeness(name):
    spec = replace(OPTIONS[name], act="gelu", gate_bias=-1.0)
    model = build_model(spec, seed=0, dtype=F64).eval()
    if spec.init == "fixup":  # Fixup's classifier starts at 0 (f constant): give it weights
        with torch.no_grad():
            model.head.fc.weight.copy_(torch.randn(model.head.fc.weight.shape, dtype=F64,
                                                   generator=torch.Generator().manual_seed(0)))
    x, _ = make_batch(spec, batch=2, seed=1, dtype=F64)
    base = torch.zeros_like(x)
    attr, delta = IntegratedGradients(model).attribute(x, baselines=base, target=1, n_steps=64,
                                                       return_convergence_delta=True)
    with torch.no_grad():  # f(x) - f(baseline), computed here, not taken from Captum
        diff = model(x)[:, 1] - model(base)[:, 1]
    assert diff.abs().min() > 1e-4  # a function of its input: completeness is not 0 = 0
    gap = (attr.flatten(1).sum(1) - diff).abs()
    assert (gap <= 1e-4 * diff.abs()).all(), (gap / diff.abs()).tolist()
    assert (delta.abs() <= 1e-4 * diff.abs()).all()


# ---------------------------------------------------------------------------------------------
# Limits that reproduce a block we already trust, exactly
# ---------------------------------------------------------------------------------------------
def _set_gate_bias(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, Gate):
                m.proj.bias.fill_(value)


def _x(c: int, side: int = 6, seed: int = 0, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, c, side, side, dtype=F64, generator=torch.Generator().manual_seed(seed))


KINDS_SHORTCUTS = pytest.mark.parametrize("kind,shortcut", [
    (k, sc) for k in ("basic", "preact", "bottleneck", "resnext") for sc in ("A", "B", "C")])


@KINDS_SHORTCUTS
def test_exclusive_gate_shut_is_the_shortcut(kind, shortcut):
    """Bias -1e4: g = sigmoid(-1e4 + ...) is exactly 0 in float64, so the block is act(S(x))."""
    model = build_model(_spec(kind, "gate", shortcut=shortcut), dtype=F64)
    _set_gate_bias(model, -1e4)
    for (n, blk), c_in in zip(model.named_blocks(), model.spec.in_widths()):
        x = _x(c_in)
        for mode in (True, False):
            blk.train(mode)
            out = blk(x)
            assert torch.equal(out, blk.out_act(blk.shortcut(x))), (n, mode)
            if kind == "preact" and isinstance(blk.shortcut, nn.Identity):
                assert torch.equal(out, x)  # a pre-activation block with a clean identity


@KINDS_SHORTCUTS
def test_exclusive_gate_open_is_the_plain_block(kind, shortcut):
    """Bias +1e4: g is exactly 1, so the block is act(F(x)): its plain twin (same body weights)."""
    spec = _spec(kind, "gate", shortcut=shortcut)
    model, plain = build_model(spec, dtype=F64), build_model(spec.with_skips(False), dtype=F64)
    _set_gate_bias(model, 1e4)
    x, _ = make_batch(spec, batch=2, dtype=F64)
    for mode in (False, True):
        assert torch.equal(model.train(mode)(x), plain.train(mode)(x)), mode


@KINDS_SHORTCUTS
def test_shortcut_only_gate_shut_is_add_and_open_is_plain(kind, shortcut):
    spec = _spec(kind, "sgate", shortcut=shortcut)
    add_spec = spec.map_blocks(lambda b: replace(b, combine="add"))
    sm, sa = build_model(spec).state_dict(), build_model(add_spec).state_dict()
    assert set(sa) < set(sm) and all(torch.equal(sa[k], sm[k]) for k in sa)  # the gates apart
    x, _ = make_batch(spec, batch=2, dtype=F64)
    # (1 - 0) S(x) + F(x) is the add block; (1 - 1) S(x) + F(x) the plain one. Fresh models for
    # each limit, so their BatchNorm running statistics start alike.
    for bias, other in ((-1e4, add_spec), (1e4, spec.with_skips(False))):
        model, same = build_model(spec, dtype=F64), build_model(other, dtype=F64)
        _set_gate_bias(model, bias)
        for mode in (False, True):  # evaluation first: training moves the running statistics
            assert torch.equal(model.train(mode)(x), same.train(mode)(x)), (bias, mode)


@KINDS_SHORTCUTS
def test_res_scale_zero_is_act_of_the_shortcut(kind, shortcut):
    model = build_model(_spec(kind, shortcut=shortcut, res_scale=0.0), dtype=F64)
    for (n, blk), c_in in zip(model.named_blocks(), model.spec.in_widths()):
        x = _x(c_in)
        for mode in (True, False):
            blk.train(mode)
            assert torch.equal(blk(x), blk.out_act(blk.shortcut(x))), (n, mode)


def test_drop_path_in_eval_and_at_survival_one_is_identity():
    x = _x(4)
    assert DropPath(0.3).eval()(x) is x
    assert DropPath(1.0).train()(x) is x
    # In training each example's branch is kept whole (scaled by 1/p) or dropped whole.
    dp = DropPath(0.5).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)
        out = dp(_x(4, batch=64))
    ref = _x(4, batch=64)
    kept = [torch.equal(o, 2 * r) for o, r in zip(out, ref)]
    dropped = [not o.any() for o in out]
    assert all(k != d for k, d in zip(kept, dropped)) and 10 < sum(kept) < 54
    # Survival 1 builds no DropPath at all; blocks of a survival < 1 net in eval are those blocks.
    spec = _spec("basic", survival=0.5)
    assert all(blk.drop_path is None for _, blk in build_model(replace(spec, survival=1.0)).named_blocks())
    x, _ = make_batch(spec, batch=2, dtype=F64)
    a, b = build_model(spec, dtype=F64).eval(), build_model(replace(spec, survival=1.0), dtype=F64).eval()
    assert torch.equal(a(x), b(x))


def _reference_stochastic_depth(x: torch.Tensor, survival: float) -> torch.Tensor:
    """torchvision's ``ops.stochastic_depth(x, p=1 - survival, mode="row")`` when it imports here
    (on this host it may not: "operator torchvision::nms does not exist"); else the same rule
    written from Huang et al. 2016 (arXiv 1603.09382, sec. 3): each example's branch survives with
    probability p_l, and a survivor is scaled by 1/p_l so that its expectation is the branch."""
    try:
        from torchvision.ops import stochastic_depth
    except Exception:  # noqa: BLE001 - a broken torchvision install raises RuntimeError on import
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype).bernoulli_(survival)
        return x * (keep / survival)
    return stochastic_depth(x, 1.0 - survival, "row", training=True)


@pytest.mark.parametrize("survival", [0.5, 0.9])
def test_drop_path_matches_an_independent_implementation(survival):
    """Issue 27 ("stochastic depth looks broken"): the same draws give the same output as the
    reference; over many draws the kept share is p and the mean is the branch (the 1/p scaling)."""
    x = _x(4, batch=256).double()
    dp = DropPath(survival).train()
    for seed in range(3):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ours = dp(x)
            torch.manual_seed(seed)
            ref = _reference_stochastic_depth(x, survival)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        draws = torch.stack([dp(x) for _ in range(400)])
    kept = (draws.flatten(2).abs().sum(-1) > 0).double().mean()
    assert abs(float(kept) - survival) < 0.01
    factor = draws.flatten(2).sum(-1) / x.flatten(1).sum(-1)  # each draw's factor per example: 0 or 1/p
    assert set(torch.unique(factor.round(decimals=9)).tolist()) <= {0.0, round(1 / survival, 9)}
    assert abs(float(factor.mean()) - 1.0) < 0.01  # unbiased: E[keep / p] = 1 (std here ~0.003)


def test_a_dropped_branch_still_updates_its_batchnorm_like_a_kept_one():
    """Row-mode drop (ours, torchvision's) drops the branch's output, not its computation: the
    branch's BatchNorm sees every example, so its running statistics are those of the same block
    without stochastic depth (Huang et al.'s per-mini-batch drop skips the branch instead)."""
    spec = _spec("basic", survival=0.5)
    a, b = build_model(spec, dtype=F64).train(), build_model(replace(spec, survival=1.0), dtype=F64).train()
    x, _ = make_batch(spec, batch=8, dtype=F64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        a(x)
    b(x)
    (_, ba), (_, bb) = next(iter(a.named_blocks())), next(iter(b.named_blocks()))
    for ma, mb in zip(ba.body, bb.body):
        if isinstance(ma, nn.BatchNorm2d):
            assert torch.equal(ma.running_mean, mb.running_mean) and torch.equal(ma.running_var, mb.running_var)


def test_stochastic_depth_survival_decays_linearly():
    # Huang et al. 2016 eq. 4: p_l = 1 - (l / L)(1 - p_L) over the L residual blocks; the last
    # residual block at p_L; plain and dense blocks never dropped (and not counted in L).
    spec = NetSpec(family="cnn", survival=0.5, in_size=4, stem_width=4, stages=(
        tuple(BlockSpec("basic", 4) for _ in range(3)) + (BlockSpec("basic", 4, skip=False),
                                                          BlockSpec("dense", 6)),))
    assert spec.block_survival() == [1 - 1 / 3 * 0.5, 1 - 2 / 3 * 0.5, 0.5, 1.0, 1.0]
    assert build_model(spec).stage1.block4.drop_path is None
    model = build_model(spec)
    assert [blk.drop_path.survival if blk.drop_path else 1.0
            for _, blk in model.named_blocks()] == spec.block_survival()
    assert model.stage1.block3.drop_path is None  # a plain block is never dropped


@pytest.mark.parametrize("kind", ["basic", "preact", "bottleneck"])
def test_dropout_shortcut_in_eval_is_add_and_in_training_drops_the_shortcut(kind):
    spec = _spec(kind, "drop", shortcut="B")
    model = build_model(spec, dtype=F64)
    add = build_model(spec.map_blocks(lambda b: replace(b, combine="add")), dtype=F64)
    x, _ = make_batch(spec, batch=2, dtype=F64)
    assert torch.equal(model.eval()(x), add.eval()(x))
    # Training: each element of S(x) is dropped (0) or kept and doubled (2 S(x)), F(x) untouched.
    blk = model.stage1.block0.eval()  # identity shortcut (4 -> 4); BatchNorm in evaluation
    blk.shortcut_dropout.train()
    xb = _x(4, side=8)
    s, body = blk.shortcut(xb), blk.body(xb)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # not x's seed: the same stream would make mask and x correlate
        got = blk(xb)
    act = type(blk.out_act)()
    dropped, kept = got == act(body), got == act(body + 2 * s)  # exact: 2 s is s / (1 - 0.5)
    assert (dropped | kept).all()
    told = act(body) != act(body + 2 * s)  # where the two can be told apart
    assert told.sum() > 100
    assert 0.3 < kept[told].double().mean() < 0.7  # p = 0.5


def _fixup_spec(init: str) -> NetSpec:
    return NetSpec(family="cnn", norm="none", init=init, in_channels=2, in_size=6, stem_width=4,
                   classes=3, stages=(
                       (BlockSpec("basic", 4), BlockSpec("basic", 4, skip=False),
                        BlockSpec("preact", 4, combine="gate")),
                       (BlockSpec("bottleneck", 8, 2, shortcut="B"), BlockSpec("dense", 12))))


def test_fixup_rules_against_kaiming_of_the_same_seed():
    spec = _fixup_spec("fixup")
    fix, kai = build_model(spec, seed=5), build_model(_fixup_spec("kaiming"), seed=5)
    L = spec.residual_branches
    assert L == 3  # basic, preact, bottleneck; the plain block and the dense layer add no branch
    sf, sk = fix.state_dict(), kai.state_dict()
    done = set()
    for (n, bf), (_, bk) in zip(fix.named_blocks(), kai.named_blocks()):
        if bf.combine is None:  # plain or dense: untouched, and no multiplier
            assert bf.res_scale is None
            continue
        assert isinstance(bf.res_scale, nn.Parameter) and bf.res_scale.item() == 1.0  # rule 3
        lf, lk = bf.weight_layers(), bk.weight_layers()
        m = len(lf)
        for a, b in zip(lf[:-1], lk[:-1]):  # rule 2: scaled by L^(-1/(2m-2))
            torch.testing.assert_close(a.weight, b.weight * L ** (-1.0 / (2 * m - 2)), rtol=1e-6, atol=0)
        assert not lf[-1].weight.any() and lk[-1].weight.any()  # rule 2: the last layer at 0
        names = {id(p): k for k, p in fix.named_parameters()}
        done |= {names[id(layer.weight)] for layer in lf} | {f"{n}.res_scale"}
    assert not sf["head.fc.weight"].any() and not sf["head.fc.bias"].any()  # rule 1
    assert sk["head.fc.weight"].any()
    done |= {"head.fc.weight", "head.fc.bias"}
    assert set(sf) - set(sk) == {k for k in done if k.endswith("res_scale")}
    for k in set(sk) - done:  # stem, plain block, dense layer, projections, gate: as kaiming
        assert torch.equal(sf[k], sk[k]), k
    x, _ = make_batch(spec, batch=2)
    assert not fix(x).any()  # the classifier at 0: every logit 0 at step 0


# ---------------------------------------------------------------------------------------------
# The probe's split against independent autograd
# ---------------------------------------------------------------------------------------------
def _output_grads(model: nn.Module, x, y) -> dict[str, torch.Tensor]:
    """dL/d(output of each block), by autograd alone (no probe)."""
    outs = {}
    hs = [blk.register_forward_hook(lambda m, i, o, n=n: outs.__setitem__(n, o))
          for n, blk in model.named_blocks()]
    try:
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, list(outs.values()))
    finally:
        for h in hs:
            h.remove()
    return dict(zip(outs, grads))


def test_dense_identity_norm_is_the_input_slice_of_the_output_gradient():
    # Stride 1 everywhere but one layer; an odd side (7) so the strided layer pools with ceil_mode.
    spec = NetSpec(family="cnn", in_channels=2, in_size=7, stem_width=4, classes=3, stages=(
        (BlockSpec("dense", 6), BlockSpec("dense", 9)), (BlockSpec("dense", 12, 2), BlockSpec("dense", 14))))
    model = build_model(spec, dtype=F64).eval()
    x, y = make_batch(spec, batch=3, dtype=F64)
    rows = probe(model, x, y, train=False).blocks.set_index("block")
    grads = _output_grads(model, x, y)
    for (n, b), c_in in zip(spec.named_blocks(), spec.in_widths()):
        g_in = grads[n][:, :c_in]  # the concatenation hands these channels straight to x
        if b.stride == 1:
            assert rows.loc[n, "identity_norm"] == torch.linalg.vector_norm(g_in).item(), n
        else:  # the shortcut pools: its input gets the pooling's adjoint of that slice
            side = 7  # the strided layer's input side
            z = torch.zeros(3, c_in, side, side, dtype=F64, requires_grad=True)
            (back,) = torch.autograd.grad(F.avg_pool2d(z, 2, ceil_mode=True), z, g_in)
            assert back.shape == z.shape
            assert rows.loc[n, "identity_norm"] == pytest.approx(torch.linalg.vector_norm(back).item(), rel=1e-12)
        assert math.isnan(rows.loc[n, "gate_norm"])


@pytest.mark.parametrize("combine", ["gate", "sgate"])
@pytest.mark.parametrize("kind,shortcut", [("basic", "A"), ("preact", "C"), ("bottleneck", "C")])
def test_gated_block_identity_residual_gate_decomposition(combine, kind, shortcut):
    """On a one-block model: the carry path S(x), the transform path F(x) and the gate g(x) each
    get their own copy of x; their gradients (what the probe reports as identity_norm,
    residual_norm and gate_norm) add up to dL/dx."""
    spec = NetSpec(family="cnn", act="tanh", gate_bias=0.0, in_channels=2, in_size=5, stem_width=4,
                   classes=3, stages=((BlockSpec(kind, 4, 1, True, shortcut, combine),),))
    model = build_model(spec, seed=2, dtype=F64).eval()
    x, y = make_batch(spec, batch=3, dtype=F64)
    row = probe(model, x, y, train=False).blocks.iloc[0]
    blk = model.stage1.block0
    h = model.stem(x).detach()
    xs, xf, xg, xt = (h.clone().requires_grad_(True) for _ in range(4))
    s, f, g = blk.shortcut(xs), blk.body(xf), blk.gate(xg)
    mix = g * f + (1 - g) * s if combine == "gate" else f + (1 - g) * s
    loss = F.cross_entropy(model.head(blk.out_act(mix)), y)
    d_s, d_f, d_g = torch.autograd.grad(loss, (xs, xf, xg))
    (d_total,) = torch.autograd.grad(F.cross_entropy(model.head(blk(xt)), y), xt)
    torch.testing.assert_close(d_s + d_f + d_g, d_total, rtol=1e-12, atol=1e-15)
    for col, d in (("identity_norm", d_s), ("residual_norm", d_f), ("gate_norm", d_g)):
        assert row[col] == pytest.approx(torch.linalg.vector_norm(d).item(), rel=1e-12), col
    assert row["gate_norm"] > 0


# ---------------------------------------------------------------------------------------------
# The spec rules of the new kinds
# ---------------------------------------------------------------------------------------------
def test_dense_and_resnext_spec_rules():
    ok = {"family": "cnn", "in_size": 4, "stem_width": 4, "cardinality": 2}
    NetSpec(stages=((BlockSpec("dense", 5), BlockSpec("resnext", 8)),), **ok)  # valid
    with pytest.raises(SpecError) as e:  # a dense layer must add channels (its twin, too)
        NetSpec(stages=((BlockSpec("dense", 4),),), **ok)
    assert e.value.field == "stage1.block0.width"
    with pytest.raises(SpecError):
        NetSpec(stages=((BlockSpec("dense", 4, skip=False),),), **ok)
    with pytest.raises(SpecError) as e:  # a dense layer concatenates: no other combine
        NetSpec(stages=((BlockSpec("dense", 6, combine="gate"),),), **ok)
    assert e.value.field == "stage1.block0.combine"
    with pytest.raises(SpecError) as e:  # inner width 3 is not a multiple of 2 groups
        NetSpec(stages=((BlockSpec("resnext", 6),),), **ok)
    assert e.value.field == "stage1.block0.width"
    with pytest.raises(SpecError):  # inner width 1 < 2 groups
        NetSpec(stages=((BlockSpec("resnext", 2),),), **ok)
    with pytest.raises(SpecError) as e:  # grouped 3x3: convolutional only
        NetSpec(stages=((BlockSpec("resnext", 4),),), **{**ok, "family": "mlp"})
    assert e.value.field == "stage1.block0.kind"
    with pytest.raises(SpecError):
        NetSpec(stages=((BlockSpec("basic", 4, combine="mean"),),), **ok)


def test_a_transition_is_norm_act_1x1_then_pooling_never_a_skip_and_gradchecks():
    # Huang et al. 2017 sec. 3: "a batch normalization layer and an 1x1 convolutional layer
    # followed by a 2x2 average pooling layer"; no shortcut, so the twin leaves it as it is.
    spec = NetSpec(family="cnn", in_size=6, stem_width=4, classes=3, stages=(
        (BlockSpec("dense", 6),), (BlockSpec("transition", 6, 2, skip=False), BlockSpec("dense", 8))))
    model = build_model(spec, dtype=F64).eval()
    t = model.stage2.block0
    assert t.shortcut is None and [n for n, _ in t.body.named_children()] == ["norm1", "act1", "conv1", "pool"]
    x = torch.randn(2, 6, 6, 6, dtype=F64)
    ref = F.avg_pool2d(t.body.conv1(t.body.act1(t.body.norm1(x))), 2, ceil_mode=True)
    assert torch.equal(t(x), ref) and t(x).shape == (2, 6, 3, 3)
    assert [b.skip for b in spec.twin().blocks] == [False, False, False]
    assert [b.skip for b in spec.twin().twin().blocks] == [True, False, True]
    with pytest.raises(SpecError, match="no skip"):
        spec.set_block("stage2.block0", skip=True)
    assert spec.set_block("stage1.block0", kind="transition").blocks[0].skip is False  # turned off
    xs = torch.randn(2, 3, 6, 6, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: model(v), (xs,))


def test_stochastic_depth_sentence_says_what_its_runs_show():
    """Issue 27: the Architectures page's sentence on stochastic depth claims a catch-up only where
    the stored runs (scripts/measure_stochastic_depth.py) show one, at the epochs they show it."""
    from resnet_explain.content import architectures as words

    runs = words.STOCHASTIC_RUNS
    ep = words.caught_up()
    assert ep is not None and runs[ep][0] - runs[ep][2] <= 0.01
    assert all(runs[e][0] - runs[e][2] > 0.01 for e in runs if e < ep)  # slower before it
    s = words.stochastic_sentence(0.757)
    assert f"catches up by {ep} epochs" in s and f"{100 * runs[ep][1]:.1f} % against {100 * runs[ep][3]:.1f} %" in s
    assert "(75.7 % training error in the table)" in s
    slow = {8: (0.8, 0.8, 0.1, 0.2), 16: (0.3, 0.4, 0.0, 0.1)}
    assert words.caught_up(slow) is None
    table = pd.DataFrame({"variant": ["stochastic"], "label": ["sd"], "ratio": [2.0], "log10_ratio": [0.3],
                          "twin_ratio": [float("nan")], "log10_twin_ratio": [float("nan")],
                          "train_error": [0.757], "ratio_note": [""]})
    assert any(t.startswith("Stochastic depth starts slowly") for t in words.sentences(table))
