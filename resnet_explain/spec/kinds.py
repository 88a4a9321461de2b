"""THE registry of block kinds and combines: adding one is one entry in this file.

A **kind** is a block's branch F(x) and how it meets its shortcut; a **combine** is how an adding
kind's shortcut S(x) joins its branch (He et al. 2016, arXiv 1603.05027, fig. 2). Everything else
reads these entries: the model (``build_model``), the cost (``estimate_cost``), validation, the URL
grammar, the diagram, the theory curves and the builder.

A kind's ``body(m, b, c_in)`` is its one recipe, written against a small factory ``m`` of makers
(``m.layer(c_in, c_out, kernel, stride, groups)``, ``m.norm(width)``, ``m.act(width)``,
``m.pool(stride, width)``; ``m.cardinality``). It returns the branch's named parts and the
activation after the join (None: none). The model passes makers that return modules
(:mod:`resnet_explain.model.blocks`), the cost a counter that counts (:mod:`.cost`): the two cannot
drift apart, and this module needs no torch.

A Transformer's sublayers are kinds too (``attn``, ``mlp``): their recipes ask the makers for
``m.attend(width)`` (causal softmax attention over heads, no weights of its own) and read
``m.pre_norm`` / ``m.post_norm`` (LayerNorm before the sublayer, or after its add: the post-LN
norm is the "activation after the join" of a CNN block).

A kind's ``join`` says what its skip does: ``"add"`` (the branch is added into a shortcut by a
combine), ``"concat"`` (the input is concatenated to the branch's output, pooled where it strides)
or ``"none"`` (the kind never has a skip).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SpecError

if TYPE_CHECKING:
    from .block import BlockSpec
    from .netspec import NetSpec

JOINS = ("add", "concat", "none")


def _no_check(spec: "NetSpec", name: str, b: "BlockSpec", c_in: int) -> None:
    """A kind without constraints of its own."""


@dataclass(frozen=True)
class Kind:
    name: str  # what BlockSpec.kind holds
    code: str  # its letter in the URL grammar (b16, r16/2, ...)
    label: str  # in words, with its skip
    plain_label: str  # in words, without one (no shortcut, no join)
    layers: int  # weighted layers on the main path (the network's depth counts these)
    acts: int  # activations a gradient crosses through the block (the theory curves count these)
    join: str  # one of JOINS: what its skip does
    body: Callable[[Any, "BlockSpec", int], tuple[list[tuple[str, Any]], Any]]  # the recipe of F(x)
    check: Callable[["NetSpec", str, "BlockSpec", int], None] = _no_check  # raises SpecError
    head_norm: bool = False  # as the last block, the head starts with norm + act (its output is not normalised)
    join_label: str | None = None  # the diagram's join node; None: the combine's
    knobs: tuple[str, ...] = ()  # NetSpec fields the kind reads (the builder shows only those in use)
    families: tuple[str, ...] = ("mlp", "cnn")  # the NetSpec families whose networks it may be in

    @property
    def adds(self) -> bool:
        """Its skip adds the branch into a shortcut (through a combine)."""
        return self.join == "add"

    @property
    def can_skip(self) -> bool:
        return self.join != "none"

    def describe(self, skip: bool) -> str:
        """The block in words, as the builder shows it: with its skip, or as the plain block."""
        if not self.can_skip:  # never a skip: the words are the same either way
            return f"{self.plain_label}; no skip (a {self.name} has no shortcut)."
        if skip:
            extra = " (the concatenation)" if self.join == "concat" else ""
            return f"{self.label}, with a skip{extra}."
        return f"{self.plain_label}; no skip (a plain block, no shortcut)."

    def skip_text(self, b: "BlockSpec", c_in: int) -> str:
        """What the diagram writes on the block's dashed skip edge."""
        if self.join == "concat":
            return "avg-pool 2×2" if b.stride > 1 else "identity"
        sc = "1×1 projection" if b.projects(c_in) else "zero-pad" if b.changes_shape(c_in) else "identity"
        return COMBINES[b.combine].edge.format(sc)

    def join_text(self, combine: str) -> str:
        """The text of the diagram's join node: the kind's own, else its combine's."""
        return self.join_label or COMBINES[combine].join_label


