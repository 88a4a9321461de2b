"""NetSpec: one frozen, hashable description of a network, and its validation.

Every page, the CLI and every cache key use the same object, and its URL query string
(``to_query`` / ``from_query``, grammar in :mod:`resnet_explain.spec.grammar`) is its
serialisation, so a copied link rebuilds the same network (TensorFlow Playground keeps its whole
network in the URL for the same reason).

Two families:

* ``mlp``: fully connected blocks on a flat input (the theory pages);
* ``cnn``: the CIFAR-style ResNet of He et al. 2015 (arXiv 1512.03385, section 4.2): a 3x3 stem,
  stages of widths w, 2w, 4w with stride 2 at each stage start, global average pooling and a
  linear head; depth 6n+2.

The network is a tuple of stages, each a tuple of :class:`BlockSpec`. Plain and residual blocks
are one kind with a ``skip`` switch, so every network has a twin that differs only in its skips.
Edits (insert, remove, move, set a block or a stage) are methods that return a new, validated spec.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Iterator

from ..errors import UserError

FAMILIES = ("mlp", "cnn")
BLOCK_KINDS = ("basic", "preact", "bottleneck", "resnext", "dense", "transition")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")
NORMS = ("batch", "none")
INITS = ("default", "kaiming", "xavier", "fixup")
# How a residual block joins its shortcut S(x) and its branch F(x) (He et al. 2016, arXiv
# 1603.05027, fig. 2 and table 1). "add" is the original; the others are that paper's variants
# (their 1x1-conv shortcut is shortcut option C).
COMBINES = ("add", "scale", "gate", "sgate", "drop")
COMBINE_LABELS = {
    "add": "add: S(x) + F(x), the original",
    "scale": "constant scaling: 0.5·S(x) + 0.5·F(x) (He et al. 2016 fig. 2b)",
    "gate": "exclusive gating: (1−g(x))·S(x) + g(x)·F(x), g = sigmoid(1×1 layer) — the Highway "
            "form (He et al. 2016 fig. 2c; Srivastava et al. 2015)",
    "sgate": "shortcut-only gating: (1−g(x))·S(x) + F(x) (He et al. 2016 fig. 2d)",
    "drop": "dropout shortcut: dropout(S(x), 0.5) + F(x), training only (He et al. 2016 fig. 2f)",
}
COMBINE_SHORT = {"add": "add", "scale": "×0.5 both", "gate": "gate (Highway)", "sgate": "gate shortcut",
                 "drop": "dropout shortcut"}
# He et al. 2015, section 4.1 ("Identity vs. Projection Shortcuts").
SHORTCUTS = ("A", "B", "C")
SHORTCUT_LABELS = {
    "A": "pad: identity, zero-padded where the shape changes (He et al. 2015 option A)",
    "B": "projection (1x1 conv + norm) where the shape changes, identity elsewhere (option B)",
    "C": "projection on every block (option C)",
}
KIND_LABELS = {
    "basic": "basic: two 3x3 layers, activation after the add (He et al. 2015 fig. 2)",
    "preact": "pre-activation: norm-act-layer twice, clean identity path (He et al. 2016)",
    "bottleneck": "bottleneck: 1x1 down, 3x3, 1x1 up (inner width = width/4) (He et al. 2015 fig. 5)",
    "resnext": "ResNeXt: 1x1 down to width/2, grouped 3x3 (cardinality groups), 1x1 up (Xie et al. 2017)",
    "dense": "dense: norm-act-3x3 makes (width − input width) new channels, concatenated to the "
             "input (Huang et al. 2017)",
    "transition": "transition: norm-act-1x1 to width, then 2x2 average pooling where it strides; no "
                  "skip (DenseNet's layer between dense blocks, Huang et al. 2017)",
}
# The same kinds with their skip off (the plain block): no add, so nothing comes "after the add".
PLAIN_KIND_LABELS = {
    "basic": "basic, plain: two 3x3 layers, each followed by its activation",
    "preact": "pre-activation, plain: norm-act-layer twice",
    "bottleneck": "bottleneck, plain: 1x1 down, 3x3, 1x1 up (inner width = width/4)",
    "resnext": "ResNeXt, plain: 1x1 down, grouped 3x3, 1x1 up",
    "dense": "dense, plain: norm-act-3x3 makes all width channels, nothing concatenated",
    "transition": "transition: norm-act-1x1 to width, then 2x2 average pooling where it strides",
}
# A shortcut option in a narrow select box; SHORTCUT_LABELS says it in full.
SHORTCUT_SHORT = {"A": "A: zero-pad", "B": "B: 1×1 if needed", "C": "C: 1×1 always"}


def describe_block(kind: str, skip: bool) -> str:
    """A block in words, as the builder shows it: with its skip, or as the plain block it is
    without one (no shortcut and no add)."""
    if kind == "transition":  # never a skip: the words are the same either way
        return f"{PLAIN_KIND_LABELS[kind]}; no skip (a transition has no shortcut)."
    if skip:
        if kind == "dense":
            return f"{KIND_LABELS[kind]}, with a skip (the concatenation)."
        return f"{KIND_LABELS[kind]}, with a skip."
    return f"{PLAIN_KIND_LABELS[kind]}; no skip (a plain block, no shortcut)."


LAYERS_PER_BLOCK = {"basic": 2, "preact": 2, "bottleneck": 3, "resnext": 3, "dense": 1, "transition": 1}  # weighted layers on the main path

# Hard caps. They bound what a request may even ask for; the cost budget (estimate_cost) bounds
# what it may allocate, and both are checked before any tensor exists.
MAX_BLOCKS = 1000  # ResNet-1202 has 600 blocks
MAX_WIDTH = 1024
MIN_WIDTH = 1
MAX_STRIDE = 2
MAX_CLASSES = 1000
MAX_IN_FEATURES = 4096
MAX_IN_CHANNELS = 16
MAX_IN_SIDE = 256
MIN_IN_SIDE = 4
MAX_PARAMS = 100_000_000
MAX_RES_SCALE = 10.0
MAX_GATE_BIAS = 20.0
MIN_SURVIVAL = 0.05
MAX_CARDINALITY = 64


class SpecError(UserError):
    """A network description that cannot be built. ``field`` names the offending field."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class BlockSpec:
    """One block. Plain and residual blocks are the same kind; ``skip`` is the only switch."""

    kind: str = "basic"  # one of BLOCK_KINDS
    width: int = 16  # output channels (cnn) or features (mlp)
    stride: int = 1  # spatial stride of the block's first conv (cnn only; mlp must use 1)
    skip: bool = True  # add the shortcut to the body's output; False = the plain block
    shortcut: str = "A"  # one of SHORTCUTS; matters where the shape changes (or always, for C)
    combine: str = "add"  # one of COMBINES: how the shortcut joins the branch (with a skip)

    @property
    def adds_branch(self) -> bool:
        """Whether the block adds (or gates) its branch into a shortcut: a skip, and not a dense
        block (which concatenates). The one definition: stochastic depth, Fixup's L, the combine,
        zero-init and the builder's notes all ask this."""
        return self.skip and self.kind != "dense"

    def changes_shape(self, c_in: int) -> bool:
        """Whether the block's output shape differs from its input's (more or fewer channels, or
        a stride): there an identity shortcut is impossible, and a plain block cannot be deleted.
        The one definition of this rule (blocks, cost, diagram, builder and lesion use it)."""
        return c_in != self.width or self.stride != 1

    def projects(self, c_in: int) -> bool:
        """Whether the shortcut is a projection: option C always, option B where the shape changes.
        Never for a dense block: its input is concatenated as it is (pooled where it strides)."""
        return self.adds_branch and (self.shortcut == "C" or (self.shortcut == "B" and self.changes_shape(c_in)))


