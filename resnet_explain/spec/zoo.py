"""The family around ResNet, at one depth: each variant a NetSpec the builder can open.

A variant is a recipe ``depth -> NetSpec`` of He et al.'s CIFAR layout (a 3x3 stem, three stages
of n blocks, widths w, 2w, 4w, stride 2 at each stage start, depth = 6n + 2 counted in basic
blocks) with one idea changed, so a row of the Architectures page differs from the ResNet row in
that idea only. Every variant has a twin (``spec.twin()``: every skip off), and where a paper
reports a CIFAR-10 error for the idea, ``published`` names its row in :mod:`..content.papers`.

Same depth means the same number of blocks per stage (n): a bottleneck or ResNeXt block has three
weighted layers, a dense layer one (so a DenseNet row gets 2n layers per stage, plus its two
transitions: 6n + 4 layers); the table shows each variant's own layer count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .block import BlockSpec
from .errors import SpecError
from .layouts import blocks_per_stage, cifar_resnet
from .netspec import NetSpec

GROWTH = 12  # DenseNet's growth rate k of its L=40 CIFAR net (Huang et al. 2017, table 2)
WIDE_FACTOR = 2  # width factor k (Zagoruyko & Komodakis 2016 use 1 to 12; 2 keeps a CPU run short)
CARDINALITY = 8  # ResNeXt groups (Xie et al. 2017's CIFAR nets: 8x64d, 16x64d)
SURVIVAL = 0.5  # stochastic depth's p_L (Huang et al. 2016: "p_L = 0.5 throughout")


def highway_gate_bias(depth: int) -> float:
    """Srivastava et al. 2015 ("Training Very Deep Networks", arXiv 1507.06228) sec. 2.2: "as a general guideline we suggest values of -1, -2 and
    -3 for convolutional highway networks of depth approximately 10, 20 and 30"; -3 beyond."""
    return -1.0 if depth <= 15 else -2.0 if depth <= 25 else -3.0


def _combine(combine: str, **globals_) -> Callable[[int], NetSpec]:
    return lambda d: cifar_resnet(d, **globals_).map_blocks(lambda b: replace(b, combine=combine))


def densenet(depth: int, growth: int = GROWTH, stem: int = 16) -> NetSpec:
    """A DenseNet (Huang et al. 2017, sec. 3): a 16-channel stem, three dense blocks of 2n layers
    (each BN-ReLU-3x3 adding ``growth`` channels) and, between them, transition layers (BN, 1x1
    convolution keeping the channels — the basic DenseNet's, without compression — and 2x2 average
    pooling). 6n + 4 weighted layers: their L = 40 net is n = 6 at k = 12."""
    per_stage = 2 * blocks_per_stage(depth)
    width, stages = stem, []
    for i in range(3):
        blocks = [BlockSpec("transition", width, 2, skip=False)] if i else []
        for _ in range(per_stage):
            width += growth
            blocks.append(BlockSpec("dense", width))
        stages.append(tuple(blocks))
    return NetSpec(family="cnn", stages=tuple(stages), stem_width=stem)


def resnext(depth: int) -> NetSpec:
    """ResNeXt blocks (1x1 to width/2, a 3x3 in 8 groups, 1x1 up) with projection shortcuts where
    the shape changes (option B), at reduced widths: outputs 64, 128, 256 (Xie et al. 2017's
    ResNeXt-29 uses a 64-channel stem and block outputs 256, 512, 1024: 34.4M parameters)."""
    return cifar_resnet(depth, width=64, kind="resnext", shortcut="B", cardinality=CARDINALITY)