@dataclass(frozen=True)
class Combine:
    name: str  # what BlockSpec.combine holds
    code: str  # its letter after '@' in the URL ("" for add, the default: written as nothing)
    label: str  # in words, with its paper
    short: str  # in a narrow select box
    rule: Callable[[Any, Any, Any], Any]  # (S(x), F(x), g(x) or None) -> the block's output before its activation
    kept: int  # elementwise outputs the rule keeps for backward (the cost's activations)
    gated: bool = False  # needs a gate g(x) = sigmoid(1x1 layer(x) + b)
    shortcut_dropout: float = 0.0  # dropout on S(x) before the rule, in training
    join_label: str = "+"  # the diagram's join node
    edge: str = "{}"  # the diagram's skip edge text, around the shortcut's ("identity", ...)


BLOCK_KINDS: dict[str, Kind] = {}  # name -> Kind, in the order the builder offers them
COMBINES: dict[str, Combine] = {}  # name -> Combine


def register_kind(kind: Kind) -> Kind:
    """Add a kind to the registry (its name and URL code must be new)."""
    if kind.name in BLOCK_KINDS or kind.code in {k.code for k in BLOCK_KINDS.values()} | set(LEGACY_CODES):
        raise ValueError(f"kind {kind.name!r} or its code {kind.code!r} is taken")
    if kind.join not in JOINS or not kind.code.isascii() or not kind.code.isalpha():
        raise ValueError(f"kind {kind.name!r}: join must be one of {JOINS}, its code ASCII letters")
    BLOCK_KINDS[kind.name] = kind
    return kind


def register_combine(combine: Combine) -> Combine:
    """Add a combine to the registry (its name and URL code must be new)."""
    if combine.name in COMBINES or combine.code in {c.code for c in COMBINES.values()}:
        raise ValueError(f"combine {combine.name!r} or its code {combine.code!r} is taken")
    if combine.code and not (combine.code.isascii() and combine.code.isalpha()):
        raise ValueError(f"combine {combine.name!r}: its code must be ASCII letters")
    COMBINES[combine.name] = combine
    return combine


LEGACY_CODES = {"p": ("basic", False)}  # links from before plain was a switch: p16 reads as b16!


def kinds_of(family: str) -> list[str]:
    """The kinds a network of ``family`` may hold, in the registry's order (the builder offers these)."""
    return [k.name for k in BLOCK_KINDS.values() if family in k.families]


def describe_block(kind: str, skip: bool) -> str:
    """A block of ``kind`` in words, with its skip or as the plain block (the builder's text)."""
    return BLOCK_KINDS[kind].describe(skip)


def acts_crossed(kind: str) -> int:
    """Activations a gradient crosses through a block of ``kind``; 2 (a two-layer block) for a
    block that is not ours (a torchvision model's)."""
    return BLOCK_KINDS[kind].acts if kind in BLOCK_KINDS else 2


# ---- the combines (He et al. 2016, arXiv 1603.05027, fig. 2 and table 1) ----------------------
register_combine(Combine("add", "", "add: S(x) + F(x), the original", "add", lambda s, f, g: f + s, 0))
register_combine(Combine(
    "scale", "s", "constant scaling: 0.5·S(x) + 0.5·F(x) (He et al. 2016 fig. 2b)", "×0.5 both",
    lambda s, f, g: 0.5 * f + 0.5 * s, 2, join_label="½·S + ½·F"))  # the row of fig. 2b that trained
register_combine(Combine(
    "gate", "g", "exclusive gating: (1−g(x))·S(x) + g(x)·F(x), g = sigmoid(1×1 layer) — the Highway "
                 "form (He et al. 2016 fig. 2c; Srivastava et al. 2015)", "gate (Highway)",
    lambda s, f, g: g * f + (1.0 - g) * s, 2, gated=True, join_label="gate: (1−g)·S + g·F"))
register_combine(Combine(
    "sgate", "o", "shortcut-only gating: (1−g(x))·S(x) + F(x) (He et al. 2016 fig. 2d)", "gate shortcut",
    lambda s, f, g: f + (1.0 - g) * s, 1, gated=True, join_label="gate: (1−g)·S + F"))