_BLOCK_NAME = re.compile(r"^stage(\d+)\.block(\d+)$")


def parse_block_name(name: str) -> tuple[int, int]:
    """``"stage2.block0"`` -> (1, 0): 0-based stage and block index. Raises SpecError."""
    m = _BLOCK_NAME.match(str(name))
    if not m or int(m.group(1)) < 1:
        raise SpecError("block", f"expected a name such as stage1.block0, got {str(name)[:30]!r}")
    return int(m.group(1)) - 1, int(m.group(2))


def block_name(stage: int, index: int) -> str:
    """(0-based stage, block index) -> ``"stage{stage+1}.block{index}"``, the stable names of
    the model's modules, the charts and the CLI."""
    return f"stage{stage + 1}.block{index}"


@dataclass(frozen=True)
class NetSpec:
    """A whole network. Frozen and hashable: it is the cache key everywhere."""

    family: str = "cnn"  # "mlp" or "cnn"
    stages: tuple[tuple[BlockSpec, ...], ...] = ()  # stage -> blocks; names stage{i}.block{j}
    act: str = "relu"  # activation everywhere (one module per call site)
    norm: str = "batch"  # "batch" (BatchNorm) or "none"
    init: str = "default"  # PyTorch's default, kaiming (He et al. 2015b) or xavier (Glorot 2010)
    zero_init_last: bool = False  # last norm (or layer) of each residual branch starts at 0
    res_scale: float = 1.0  # SkipInit/ReZero: learnable scalar on the branch, initialised here
    survival: float = 1.0  # stochastic depth: the last block's survival probability p_L (1 = off)
    gate_bias: float = -6.0  # initial bias of the gates (combine gate/sgate): He et al. 2016's best
    cardinality: int = 8  # groups of a ResNeXt block's 3x3 convolution (Xie et al. 2017)
    in_channels: int = 3  # cnn input channels
    in_size: int = 32  # cnn input side (square images)
    in_features: int = 64  # mlp input features
    stem_width: int = 16  # width after the stem
    classes: int = 10  # outputs of the head

    # ---- derived -------------------------------------------------------------------------
    @property
    def blocks(self) -> list[BlockSpec]:
        return [b for stage in self.stages for b in stage]

    def named_blocks(self) -> Iterator[tuple[str, BlockSpec]]:
        for i, stage in enumerate(self.stages):
            for j, b in enumerate(stage):
                yield block_name(i, j), b

    def block(self, name: str) -> BlockSpec:
        i, j = self._locate(name)
        return self.stages[i][j]

    def in_widths(self) -> list[int]:
        """The input width of every block, in order (the stem's width for the first)."""
        out, width = [], self.stem_width
        for b in self.blocks:
            out.append(width)
            width = b.width
        return out

    def in_width(self, name: str) -> int:
        return self.in_widths()[[n for n, _ in self.named_blocks()].index(name)]

    @property
    def n_blocks(self) -> int:
        return sum(len(s) for s in self.stages)

    @property
    def n_skips(self) -> int:
        return sum(b.skip for b in self.blocks)

    @property
    def depth(self) -> int:
        """Weighted layers on the longest path: stem + layers per block + head (He's count)."""
        return 2 + sum(LAYERS_PER_BLOCK[b.kind] for b in self.blocks)

    @property
    def any_skip(self) -> bool:
        return any(b.skip for b in self.blocks)

    @property
    def arch(self) -> str:
        """"residual" when any block has a skip, else "plain": the one label of a network (the
        run store, the charts, the CLI and the pages say it this way)."""
        return "residual" if self.any_skip else "plain"

    def block_survival(self) -> list[float]:
        """Stochastic depth's survival probability of every block, input to output: the linear
        decay rule p_l = 1 − (l/L)(1 − p_L) of Huang et al. 2016 (arXiv 1603.09382, eq. 4), with
        l = 1..L over the residual branches (blocks whose branch is added to a shortcut) and p_L =
        ``survival``. Plain and dense blocks are never dropped (1.0): without a skip dropping the
        branch would cut the network, and a dense block's new channels are its output."""
        L, out, l = max(1, self.residual_branches), [], 0
        for b in self.blocks:
            if b.adds_branch:
                l += 1
                out.append(1.0 - (l / L) * (1.0 - self.survival))
            else:
                out.append(1.0)
        return out

    @property
    def residual_branches(self) -> int:
        """Blocks whose branch is added to a shortcut (Fixup's L): a skip, and not a dense block."""
        return sum(b.adds_branch for b in self.blocks)

    def input_shape(self, batch: int = 1) -> tuple[int, ...]:
        if self.family == "cnn":
            return (batch, self.in_channels, self.in_size, self.in_size)
        return (batch, self.in_features)

    # ---- edits (all return new, validated specs) -----------------------------------------
    def with_skips(self, on: bool) -> "NetSpec":
        """Every block gets ``skip=on``. Where a zero-padded shortcut (A) would have to shrink the
        width, the block gets a projection (B): zero-padding cannot remove channels."""
        if not on:
            return self.map_blocks(lambda b: replace(b, skip=False))
        blocks = [b if b.kind == "transition" else  # a transition never has a skip
                  replace(b, skip=True, shortcut="B" if (b.shortcut == "A" and b.width < w) else b.shortcut)
                  for b, w in zip(self.blocks, self.in_widths())]
        return self._restage(blocks)

    def twin(self) -> "NetSpec":
        """The same network with every skip toggled: residual (any skip) -> plain, plain ->
        residual. Every block but a transition (which never has one) can take a skip, so the twin
        differs in its skips unless the network is transitions only."""
        return self.with_skips(not self.any_skip)

    def map_blocks(self, fn) -> "NetSpec":
        return replace(self, stages=tuple(tuple(fn(b) for b in s) for s in self.stages))

    def with_globals(self, **changes) -> "NetSpec":
        """Change whole-network fields (act, norm, init, family, ...). Switching to the mlp family
        sets every stride to 1 (a fully connected block has no spatial stride)."""
        s = self
        if changes.get("family", self.family) == "mlp":
            s = s.map_blocks(lambda b: replace(b, stride=1))
        return replace(s, **changes)

    def set_block(self, name: str, **changes) -> "NetSpec":
        """Change fields of one block (kind, width, stride, skip, shortcut, combine). Making it a
        transition also turns its skip off and its combine to add (a transition has neither)."""
        i, j = self._locate(name)
        changes = _as_transition(changes)
        return self._edit(lambda S: S[i].__setitem__(j, replace(S[i][j], **changes)))

    def set_blocks(self, stage: int | None = None, **changes) -> "NetSpec":
        """Change fields of every block of one stage (1-based), or of the whole network."""
        if stage is not None:
            self._check_stage(stage)
        changes = _as_transition(changes)
        return replace(self, stages=tuple(
            tuple(replace(b, **changes) for b in s) if stage in (None, k + 1) else s
            for k, s in enumerate(self.stages)))

    def duplicate_block(self, name: str) -> "NetSpec":
        """Insert a copy of the block right after it, with stride 1 (the shape is already set)."""
        i, j = self._locate(name)
        return self._edit(lambda S: S[i].insert(j + 1, replace(S[i][j], stride=1)))

    def remove_block(self, name: str) -> "NetSpec":
        """Remove a block; a stage left empty is removed too. The last block cannot go."""
        if self.n_blocks == 1:
            raise SpecError("stages", "the network needs at least one block")
        i, j = self._locate(name)
        return self._edit(lambda S: S[i].pop(j))

    def move_block(self, name: str, offset: int) -> "NetSpec":
        """Move a block ``offset`` places within its stage (clamped to the stage)."""
        i, j = self._locate(name)
        k = max(0, min(len(self.stages[i]) - 1, j + int(offset)))
        return self._edit(lambda S: S[i].insert(k, S[i].pop(j)))

    def set_stage(self, stage: int, width: int | None = None, count: int | None = None) -> "NetSpec":
        """Set a stage's (1-based) width for all its blocks and/or its number of blocks: extra
        blocks copy the last one with stride 1; fewer blocks keep the first ``count``."""
        self._check_stage(stage)
        blocks = list(self.stages[stage - 1])
        if width is not None:
            blocks = [replace(b, width=int(width)) for b in blocks]
        if count is not None:
            if int(count) < 1:
                raise SpecError("stages", "a stage needs at least one block")
            blocks = blocks[: int(count)]
            while len(blocks) < int(count):
                blocks.append(replace(blocks[-1], stride=1))
        stages = list(self.stages)
        stages[stage - 1] = tuple(blocks)
        return replace(self, stages=tuple(stages))

    def widen(self, factor: int) -> "NetSpec":
        """Every block ``factor`` times wider (Zagoruyko & Komodakis 2016's width factor k; the
        stem keeps its width, as in their WRN-d-k)."""
        factor = int(factor)
        if not 1 <= factor <= MAX_WIDTH:
            raise SpecError("widen", f"the width factor must be a whole number from 1 to {MAX_WIDTH}")
        return self.map_blocks(lambda b: replace(b, width=b.width * factor))

    def add_stage(self) -> "NetSpec":
        """Append a stage of one block copying the last, at double width (at most MAX_WIDTH) and,
        for a cnn, stride 2 (He et al.'s stage transition)."""
        last = self.stages[-1][-1]
        new = replace(last, width=min(MAX_WIDTH, last.width * 2), stride=2 if self.family == "cnn" else 1)
        return replace(self, stages=self.stages + ((new,),))

    def remove_stage(self) -> "NetSpec":
        if len(self.stages) == 1:
            raise SpecError("stages", "the network needs at least one stage")
        return replace(self, stages=self.stages[:-1])

    def to_rows(self) -> list[dict]:
        """One dict per block (name, stage, kind, width, stride, skip, shortcut): the builder's
        table. :meth:`from_rows` reads it back."""
        return [{"block": n, "stage": parse_block_name(n)[0] + 1, "kind": b.kind, "width": b.width,
                 "stride": b.stride, "skip": b.skip, "shortcut": b.shortcut, "combine": b.combine}
                for n, b in self.named_blocks()]

    def from_rows(self, rows: list[dict]) -> "NetSpec":
        """This network with its blocks replaced by ``rows`` (dicts as :meth:`to_rows` makes; the
        ``block`` key is ignored). A missing value (None or NaN, e.g. a row just added in a table)
        is taken from the row above, or from this network's last block for the first row. Blocks
        are grouped by ``stage`` in stage order. Raises SpecError for anything that is not valid."""
        fields = ("stage", "kind", "width", "stride", "skip", "shortcut", "combine")
        prev = {"combine": "add", **self.to_rows()[-1]}
        stages: dict[int, list[BlockSpec]] = {}
        for r in rows:
            # A row without a combine at all (a table from before combines) adds; an empty one
            # (a row just added in the table) copies the row above, as every other field does.
            r = {**r, "combine": r.get("combine", "add")}
            r = {k: (prev[k] if _missing(r.get(k)) else r[k]) for k in fields}
            try:
                stage = int(r["stage"])
                b = BlockSpec(kind=str(r["kind"]), width=int(r["width"]), stride=int(r["stride"]),
                              skip=bool(r["skip"]), shortcut=str(r["shortcut"]),
                              combine=str(r["combine"]))
            except (TypeError, ValueError) as exc:
                raise SpecError("stages", f"cannot read a block from {r}: {exc}") from None
            stages.setdefault(stage, []).append(b)
            prev = r
        if not stages:
            raise SpecError("stages", "the network needs at least one block")
        return replace(self, stages=tuple(tuple(stages[k]) for k in sorted(stages)))

    def _locate(self, name: str) -> tuple[int, int]:
        i, j = parse_block_name(name)
        if i >= len(self.stages) or j >= len(self.stages[i]):
            raise SpecError("block", f"no block {name!r} in this network")
        return i, j

    def _check_stage(self, stage: int) -> None:
        if not 1 <= int(stage) <= len(self.stages):
            raise SpecError("stage", f"must be from 1 to {len(self.stages)}, got {stage!r}")

    def _edit(self, fn) -> "NetSpec":
        stages = [list(s) for s in self.stages]
        fn(stages)
        return replace(self, stages=tuple(tuple(s) for s in stages if s))

    def _restage(self, blocks: list[BlockSpec]) -> "NetSpec":
        it = iter(blocks)
        return replace(self, stages=tuple(tuple(next(it) for _ in s) for s in self.stages))

    # ---- validation ------------------------------------------------------------------------
    def __post_init__(self):
        # Normalise list inputs so the spec stays hashable, then validate.
        try:
            stages = tuple(tuple(s) for s in self.stages)
        except TypeError:
            raise SpecError("stages", "must be a sequence of stages, each a sequence of BlockSpec") from None
        object.__setattr__(self, "stages", stages)
        validate(self)

    # ---- serialisation (grammar: resnet_explain.spec.grammar) -----------------------------
    def to_query(self) -> str:
        from .grammar import to_query

        return to_query(self)

    def to_params(self) -> dict[str, str]:
        from .grammar import to_params

        return to_params(self)

    @classmethod
    def from_query(cls, query: str | dict) -> "NetSpec":
        """Parse a query string (or a dict of str -> str | list[str]). Raises SpecError."""
        from .grammar import params_from_query, spec_from_params

        return spec_from_params(params_from_query(query))

    def summary(self) -> str:
        kinds = sorted({b.kind for b in self.blocks})
        return (f"{self.family} depth {self.depth}, {self.n_blocks} blocks ({'/'.join(kinds)}), "
                f"{self.n_skips} skips, {self.act}, norm={self.norm}")


