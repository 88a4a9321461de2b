"""Adding a block kind or a combine is one entry in one file (resnet_explain/spec/kinds.py).

A toy kind and a toy combine are registered here, inside the test, and then built, validated,
costed (parameters exact, FLOPs equal to FlopCounterMode's, activations in test_cost's bounds),
written to and read from the URL, drawn, described and twinned: no other module knows them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from resnet_explain.charts.diagram import to_dot
from resnet_explain.experiments.theory import sigmoid_bound_from_last
from resnet_explain.model import build_model, make_batch
from resnet_explain.spec import (
    BLOCK_KINDS,
    COMBINES,
    BlockSpec,
    Combine,
    Kind,
    NetSpec,
    SpecError,
    estimate_cost,
    register_combine,
    register_kind,
)
from resnet_explain.spec.grammar import decode_stages
from resnet_explain.spec.kinds import acts_crossed, describe_block

try:  # tests/ is a package; fall back to rootdir-style imports without it
    from tests.unit.test_cost import _check
except ImportError:  # pragma: no cover
    from test_cost import _check

TOY, HALF = "toy", "half"


def _toy_body(m, b, c_in):
    """1x1 to width, norm, act, then a 3x3 at the block's stride and a norm; act after the join."""
    w = b.width
    return [("conv1", m.layer(c_in, w, 1, 1)), ("norm1", m.norm(w)), ("act1", m.act(w)),
            ("conv2", m.layer(w, w, 3, b.stride)), ("norm2", m.norm(w))], m.act(w)


def _toy_check(spec, name, b, c_in):
    if b.width % 2:
        raise SpecError(f"{name}.width", "a toy block needs an even width")


@pytest.fixture
def toy():
    """The toy kind (code z) and the toy combine (code h) in the registry for one test."""
    register_kind(Kind(TOY, "z", "toy: 1x1 then 3x3, activation after the add", "toy, plain: 1x1 then 3x3",
                       2, 2, "add", _toy_body, _toy_check))
    register_combine(Combine(HALF, "h", "half shortcut: 0.5·S(x) + F(x)", "×0.5 shortcut",
                             lambda s, f, g: f + 0.5 * s, 1, join_label="F + ½·S"))
    try:
        yield
    finally:
        BLOCK_KINDS.pop(TOY, None)
        COMBINES.pop(HALF, None)


def _spec(family="cnn", skip=True, shortcut="A", combine=HALF, **kw) -> NetSpec:
    s = 2 if family == "cnn" else 1
    blocks = ((BlockSpec(TOY, 4, 1, skip, shortcut, combine),),
              (BlockSpec(TOY, 8, s, skip, shortcut, combine), BlockSpec("basic", 8, 1, skip, shortcut)),
              (BlockSpec(TOY, 12, s, skip, shortcut, "add"),))
    return NetSpec(family=family, in_channels=2, in_size=7, in_features=5, stem_width=4, classes=3,
                   stages=blocks, **kw)


@pytest.mark.parametrize("family", ["cnn", "mlp"])
@pytest.mark.parametrize("skip,shortcut", [(True, "A"), (True, "B"), (True, "C"), (False, "A")])
def test_toy_kind_builds_and_costs_exactly(toy, family, skip, shortcut):
    spec = _spec(family, skip, shortcut)
    _check(spec)  # params exact, FLOPs == FlopCounterMode, activations within test_cost's bounds
    _check(replace(spec, norm="none", res_scale=0.5, survival=0.5))
    model = build_model(spec)
    x, _ = make_batch(spec, batch=3)
    assert model(x).shape == (3, 3)
    blk = model.stage2.block0
    assert [n for n, _ in blk.body.named_children()] == ["conv1", "norm1", "act1", "conv2", "norm2"]
    assert blk.combine == (HALF if skip else None)


def test_toy_combine_is_the_rule(toy):
    spec = _spec(norm="none")
    blk = build_model(spec).eval().stage1.block0
    x = torch.randn(2, 4, 7, 7)
    want = blk.out_act(blk.body(x) + 0.5 * blk.shortcut(x))
    assert torch.equal(blk(x), want)