register_combine(Combine(
    "drop", "d", "dropout shortcut: dropout(S(x), 0.5) + F(x), training only (He et al. 2016 fig. 2f)",
    "dropout shortcut", lambda s, f, g: f + s, 2, shortcut_dropout=0.5, edge="dropout 0.5 · {}"))


# ---- the kinds -------------------------------------------------------------------------------
def _basic(m, b, c_in):  # He et al. 2015 fig. 2: layer-norm-act-layer-norm, join, act
    w = b.width
    return [("conv1", m.layer(c_in, w, 3, b.stride)), ("norm1", m.norm(w)), ("act1", m.act(w)),
            ("conv2", m.layer(w, w, 3, 1)), ("norm2", m.norm(w))], m.act(w)


def _preact(m, b, c_in):  # He et al. 2016 fig. 1b: norm-act-layer twice, nothing after the join
    w = b.width
    return [("norm1", m.norm(c_in)), ("act1", m.act(c_in)), ("conv1", m.layer(c_in, w, 3, b.stride)),
            ("norm2", m.norm(w)), ("act2", m.act(w)), ("conv2", m.layer(w, w, 3, 1))], None


def _three_layer(inner: int, groups: int, m, b, c_in):
    w = b.width
    return [("conv1", m.layer(c_in, inner, 1, 1)), ("norm1", m.norm(inner)), ("act1", m.act(inner)),
            ("conv2", m.layer(inner, inner, 3, b.stride, groups)), ("norm2", m.norm(inner)),
            ("act2", m.act(inner)),
            ("conv3", m.layer(inner, w, 1, 1)), ("norm3", m.norm(w))], m.act(w)