def _as_transition(changes: dict) -> dict:
    """An edit that makes a block a transition also switches off what a transition cannot have."""
    if changes.get("kind") == "transition":
        return {**changes, "skip": False, "combine": "add"}
    return changes


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def validate(spec: NetSpec) -> None:
    """Raise SpecError naming the first field that is out of range."""
    if spec.family not in FAMILIES:
        raise SpecError("family", f"must be one of {FAMILIES}")
    for name, value, choices in (("act", spec.act, ACTIVATIONS), ("norm", spec.norm, NORMS),
                                 ("init", spec.init, INITS)):
        if value not in choices:
            raise SpecError(name, f"must be one of {choices}, got {value!r}")
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
    if not spec.stages or any(len(s) == 0 for s in spec.stages):
        raise SpecError("stages", "need at least one stage, and every stage at least one block")
    if spec.n_blocks > MAX_BLOCKS:
        raise SpecError("stages", f"at most {MAX_BLOCKS} blocks, got {spec.n_blocks}")
    for name, b in spec.named_blocks():
        if not isinstance(b, BlockSpec):
            raise SpecError(name, "must be a BlockSpec")
    for (name, b), width in zip(spec.named_blocks(), spec.in_widths()):
        if b.kind not in BLOCK_KINDS:
            raise SpecError(f"{name}.kind", f"must be one of {BLOCK_KINDS}, got {b.kind!r}")
        _check_int(f"{name}.width", b.width, MIN_WIDTH, MAX_WIDTH)
        if b.kind == "bottleneck" and b.width < 4:
            raise SpecError(f"{name}.width", "a bottleneck needs width >= 4 (inner width = width/4)")
        if b.kind == "resnext":
            if spec.family != "cnn":
                raise SpecError(f"{name}.kind", "a ResNeXt block is convolutional (grouped 3x3); use the cnn family")
            inner = b.width // 2
            if inner < spec.cardinality or inner % spec.cardinality:
                raise SpecError(f"{name}.width", f"a ResNeXt block's inner width (width/2 = {inner}) must be "
                                                 f"a multiple of the cardinality {spec.cardinality}")
        if b.combine not in COMBINES:
            raise SpecError(f"{name}.combine", f"must be one of {COMBINES}, got {b.combine!r}")
        if b.kind == "transition":
            if b.skip:
                raise SpecError(f"{name}.skip", "a transition layer has no skip (DenseNet's layer between "
                                                "dense blocks); turn its skip off")
            if b.combine != "add":
                raise SpecError(f"{name}.combine", "a transition layer has no shortcut to combine")
        if b.kind == "dense":
            if b.width <= width:  # with or without its skip, so the twin is valid too
                raise SpecError(f"{name}.width", f"a dense block concatenates new channels to its {width} "
                                                 f"inputs: its width must exceed {width}")
            if b.combine != "add":
                raise SpecError(f"{name}.combine", "a dense block concatenates; it has no other combine")
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


