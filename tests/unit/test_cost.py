"""estimate_cost(spec) against the model it describes: parameters counted by PyTorch, FLOPs counted
by ``torch.utils.flop_counter.FlopCounterMode``, activations against the tensors autograd saves.

The estimate is what the app shows and what check_budget uses to refuse work before anything is
allocated, so it is checked here on every block kind, shortcut option, skip on/off, family, norm
and res_scale, and on random valid specs.

Like with like: FlopCounterMode counts only ops with a registered formula; in our model those are
the convolutions (``aten.convolution``) and the linear layers (``aten.mm`` without a bias,
``aten.addmm`` with one), each 2 FLOPs per multiply-add, biases not counted. BatchNorm, the
activations, the residual add, ``res_scale * branch``, the zero-pad of option A and the global
average pool have no formula and count 0 there, and the estimate leaves them out as well ("weighted
layers only"). ``test_only_weighted_layers_are_counted`` checks that this stays true.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from torch.utils.flop_counter import FlopCounterMode

from resnet_explain.model import build_model, make_batch
from resnet_explain.spec import BlockSpec, NetSpec, cifar_resnet, estimate_cost

try:  # tests/ is a package; fall back to rootdir-style imports without it
    from tests.unit.test_spec import valid_specs
except ImportError:  # pragma: no cover
    from test_spec import valid_specs

WEIGHTED_OPS = {"aten.convolution", "aten.mm", "aten.addmm"}


def _spec(family: str, kind: str, skip: bool, shortcut: str, norm: str, res_scale: float) -> NetSpec:
    """Three stages: same shape (identity, or C's projection), then wider (and stride 2 for cnn)
    twice, so option A pads and B/C project. An odd input side (7 -> 4 -> 2) tests the rounding."""
    s = 2 if family == "cnn" else 1
    return NetSpec(family=family, norm=norm, res_scale=res_scale, in_channels=2, in_size=7,
                   in_features=5, stem_width=4, classes=3, stages=(
                       (BlockSpec(kind, 4, 1, skip, shortcut),),
                       (BlockSpec(kind, 8, s, skip, shortcut), BlockSpec(kind, 8, 1, skip, shortcut)),
                       (BlockSpec(kind, 12, s, skip, shortcut),)))


def _grid():
    for family in ("mlp", "cnn"):
        for kind in ("basic", "preact", "bottleneck"):  # the zoo kinds: test_zoo_blocks.py
            for skip, shortcut in ((True, "A"), (True, "B"), (True, "C"), (False, "A")):
                # With BatchNorm, and without it with res_scale != 1 (SkipInit's setting); the
                # other pairs are left to the random specs below.
                for norm, res_scale in (("batch", 1.0), ("none", 0.5)):
                    yield pytest.param(
                        _spec(family, kind, skip, shortcut, norm, res_scale),
                        id=f"{family}-{kind}-{shortcut if skip else 'noskip'}-{norm}-{res_scale}")


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _counted(model, spec: NetSpec, batch: int = 1) -> tuple[int, dict[str, int]]:
    """FlopCounterMode's total for one eval-mode forward pass, and its count per op."""
    x = torch.zeros(spec.input_shape(batch))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    by_op = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops(), by_op


def _saved_per_example(model, spec: NetSpec, batch: int = 64) -> float:
    """Elements (per example) of the distinct non-parameter tensors autograd saves for backward
    in one training step: what ``Cost.activations`` estimates."""
    x, y = make_batch(spec, batch)
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[tuple, int] = {}

    def pack(t):
        if t.data_ptr() not in params:
            seen[(t.data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())] = t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        F.cross_entropy(model.train()(x), y)
    return sum(seen.values()) / batch


def _check(spec: NetSpec) -> None:
    model = build_model(spec)
    cost = estimate_cost(spec)
    assert cost.params == _n_params(model)
    total, by_op = _counted(model, spec)
    assert set(by_op) <= WEIGHTED_OPS, by_op
    assert cost.flops == total, by_op
    # A rough estimate, but never well below what autograd keeps (that would let the budget
    # accept work that does not fit) and not far above it. The 0.9 covers what it leaves out: the
    # int64 targets and the per-channel BatchNorm statistics. It counts every layer, norm,
    # activation, projection and sum output, though where no norm follows a layer and the
    # activation saves its result (ReLU, sigmoid, tanh) only the activation output is kept: the
    # worst block, a bottleneck 1->1->w (w < 8) with a projection, is counted 4+4w against 2+w
    # kept, under 3.6x; ResNet-20 (BatchNorm) is about 1.7x.
    saved = _saved_per_example(model, spec)
    assert 0.9 * saved <= cost.activations <= 4 * saved, (cost.activations, saved)


@pytest.mark.parametrize("spec", list(_grid()))
def test_estimate_matches_model_for_every_kind_shortcut_family_norm(spec):
    _check(spec)


# ---------------------------------------------------------------------------------------------
# The zoo's blocks and options (spec/zoo.py): ResNeXt, dense layers, every combine, stochastic
# depth, Fixup
# ---------------------------------------------------------------------------------------------
def _resnext(card: int, skip: bool, shortcut: str, norm: str) -> NetSpec:
    # Inner widths 4, 4, 8 (width / 2): multiples of every cardinality tested (1, 2, 4).
    return NetSpec(family="cnn", norm=norm, cardinality=card, in_channels=2, in_size=7, stem_width=4,
                   classes=3, stages=((BlockSpec("resnext", 8, 1, skip, shortcut),),
                                      (BlockSpec("resnext", 8, 2, skip, shortcut),
                                       BlockSpec("resnext", 16, 2, skip, shortcut))))


def _dense(family: str, stride: int, skip: bool, norm: str) -> NetSpec:
    # Each layer wider than its input (4 -> 6 -> 9 -> 12); the second strides (7 -> 4, pooled
    # with ceil_mode to 4 as well) where ``stride`` is 2; a plain twin makes every channel itself.
    return NetSpec(family=family, norm=norm, in_channels=2, in_size=7, in_features=5, stem_width=4,
                   classes=3, stages=((BlockSpec("dense", 6, 1, skip),
                                       BlockSpec("dense", 9, stride if family == "cnn" else 1, skip)),
                                      (BlockSpec("dense", 12, 1, skip),)))


def _transition(family: str, stride: int, norm: str) -> NetSpec:
    # dense, a transition (norm-act-1x1 to 5 channels, pooled 7 -> 4 where it strides), dense
    return NetSpec(family=family, norm=norm, in_channels=2, in_size=7, in_features=5, stem_width=4,
                   classes=3, stages=((BlockSpec("dense", 6),),
                                      (BlockSpec("transition", 5, stride, skip=False), BlockSpec("dense", 8))))


def _zoo_grid():
    for family, stride in (("cnn", 1), ("cnn", 2), ("mlp", 1)):
        for norm in ("batch", "none"):
            yield pytest.param(_transition(family, stride, norm), id=f"transition-{family}-s{stride}-{norm}")
    for card in (1, 2, 4):
        for skip, shortcut in ((True, "A"), (True, "B"), (True, "C"), (False, "A")):
            for norm in ("batch", "none"):
                yield pytest.param(_resnext(card, skip, shortcut, norm),
                                   id=f"resnext-card{card}-{shortcut if skip else 'noskip'}-{norm}")
    for family in ("cnn", "mlp"):
        for stride in ((1, 2) if family == "cnn" else (1,)):
            for skip in (True, False):
                for norm in ("batch", "none"):
                    yield pytest.param(_dense(family, stride, skip, norm),
                                       id=f"dense-{family}-s{stride}-{'skip' if skip else 'noskip'}-{norm}")
    for combine in ("scale", "gate", "sgate", "drop"):
        for kind in ("basic", "preact", "bottleneck"):
            for shortcut in ("A", "B", "C"):
                spec = _spec("cnn", kind, True, shortcut, "batch", 1.0).map_blocks(
                    lambda b, c=combine: replace(b, combine=c))
                yield pytest.param(spec, id=f"{combine}-{kind}-{shortcut}")
        # The same combine without BatchNorm and with a learnable branch scale, in the mlp family.
        yield pytest.param(_spec("mlp", "basic", True, "B", "none", 0.5).map_blocks(
            lambda b, c=combine: replace(b, combine=c)), id=f"{combine}-mlp-basic-B-none-0.5")
    for kind in ("basic", "preact", "bottleneck"):
        yield pytest.param(replace(_spec("cnn", kind, True, "A", "batch", 1.0), survival=0.5),
                           id=f"survival-{kind}")
        yield pytest.param(replace(_spec("cnn", kind, True, "B", "none", 1.0), init="fixup"),
                           id=f"fixup-{kind}")
    # Stochastic depth with a dropout shortcut and gates; Fixup with a plain block in between.
    yield pytest.param(replace(_spec("cnn", "basic", True, "C", "batch", 1.0), survival=0.2).map_blocks(
        lambda b: replace(b, combine="gate" if b.width == 8 else "drop")), id="survival-gate-drop")
    mixed = _spec("cnn", "basic", True, "B", "none", 1.0)
    yield pytest.param(replace(mixed.set_block("stage2.block1", skip=False), init="fixup"),
                       id="fixup-with-a-plain-block")


@pytest.mark.parametrize("spec", list(_zoo_grid()))
def test_estimate_matches_model_for_the_zoo_blocks(spec):
    _check(spec)


def test_zoo_grid_covers_what_it_says():
    specs = [p.values[0] for p in _zoo_grid()]
    assert {s.cardinality for s in specs if s.blocks[0].kind == "resnext"} == {1, 2, 4}
    dense = [s for s in specs if s.blocks[0].kind == "dense"]
    assert {b.stride for s in dense for b in s.blocks} == {1, 2}
    assert {b.skip for s in dense for b in s.blocks} == {True, False}
    assert {(b.combine, b.kind, b.shortcut) for s in specs for b in s.blocks
            if b.combine != "add"} >= {(c, k, sc) for c in ("scale", "gate", "sgate", "drop")
                                       for k in ("basic", "preact", "bottleneck") for sc in "ABC"}
    assert any(s.survival < 1 for s in specs) and any(s.init == "fixup" for s in specs)
    # The options are really in the built models being counted.
    from resnet_explain.model.blocks import DropPath, Gate, Pool

    kinds = {type(m) for s in specs for m in build_model(s).modules()}
    assert {DropPath, Gate, Pool, torch.nn.Dropout} <= kinds


@settings(max_examples=40, deadline=None)
@given(valid_specs(max_stages=3, max_blocks_per_stage=2, max_width=8))
def test_estimate_matches_model_for_random_specs(spec):
    _check(spec)


def test_only_weighted_layers_are_counted():
    # The ops FlopCounterMode counts in a net with every kind of block and shortcut, BatchNorm,
    # res_scale, padding and pooling: only convolutions and the head's linear layer.
    spec = NetSpec(family="cnn", in_channels=2, in_size=8, stem_width=4, classes=3, res_scale=0.5,
                   stages=((BlockSpec("basic", 4), BlockSpec("preact", 6, 2, True, "A")),
                           (BlockSpec("bottleneck", 8, 2, True, "B"),
                            BlockSpec("preact", 8, 1, True, "C"))))
    total, by_op = _counted(build_model(spec), spec)
    assert set(by_op) == {"aten.convolution", "aten.addmm"}
    assert by_op["aten.addmm"] == 2 * 8 * 3  # the head: 8 features -> 3 classes, bias not counted
    assert total == estimate_cost(spec).flops


def test_flops_are_per_example():
    spec = _spec("cnn", "bottleneck", True, "B", "batch", 1.0)
    model = build_model(spec)
    assert _counted(model, spec, batch=3)[0] == 3 * estimate_cost(spec).flops


def test_hand_computed_mlp():
    # Input 5 -> stem 4 -> basic block 6 (projection B) -> 3 classes, no norm (so every layer has
    # a bias). Multiply-adds: stem 5*4, conv1 4*6, conv2 6*6, projection 4*6, head 6*3.
    spec = NetSpec(family="mlp", norm="none", in_features=5, stem_width=4, classes=3,
                   stages=((BlockSpec("basic", 6, shortcut="B"),),))
    cost = estimate_cost(spec)
    assert cost.params == (20 + 4) + (24 + 6) + (36 + 6) + (24 + 6) + (18 + 3) == 147
    assert cost.flops == 2 * (20 + 24 + 36 + 24 + 18) == 244


def test_hand_computed_cnn_with_stride_and_batchnorm():
    # 1x5x5 input, stem 3x3 1->2 on 5x5; basic block 2->4 with stride 2 (5x5 -> 3x3) and a 1x1
    # projection (B); BatchNorm everywhere (2 parameters per channel, no conv biases); head 4->2.
    spec = NetSpec(family="cnn", in_channels=1, in_size=5, stem_width=2, classes=2,
                   stages=((BlockSpec("basic", 4, stride=2, shortcut="B"),),))
    cost = estimate_cost(spec)
    stem, conv1, conv2, proj, head = 9 * 1 * 2, 9 * 2 * 4, 9 * 4 * 4, 2 * 4, 4 * 2
    norms = 2 * (2 + 4 + 4 + 4)
    assert cost.params == stem + conv1 + conv2 + proj + head + 2 + norms == 280
    assert cost.flops == 2 * (stem * 25 + (conv1 + conv2 + proj) * 9 + head) == 4948


def test_resnet20_parameters_match_he_et_al():
    # He et al. 2015 (arXiv 1512.03385), table 6: ResNet-20 has 0.27M parameters. By hand (3x3
    # convs without bias, BatchNorm 2 per channel, option A shortcuts with no parameters):
    stem = 9 * 3 * 16 + 2 * 16
    stage1 = 3 * (2 * 9 * 16 * 16 + 2 * 2 * 16)
    stage2 = (9 * 16 * 32 + 9 * 32 * 32 + 2 * 2 * 32) + 2 * (2 * 9 * 32 * 32 + 2 * 2 * 32)
    stage3 = (9 * 32 * 64 + 9 * 64 * 64 + 2 * 2 * 64) + 2 * (2 * 9 * 64 * 64 + 2 * 2 * 64)
    head = 64 * 10 + 10
    spec = cifar_resnet(20)
    model = build_model(spec)
    assert estimate_cost(spec).params == _n_params(model) == stem + stage1 + stage2 + stage3 + head
    assert stem + stage1 + stage2 + stage3 + head == 269_722
    assert estimate_cost(spec.twin()).params == 269_722  # option A: the plain twin has as many
    assert estimate_cost(spec).flops == _counted(model, spec)[0]


def test_memory_bytes_covers_a_measured_training_step():
    # Weights, their gradients and SGD momentum (3 float32 copies of the parameters), plus the
    # float32 tensors autograd saves for backward, measured on ResNet-20 at batch 8.
    spec, batch = cifar_resnet(20), 8
    model = build_model(spec)
    measured = 4 * (3 * _n_params(model) + _saved_per_example(model, spec, batch) * batch)
    estimate = estimate_cost(spec).memory_bytes(batch)
    assert measured <= estimate <= 2 * measured, (estimate, measured)