def _bottleneck(m, b, c_in):  # He et al. 2015 fig. 5: 1x1 down to width/4, 3x3, 1x1 up
    return _three_layer(max(1, b.width // 4), 1, m, b, c_in)


def _resnext(m, b, c_in):  # Xie et al. 2017 fig. 3c: 1x1 down to width/2, grouped 3x3, 1x1 up
    return _three_layer(b.width // 2, m.cardinality, m, b, c_in)


def _dense(m, b, c_in):  # Huang et al. 2017 sec. 3: H = BN-ReLU-Conv3x3 making k new channels
    new = b.width - c_in if b.skip else b.width  # the plain twin makes every channel itself
    return [("norm1", m.norm(c_in)), ("act1", m.act(c_in)), ("conv1", m.layer(c_in, new, 3, b.stride))], None


def _transition(m, b, c_in):  # Huang et al. 2017 sec. 3: BN, 1x1 conv, 2x2 average pooling
    parts = [("norm1", m.norm(c_in)), ("act1", m.act(c_in)), ("conv1", m.layer(c_in, b.width, 1, 1))]
    if b.stride > 1:
        parts.append(("pool", m.pool(b.stride, b.width)))
    return parts, None


def _check_bottleneck(spec, name, b, c_in):
    if b.width < 4:
        raise SpecError(f"{name}.width", "a bottleneck needs width >= 4 (inner width = width/4)")


def _check_resnext(spec, name, b, c_in):
    if spec.family != "cnn":
        raise SpecError(f"{name}.kind", "a ResNeXt block is convolutional (grouped 3x3); use the cnn family")
    inner = b.width // 2
    if inner < spec.cardinality or inner % spec.cardinality:
        raise SpecError(f"{name}.width", f"a ResNeXt block's inner width (width/2 = {inner}) must be "
                                         f"a multiple of the cardinality {spec.cardinality}")


def _check_dense(spec, name, b, c_in):
    if b.width <= c_in:  # with or without its skip, so the twin is valid too
        raise SpecError(f"{name}.width", f"a dense block concatenates new channels to its {c_in} "
                                         f"inputs: its width must exceed {c_in}")
    if b.combine != "add":
        raise SpecError(f"{name}.combine", "a dense block concatenates; it has no other combine")


def _check_transition(spec, name, b, c_in):
    if b.skip:
        raise SpecError(f"{name}.skip", "a transition layer has no skip (DenseNet's layer between "
                                        "dense blocks); turn its skip off")
    if b.combine != "add":
        raise SpecError(f"{name}.combine", "a transition layer has no shortcut to combine")


register_kind(Kind(
    "basic", "b", "basic: two 3x3 layers, activation after the add (He et al. 2015 fig. 2)",
    "basic, plain: two 3x3 layers, each followed by its activation", 2, 2, "add", _basic))
register_kind(Kind(
    "preact", "r", "pre-activation: norm-act-layer twice, clean identity path (He et al. 2016)",
    "pre-activation, plain: norm-act-layer twice", 2, 2, "add", _preact, head_norm=True))
register_kind(Kind(
    "bottleneck", "k", "bottleneck: 1x1 down, 3x3, 1x1 up (inner width = width/4) (He et al. 2015 fig. 5)",
    "bottleneck, plain: 1x1 down, 3x3, 1x1 up (inner width = width/4)", 3, 3, "add", _bottleneck,
    _check_bottleneck))
register_kind(Kind(
    "resnext", "x", "ResNeXt: 1x1 down to width/2, grouped 3x3 (cardinality groups), 1x1 up (Xie et al. 2017)",
    "ResNeXt, plain: 1x1 down, grouped 3x3, 1x1 up", 3, 3, "add", _resnext, _check_resnext,
    knobs=("cardinality",)))
register_kind(Kind(
    "dense", "d", "dense: norm-act-3x3 makes (width − input width) new channels, concatenated to the "
                  "input (Huang et al. 2017)",
    "dense, plain: norm-act-3x3 makes all width channels, nothing concatenated", 1, 1, "concat", _dense,
    _check_dense, head_norm=True, join_label="concat [x, F(x)]"))  # DenseNets end with norm + act too
register_kind(Kind(
    "transition", "t", "transition: norm-act-1x1 to width, then 2x2 average pooling where it strides; no "
                       "skip (DenseNet's layer between dense blocks, Huang et al. 2017)",
    "transition: norm-act-1x1 to width, then 2x2 average pooling where it strides", 1, 1, "none",
    _transition, _check_transition))


# ---- a Transformer's sublayers (decoder-only; GPT-2's block, Radford et al. 2019) ---------------
# nanoGPT's block reads x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)) (pre-LN); the original
# Transformer (Vaswani et al. 2017) is post-LN: x = LN(x + F(x)). Each sublayer is one kind: its
# body F is [norm (pre-LN)] + its layers, and a post-LN norm comes after the add.
def _attn(m, b, c_in):  # causal multi-head self-attention: qkv projection, softmax mixing, output
    w = b.width
    pre = [("norm", m.norm(w))] if m.pre_norm else []
    return pre + [("qkv", m.layer(w, 3 * w)), ("mix", m.attend(w)), ("out", m.layer(w, w))], \
        (m.norm(w) if m.post_norm else None)


def _mlp(m, b, c_in):  # position-wise MLP, 4x wider inside (GPT-2), one activation
    w = b.width
    pre = [("norm", m.norm(w))] if m.pre_norm else []
    return pre + [("fc", m.layer(w, 4 * w)), ("act", m.act(4 * w)), ("out", m.layer(4 * w, w))], \
        (m.norm(w) if m.post_norm else None)


def _check_sublayer(spec, name, b, c_in):
    if spec.family != "transformer":
        raise SpecError(f"{name}.kind", f"an {b.kind} sublayer belongs to a Transformer; use the "
                                        "transformer family")
    if b.combine != "add" or b.stride != 1 or b.shortcut != "A":
        raise SpecError(name, "a Transformer sublayer adds its branch to the identity (stride 1, "
                              "shortcut A, combine add)")


register_kind(Kind(
    "attn", "a", "causal self-attention sublayer, added to the residual stream",
    "causal self-attention sublayer, plain: its output replaces the stream", 2, 1, "add", _attn,
    _check_sublayer, knobs=("heads",), families=("transformer",)))
register_kind(Kind(
    "mlp", "m", "MLP sublayer (width → 4·width → width), added to the residual stream",
    "MLP sublayer, plain: its output replaces the stream", 2, 1, "add", _mlp, _check_sublayer,
    families=("transformer",)))
