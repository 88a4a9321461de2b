"""spec/zoo.py: every variant builds at the CIFAR depths, costs what its model has, has a valid
twin, cites a published row that exists, and changes only its own idea against the ResNet row;
training a zoo network that draws random numbers (stochastic depth, dropout shortcut) is
reproducible for a seed, alone (train/trainer.py) and with several seeds (train/many.py)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest
import torch

from resnet_explain.content.papers import HE16_TABLE1
from resnet_explain.data import shapes_train_test
from resnet_explain.model import build_model, make_batch
from resnet_explain.model.blocks import DropPath
from resnet_explain.spec import NetSpec, SpecError, estimate_cost
from resnet_explain.spec.zoo import (
    CARDINALITY,
    DEFAULT_VARIANTS,
    GROWTH,
    SURVIVAL,
    VARIANTS,
    WIDE_FACTOR,
    highway_gate_bias,
    variant,
)
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.many import draws_random_numbers, train_seeds
from resnet_explain.train.trainer import train


@pytest.mark.parametrize("depth", [8, 20])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_builds_costs_what_it_has_and_has_a_valid_twin(name, depth):
    spec = variant(name, depth)
    n = (depth - 2) // 6
    assert isinstance(spec, NetSpec) and spec.family == "cnn" and len(spec.stages) == 3
    # n blocks a stage, so 6n + 2 layers; a ResNeXt block has 3; a DenseNet row has 2n one-layer
    # dense layers a stage and a transition between stages (6n + 4 layers, their L = 40 at n = 6).
    assert spec.n_blocks == (6 * n + 2 if name == "dense" else 3 * n)
    assert spec.depth == {"resnext": 9 * n + 2, "dense": depth + 2}.get(name, depth)
    for s in (spec, spec.twin()):  # the twin is validated when it is made, and builds too
        model = build_model(s)
        assert estimate_cost(s).params == sum(p.numel() for p in model.parameters())
        x, _ = make_batch(s, batch=2)
        with torch.no_grad():
            out = model.eval()(x)
        assert out.shape == (2, s.classes) and torch.isfinite(out).all()
    assert spec.any_skip and not spec.twin().any_skip


def test_names_labels_and_published_rows():
    assert list(VARIANTS) == [v.name for v in VARIANTS.values()]
    assert len({v.label for v in VARIANTS.values()}) == len(VARIANTS)
    assert set(DEFAULT_VARIANTS) <= set(VARIANTS) and len(set(DEFAULT_VARIANTS)) == len(DEFAULT_VARIANTS)
    rows = {p.label for p in HE16_TABLE1}
    published = [v.published for v in VARIANTS.values() if v.published is not None]
    assert published and set(published) <= rows
    for v in VARIANTS.values():
        assert v.idea and v.cite and ("arXiv" in v.cite or "He et al. 2016" in v.cite), v.name


def test_variant_refuses_unknown_names_and_depths():
    with pytest.raises(SpecError) as e:
        variant("resnet-50", 20)
    assert e.value.field == "variant"
    for depth in (6, 21):
        with pytest.raises(SpecError) as e:
            variant("dense", depth)
        assert e.value.field == "depth"


def test_highway_gate_bias_follows_srivastavas_guideline():
    # Srivastava et al. 2015 sec. 2.2: -1, -2 and -3 for depths of about 10, 20 and 30.
    assert (highway_gate_bias(10), highway_gate_bias(20), highway_gate_bias(30)) == (-1.0, -2.0, -3.0)
    for depth in (8, 14, 20, 32, 44, 56, 110):  # the CIFAR depths: the nearest of 10, 20, 30
        nearest = min((10, 20, 30), key=lambda d: abs(d - depth))
        assert highway_gate_bias(depth) == -nearest / 10, depth
        spec = variant("highway", depth)
        assert spec.gate_bias == highway_gate_bias(depth)
        assert all(b.kind == "preact" and b.combine == "gate" for b in spec.blocks)


def test_each_variant_changes_its_own_idea():
    d = 14
    base = variant("resnet", d)

    def only(spec, **globals_):  # the same blocks as the ResNet row, the globals given changed
        return spec == replace(base, **globals_)

    assert only(variant("stochastic", d), survival=SURVIVAL)
    assert only(variant("skipinit", d), norm="none", res_scale=0.0)
    assert only(variant("fixup", d), norm="none", init="fixup")
    assert variant("preact", d) == base.map_blocks(lambda b: replace(b, kind="preact"))
    assert variant("conv", d) == base.map_blocks(lambda b: replace(b, shortcut="C"))
    for c in ("scale", "drop"):
        assert variant(c, d) == base.map_blocks(lambda b, c=c: replace(b, combine=c))
    for c in ("gate", "sgate"):  # He et al. 2016's best gate bias, -6
        assert variant(c, d) == replace(base, gate_bias=-6.0).map_blocks(lambda b, c=c: replace(b, combine=c))
    wide = variant("wide", d)
    assert [b.width for b in wide.blocks] == [WIDE_FACTOR * b.width for b in base.blocks]
    assert wide.stem_width == base.stem_width
    rx = variant("resnext", d)
    assert rx.cardinality == CARDINALITY and {b.kind for b in rx.blocks} == {"resnext"}
    assert [b.width for b in rx.blocks][:: (d - 2) // 6] == [64, 128, 256]
    dense = variant("dense", d)
    layers = [b for b in dense.blocks if b.kind == "dense"]
    widths = [dense.stem_width] + [b.width for b in layers]
    assert {b - a for a, b in pairwise(widths)} == {GROWTH}
    assert len(layers) == 2 * base.n_blocks and all(b.stride == 1 for b in layers)  # 2n layers a stage
    # transitions between the dense blocks: keep the channels (no compression), pool by 2, no skip
    assert [(b.kind, b.stride, b.skip) for s in dense.stages[1:] for b in s[:1]] == [("transition", 2, False)] * 2
    assert all(s[0].width == p[-1].width for p, s in pairwise(dense.stages))
    assert variant("dense", 38).depth == 40  # Huang et al.'s L = 40 (k = 12) layer count


# ---------------------------------------------------------------------------------------------
# Training a zoo network that draws random numbers
# ---------------------------------------------------------------------------------------------
def _random_zoo_spec() -> NetSpec:
    """The stochastic-depth variant at depth 8 with a dropout shortcut too, narrowed to 8x8."""
    spec = variant("stochastic", 8).map_blocks(lambda b: replace(b, combine="drop"))
    return replace(spec, in_size=8)


CFG = TrainConfig(epochs=1, batch_size=4, lr=0.05, device="cpu", amp="off", channels_last="off")


def _weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_with_stochastic_depth_and_dropout_is_deterministic_for_a_seed():
    spec = _random_zoo_spec()
    assert draws_random_numbers(spec)
    tr, _ = shapes_train_test(8, 4, seed=0, size=8, difficulty=0.0)  # two SGD steps of 4
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = train(spec, tr, None, CFG)
    assert torch.equal(torch.rand(3), before)  # the caller's generator is left alone
    torch.manual_seed(999)  # whatever the global generator holds, the run is the same
    b = train(spec, tr, None, CFG)
    c = train(spec, tr, None, replace(CFG, seed=1))
    assert a.meta["steps"] == 2 and a.history["train_loss"].notna().all()
    assert a.history["train_loss"].tolist() == b.history["train_loss"].tolist()
    wa, wb = _weights(a.model), _weights(b.model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], v) for k, v in _weights(c.model).items())
    # The random numbers are really drawn: without them the same seed learns something else.
    calm = train(replace(spec, survival=1.0).map_blocks(lambda b: replace(b, combine="add")), tr, None, CFG)
    assert calm.history["train_loss"].tolist() != a.history["train_loss"].tolist()
    assert any(isinstance(m, DropPath) for m in a.model.modules())


def test_train_seeds_trains_random_networks_one_at_a_time():
    """vmap refuses random ops by default (randomness="error"); with "different" model k's masks
    would not be train()'s for seed k. So train_seeds hands such specs to train(), seed by seed."""
    spec = _random_zoo_spec()
    tr, te = shapes_train_test(8, 4, seed=0, size=8, difficulty=0.0)
    seen = []
    many = train_seeds(spec, tr, te, CFG, [0, 3], progress=lambda k, r: seen.append((k, r["epoch"])))
    assert seen == [(0, 1), (1, 1)]
    for s, got in zip((0, 3), many):
        alone = train(spec, tr, te, replace(CFG, seed=s))
        assert "one at a time" in got.meta["trained_with"] and got.meta["config"]["seed"] == s
        cols = ["train_loss", "train_error", "test_error"]
        assert got.history[cols].to_numpy().tolist() == alone.history[cols].to_numpy().tolist()
        wg, wa = _weights(got.model), _weights(alone.model)
        assert all(torch.equal(wg[k], wa[k]) for k in wa)
    stopped = train_seeds(spec, tr, te, CFG, [0, 3], should_stop=lambda: True)
    assert len(stopped) == 1 and stopped[0].meta["stopped"]  # the rest are not started
    # A network without random numbers still trains all seeds at once.
    calm = replace(spec, survival=1.0).map_blocks(lambda b: replace(b, combine="add"))
    assert not draws_random_numbers(calm)
    assert "vmap" in train_seeds(calm, tr, None, CFG, [0, 1])[0].meta["trained_with"]


def test_draws_random_numbers_only_where_a_branch_or_shortcut_is_dropped():
    base = variant("resnet", 8)
    assert not draws_random_numbers(base)
    assert draws_random_numbers(variant("stochastic", 8)) and draws_random_numbers(variant("drop", 8))
    # A plain twin drops nothing: no shortcut to drop, no branch that may be skipped.
    assert not draws_random_numbers(variant("stochastic", 8).twin())
    assert not draws_random_numbers(variant("drop", 8).twin())
    assert not draws_random_numbers(replace(variant("dense", 8), survival=0.5))  # nothing added
    for spec in (variant("stochastic", 8), variant("drop", 8), variant("dense", 8), base):
        model = build_model(spec)
        random = any(isinstance(m, (DropPath, torch.nn.Dropout)) for m in model.modules())
        assert random == draws_random_numbers(spec), spec.to_query()
