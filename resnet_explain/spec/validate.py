"""validate(spec): raise SpecError naming the first field of a NetSpec that is out of range.

Field choices and caps are in :mod:`.limits`; what a block kind itself requires (a dense block
widens, a ResNeXt width divides into its groups, ...) is its entry's ``check`` in :mod:`.kinds`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .block import BlockSpec
from .errors import SpecError
from .kinds import BLOCK_KINDS, COMBINES
from .limits import (
    ACTIVATIONS,
    FAMILIES,
    FAMILY_INITS,
    FAMILY_NORMS,
    MAX_BLOCKS,
    MAX_CARDINALITY,
    MAX_CLASSES,
    MAX_CONTEXT,
    MAX_GATE_BIAS,
    MAX_HEADS,
    MAX_IN_CHANNELS,
    MAX_IN_FEATURES,
    MAX_IN_SIDE,
    MAX_RES_SCALE,
    MAX_STRIDE,
    MAX_VOCAB,
    MAX_WIDTH,
    MIN_IN_SIDE,
    MIN_SURVIVAL,
    MIN_WIDTH,
    SHORTCUTS,
)

if TYPE_CHECKING:
    from .netspec import NetSpec


def validate(spec: "NetSpec") -> None:
    """Raise SpecError naming the first field that is out of range."""
    _check_globals(spec)
    if not spec.stages or any(len(s) == 0 for s in spec.stages):
        raise SpecError("stages", "need at least one stage, and every stage at least one block")
    if spec.n_blocks > MAX_BLOCKS:
        raise SpecError("stages", f"at most {MAX_BLOCKS} blocks, got {spec.n_blocks}")
    if spec.family == "transformer":
        _check_transformer(spec)
    for name, b in spec.named_blocks():
        if not isinstance(b, BlockSpec):
            raise SpecError(name, "must be a BlockSpec")
    for (name, b), width in zip(spec.named_blocks(), spec.in_widths()):
        _check_block(spec, name, b, width)


def _check_globals(spec: "NetSpec") -> None:
    if spec.family not in FAMILIES:
        raise SpecError("family", f"must be one of {FAMILIES}")
    for name, value, choices in (("act", spec.act, ACTIVATIONS), ("norm", spec.norm, FAMILY_NORMS[spec.family]),
                                 ("init", spec.init, FAMILY_INITS[spec.family])):
        if value not in choices:
            raise SpecError(name, f"a {spec.family} takes one of {choices}, got {value!r}")
    if not isinstance(spec.zero_init_last, bool):
        raise SpecError("zero_init_last", "must be True or False")
    if (not isinstance(spec.res_scale, (int, float)) or isinstance(spec.res_scale, bool)
            or not math.isfinite(spec.res_scale) or not 0.0 <= spec.res_scale <= MAX_RES_SCALE):
        raise SpecError("res_scale", f"must be a finite number from 0 to {MAX_RES_SCALE}")
    for name, lo, hi in (("survival", MIN_SURVIVAL, 1.0), ("gate_bias", -MAX_GATE_BIAS, MAX_GATE_BIAS)):
        v = getattr(spec, name)
        if (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)
                or not lo <= v <= hi):
            raise SpecError(name, f"must be a finite number from {lo} to {hi}, got {v!r}")
    _check_int("cardinality", spec.cardinality, 1, MAX_CARDINALITY)
    _check_int("in_channels", spec.in_channels, 1, MAX_IN_CHANNELS)
    _check_int("in_size", spec.in_size, MIN_IN_SIDE, MAX_IN_SIDE)
    _check_int("in_features", spec.in_features, 1, MAX_IN_FEATURES)
    _check_int("stem_width", spec.stem_width, MIN_WIDTH, MAX_WIDTH)
    _check_int("classes", spec.classes, 2, MAX_CLASSES)
    _check_int("heads", spec.heads, 1, MAX_HEADS)
    _check_int("context", spec.context, 1, MAX_CONTEXT)
    _check_int("vocab", spec.vocab, 2, MAX_VOCAB)
    if not isinstance(spec.deepnorm, bool):
        raise SpecError("deepnorm", "must be True or False")
    if spec.deepnorm and (spec.family != "transformer" or spec.norm != "post"):
        raise SpecError("deepnorm", "DeepNorm is a post-LN Transformer's x <- LN(alpha*x + F(x)) "
                                    "(Wang et al. 2022): use the transformer family with norm=post")
    if spec.deepnorm and spec.res_scale != 1.0:
        raise SpecError("deepnorm", "DeepNorm and ReZero (res_scale) are two answers to one problem; "
                                    "choose one")


def _check_transformer(spec: "NetSpec") -> None:
    """A decoder-only Transformer: every stage is one layer, an attn sublayer then an mlp one, all
    as wide as the residual stream, which the heads divide."""
    for i, stage in enumerate(spec.stages):
        if tuple(getattr(b, "kind", None) for b in stage) != ("attn", "mlp"):
            raise SpecError("stages", f"layer {i}: a Transformer layer is an attn sublayer then an "
                                      "mlp sublayer (e.g. net=a128,m128~a128,m128)")
    width = spec.blocks[0].width
    if any(b.width != width for b in spec.blocks):
        raise SpecError("stages", "every sublayer of a Transformer has the residual stream's width")
    _check_int("width", width, MIN_WIDTH, MAX_WIDTH)
    if width % spec.heads:
        raise SpecError("heads", f"the heads must divide the width {width}, got {spec.heads}")


def _check_block(spec: "NetSpec", name: str, b: BlockSpec, width: int) -> None:
    if not isinstance(b.kind, str) or b.kind not in BLOCK_KINDS:
        raise SpecError(f"{name}.kind", f"must be one of {tuple(BLOCK_KINDS)}, got {b.kind!r}")
    _check_int(f"{name}.width", b.width, MIN_WIDTH, MAX_WIDTH)
    if not isinstance(b.combine, str) or b.combine not in COMBINES:
        raise SpecError(f"{name}.combine", f"must be one of {tuple(COMBINES)}, got {b.combine!r}")
    kind = BLOCK_KINDS[b.kind]
    if spec.family not in kind.families:
        raise SpecError(f"{name}.kind", f"a {kind.name} block is not part of a {spec.family}; "
                                        f"it belongs to {' or '.join(kind.families)}")
    kind.check(spec, name, b, width)
    if not kind.can_skip and b.skip:  # the kind's own check may say it in its words first
        raise SpecError(f"{name}.skip", f"a {kind.name} block has no skip; turn its skip off")
    if not kind.adds and b.combine != "add":
        raise SpecError(f"{name}.combine", f"a {kind.name} block does not add a branch; it has no other combine")
    _check_int(f"{name}.stride", b.stride, 1, MAX_STRIDE)
    if not isinstance(b.skip, bool):
        raise SpecError(f"{name}.skip", "must be True or False")
    if b.shortcut not in SHORTCUTS:
        raise SpecError(f"{name}.shortcut", f"must be one of {SHORTCUTS}, got {b.shortcut!r}")
    if spec.family == "mlp" and b.stride != 1:
        raise SpecError(f"{name}.stride", "an mlp block has no spatial stride; use 1")
    if b.adds_branch and b.shortcut == "A" and b.width < width:
        raise SpecError(f"{name}.shortcut",
                        f"zero-padding (A) cannot shrink {width} to {b.width} channels; "
                        "use a projection (B or C)")


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SpecError(name, f"must be a whole number from {lo} to {hi}, got {value!r}")