@dataclass(frozen=True)
class Variant:
    name: str  # URL-safe key
    label: str  # what the table shows
    idea: str  # one sentence: what changed against the ResNet row
    cite: str  # the paper, with its arXiv id
    build: Callable[[int], NetSpec]
    published: str | None = None  # a label of content.papers.HE16_TABLE1, where one exists


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("resnet", "ResNet (original)", "basic blocks, identity shortcuts, S(x) + F(x)",
            "He et al. 2015, arXiv 1512.03385", lambda d: cifar_resnet(d), "original (identity)"),
    Variant("preact", "pre-activation ResNet", "norm and activation before each layer; nothing after the add",
            "He et al. 2016, arXiv 1603.05027", lambda d: cifar_resnet(d, kind="preact")),
    Variant("scale", "constant scaling", "0.5·S(x) + 0.5·F(x)", "He et al. 2016, fig. 2b",
            _combine("scale"), "constant scaling"),
    Variant("gate", "exclusive gating", "(1−g)·S(x) + g·F(x), gate bias −6",
            "He et al. 2016, fig. 2c", _combine("gate", gate_bias=-6.0), "exclusive gating"),
    Variant("sgate", "shortcut-only gating", "(1−g)·S(x) + F(x), gate bias −6",
            "He et al. 2016, fig. 2d", _combine("sgate", gate_bias=-6.0), "shortcut-only gating"),
    Variant("conv", "1×1 conv shortcut", "a 1×1 convolution on every shortcut (option C)",
            "He et al. 2016, fig. 2e", lambda d: cifar_resnet(d, shortcut="C"), "1×1 conv shortcut"),
    Variant("drop", "dropout shortcut", "dropout 0.5 on every shortcut while training",
            "He et al. 2016, fig. 2f", _combine("drop"), "dropout shortcut"),
    Variant("highway", "Highway", "pre-activation blocks, (1−T)·x + T·H(x), gate bias by "
            "Srivastava et al.'s depth guideline", "Srivastava et al. 2015, arXiv 1507.06228",
            lambda d: cifar_resnet(d, kind="preact", gate_bias=highway_gate_bias(d)).map_blocks(
                lambda b: replace(b, combine="gate"))),
    Variant("resnext", "ResNeXt", f"bottleneck blocks with a 3×3 in {CARDINALITY} groups, outputs 64/128/256 (reduced)",
            "Xie et al. 2017, arXiv 1611.05431", resnext),
    Variant("wide", f"Wide ResNet (k={WIDE_FACTOR})", f"pre-activation blocks {WIDE_FACTOR}× wider",
            "Zagoruyko & Komodakis 2016, arXiv 1605.07146",
            lambda d: cifar_resnet(d, kind="preact").widen(WIDE_FACTOR)),
    Variant("dense", f"DenseNet (k={GROWTH})", "each layer's output concatenated to its input; "
            "transition layers between the dense blocks",
            "Huang et al. 2017, arXiv 1608.06993", densenet),
    Variant("stochastic", f"stochastic depth (p_L={SURVIVAL})",
            "branches dropped at random while training, linearly more often with depth",
            "Huang et al. 2016, arXiv 1603.09382", lambda d: cifar_resnet(d, survival=SURVIVAL)),
    Variant("skipinit", "SkipInit (no norm, α=0)", "no BatchNorm; each branch times a learnable α from 0",
            "De & Smith 2020, arXiv 2002.10444", lambda d: cifar_resnet(d, norm="none", res_scale=0.0)),
    Variant("fixup", "Fixup (no norm)", "no BatchNorm; branches rescaled by L^(−1/(2m−2)), last layers and "
            "the classifier at 0", "Zhang et al. 2019, arXiv 1901.09321",
            lambda d: cifar_resnet(d, norm="none", init="fixup")),
)}
DEFAULT_VARIANTS = ("resnet", "preact", "scale", "gate", "sgate", "conv", "drop", "highway",
                    "resnext", "wide", "dense", "stochastic", "skipinit", "fixup")


def variant(name: str, depth: int) -> NetSpec:
    """The network of variant ``name`` at ``depth`` (6n + 2). Raises SpecError."""
    try:
        v = VARIANTS[name]
    except KeyError:
        raise SpecError("variant", f"unknown variant {name[:30]!r}; known: {', '.join(VARIANTS)}") from None
    blocks_per_stage(int(depth))
    return v.build(int(depth))