def test_toy_kind_validates_by_its_own_check(toy):
    with pytest.raises(SpecError) as e:
        NetSpec(stages=((BlockSpec(TOY, 5),),))
    assert e.value.field == "stage1.block0.width" and "even width" in str(e.value)
    with pytest.raises(SpecError) as e:  # the generic rules still apply: pad cannot shrink
        NetSpec(stem_width=16, stages=((BlockSpec(TOY, 8),),))
    assert e.value.field == "stage1.block0.shortcut"
    with pytest.raises(SpecError):
        NetSpec(stages=((BlockSpec("dense", 32, combine=HALF),),))  # a dense block has no combine


def test_toy_kind_round_trips_through_the_url(toy):
    spec = _spec(shortcut="B")
    q = spec.to_query()
    assert "z8/2:B@h" in q and "z12/2:B" in q
    assert NetSpec.from_query(q) == spec
    assert decode_stages("z6!*2") == ((BlockSpec(TOY, 6, skip=False),) * 2,)
    twin = spec.twin()
    assert NetSpec.from_query(twin.to_query()) == twin


def test_toy_kind_is_drawn_and_described(toy):
    dot = to_dot(_spec())
    assert "block0: toy 4" in dot and "F + ½·S" in dot and "zero-pad" in dot
    assert "toy 12, stride 2  (no skip)" in to_dot(_spec().twin())
    assert describe_block(TOY, True) == "toy: 1x1 then 3x3, activation after the add, with a skip."
    assert describe_block(TOY, False) == "toy, plain: 1x1 then 3x3; no skip (a plain block, no shortcut)."


def test_toy_kind_has_a_twin_with_the_same_body_weights(toy):
    spec = _spec()
    twin = spec.twin()
    assert twin.n_skips == 0 and twin.twin() == spec
    a, b = build_model(spec, seed=3), build_model(twin, seed=3)
    for name in ("stage1.block0", "stage2.block0", "stage3.block0"):
        ba, bb = a.get_submodule(name).body, b.get_submodule(name).body
        assert all(torch.equal(p, q) for p, q in zip(ba.parameters(), bb.parameters()))


def test_toy_kind_counts_in_depth_and_theory(toy):
    spec = _spec()
    assert spec.depth == 2 + 2 * 4
    assert acts_crossed(TOY) == 2 and acts_crossed("SomeTorchvisionBlock") == 2
    import pandas as pd

    blocks = pd.DataFrame({"block": ["a", "b"], "position": [0, 1], "kind": [TOY, "dense"],
                           "log10_grad_norm": [0.0, 0.0]})
    assert list(sigmoid_bound_from_last(blocks)["n_sigmoid_layers"]) == [1, 0]


class _Tally:
    """A maker factory that counts weighted layers and activations (the recipe's own count)."""

    cardinality = 2
    pre_norm, post_norm = True, True  # a Transformer sublayer's recipe reads these

    def __init__(self):
        self.layers = self.acts = 0

    def layer(self, *a, **k):
        self.layers += 1
        return "layer"

    def norm(self, width):
        return "norm"

    def act(self, width):
        self.acts += 1
        return "act"

    def pool(self, stride, width):
        return "pool"

    def attend(self, width):  # attention's softmax: the activation a gradient crosses
        self.acts += 1
        return "attend"


def test_every_kind_says_its_layers_and_activations_as_its_recipe_makes_them(toy):
    for kind in BLOCK_KINDS.values():
        for skip in (False, True) if kind.can_skip else (False,):
            t = _Tally()
            kind.body(t, BlockSpec(kind.name, 16, 2, skip), 8)
            assert (t.layers, t.acts) == (kind.layers, kind.acts), kind.name


def test_names_and_codes_must_be_new(toy):
    with pytest.raises(ValueError):
        register_kind(replace(BLOCK_KINDS["basic"], name="other"))  # code b is taken
    with pytest.raises(ValueError):
        register_kind(replace(BLOCK_KINDS["basic"], name="other", code="p"))  # the old plain code
    with pytest.raises(ValueError):
        register_combine(replace(COMBINES["scale"], name="other"))


def test_the_toy_is_gone_afterwards():
    # Runs after the tests above (file order): the fixture took both entries out again.
    assert TOY not in BLOCK_KINDS and HALF not in COMBINES
    with pytest.raises(SpecError):
        NetSpec.from_query("net=z8")
    with pytest.raises(SpecError):
        NetSpec.from_query("net=b8@h")
    with pytest.raises(SpecError):
        estimate_cost(NetSpec(stages=((BlockSpec(TOY, 8),),)))
