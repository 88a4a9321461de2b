"""NetSpec: one frozen, hashable description of a network, and its edits (validation: :mod:`.validate`).

Every page, the CLI and every cache key use the same object, and its URL query string
(``to_query`` / ``from_query``, grammar in :mod:`resnet_explain.spec.grammar`) is its
serialisation, so a copied link rebuilds the same network (TensorFlow Playground keeps its whole
network in the URL for the same reason).

Three families:

* ``mlp``: fully connected blocks on a flat input (the theory pages);
* ``cnn``: the CIFAR-style ResNet of He et al. 2015 (arXiv 1512.03385, section 4.2): a 3x3 stem,
  stages of widths w, 2w, 4w with stride 2 at each stage start, global average pooling and a
  linear head; depth 6n+2;
* ``transformer``: a small decoder-only Transformer (GPT-2's layout, Radford et al. 2019): token +
  position embedding, ``depth`` layers each of an ``attn`` and an ``mlp`` sublayer (one stage per
  layer, names ``layer0.attn``, ``layer0.mlp``), a final norm (pre-LN only) and an unembedding;
  ``norm`` places LayerNorm (``pre``, ``post`` or ``none``), ``res_scale`` = 0 is ReZero and
  ``deepnorm`` is DeepNorm (:mod:`.transformer`).

The network is a tuple of stages, each a tuple of :class:`BlockSpec`. Plain and residual blocks
are one kind with a ``skip`` switch, so every network has a twin that differs only in its skips.
Edits (insert, remove, move, set a block or a stage) are methods that return a new, validated spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterator

from . import grammar
from .block import BlockSpec, block_name, parse_block_name, sublayer_name
from .errors import SpecError
from .kinds import BLOCK_KINDS
from .limits import MAX_WIDTH
from .validate import validate


@dataclass(frozen=True)
class NetSpec:
    """A whole network. Frozen and hashable: it is the cache key everywhere."""

    family: str = "cnn"  # "mlp", "cnn" or "transformer"
    stages: tuple[tuple[BlockSpec, ...], ...] = ()  # stage -> blocks; names stage{i}.block{j}
    act: str = "relu"  # activation everywhere (one module per call site)
    norm: str = "batch"  # "batch" (BatchNorm) or "none"; a transformer: "pre", "post" (LayerNorm) or "none"
    init: str = "default"  # PyTorch's default (a transformer: GPT-2's), kaiming (He et al. 2015b) or xavier (Glorot 2010)
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
    heads: int = 4  # transformer: attention heads (each width/heads wide)
    context: int = 64  # transformer: the longest token sequence (positions embedded)
    vocab: int = 256  # transformer: token ids 0..vocab-1 (bytes: 256)
    deepnorm: bool = False  # transformer, post-LN: x <- LN(alpha*x + F(x)), beta-scaled init (Wang et al. 2022)

    # ---- derived -------------------------------------------------------------------------
    @property
    def blocks(self) -> list[BlockSpec]:
        return [b for stage in self.stages for b in stage]

    def named_blocks(self) -> Iterator[tuple[str, BlockSpec]]:
        tf = self.family == "transformer"
        for i, stage in enumerate(self.stages):
            for j, b in enumerate(stage):
                yield (sublayer_name(i, b.kind) if tf else block_name(i, j)), b

    def block(self, name: str) -> BlockSpec:
        i, j = self._locate(name)
        return self.stages[i][j]

    def in_widths(self) -> list[int]:
        """The input width of every block, in order (the stem's width for the first; in a
        transformer every sublayer reads the residual stream, its first block's width)."""
        out, width = [], self.blocks[0].width if self.family == "transformer" and self.stages else self.stem_width
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
        """Weighted layers on the longest path: stem + layers per block + head (He's count). A
        transformer's depth is its number of layers (attention + MLP each), as GPT-2's "12 layers"."""
        if self.family == "transformer":
            return len(self.stages)
        return 2 + sum(BLOCK_KINDS[b.kind].layers for b in self.blocks)

    @property
    def width(self) -> int:
        """A transformer's d_model (every sublayer's width); otherwise the last block's width."""
        return self.blocks[0].width if self.family == "transformer" else self.blocks[-1].width

    @property
    def any_skip(self) -> bool:
        return any(b.skip for b in self.blocks)

    @property
    def head_norm(self) -> bool:
        """Whether the head starts with norm + act: the last block's kind leaves its output
        unnormalised (He et al. 2016's pre-activation nets, DenseNets). Model and cost ask this."""
        return BLOCK_KINDS[self.blocks[-1].kind].head_norm

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
        if self.family == "transformer":
            return (batch, self.context)  # token ids
        return (batch, self.in_features)

    # ---- edits (all return new, validated specs) -----------------------------------------
    def with_skips(self, on: bool) -> "NetSpec":
        """Every block gets ``skip=on``. Where a zero-padded shortcut (A) would have to shrink the
        width, the block gets a projection (B): zero-padding cannot remove channels."""
        if not on:
            return self.map_blocks(lambda b: replace(b, skip=False))
        blocks = [b if not BLOCK_KINDS[b.kind].can_skip else  # e.g. a transition never has a skip
                  replace(b, skip=True, shortcut="B" if (b.shortcut == "A" and b.width < w) else b.shortcut)
                  for b, w in zip(self.blocks, self.in_widths())]
        return self._restage(blocks)

    def twin(self) -> "NetSpec":
        """The same network with every skip toggled: residual (any skip) -> plain, plain ->
        residual. Every block but one of a kind that never has one (a transition) can take a skip,
        so the twin differs in its skips unless the network is such blocks only."""
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
        kind without a skip or a combine (a transition, a dense block) also turns those off."""
        i, j = self._locate(name)
        changes = _fit_kind(changes)
        return self._edit(lambda S: S[i].__setitem__(j, replace(S[i][j], **changes)))

    def set_blocks(self, stage: int | None = None, **changes) -> "NetSpec":
        """Change fields of every block of one stage (1-based), or of the whole network."""
        if stage is not None:
            self._check_stage(stage)
        changes = _fit_kind(changes)
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
        return grammar.to_query(self)

    def to_params(self) -> dict[str, str]:
        return grammar.to_params(self)

    @classmethod
    def from_params(cls, params: dict[str, str]) -> "NetSpec":
        """The spec of query keys -> values (as :func:`grammar.params_from_query` gives)."""
        return cls(**grammar.fields_from_params(params))

    @classmethod
    def from_query(cls, query: str | dict, ignore=frozenset()) -> "NetSpec":
        """Parse a query string (or a dict of str -> str | list[str]); keys in ``ignore`` (a
        page's own, e.g. ``resnet_explain.ui.url_keys.NON_SPEC_KEYS``) are skipped. Raises
        SpecError, also for a key that is neither the spec's nor ignored."""
        if cls is NetSpec and isinstance(query, str) and isinstance(ignore, frozenset):
            return _parsed(query, ignore)  # a spec is frozen: one parse per query string
        return cls.from_params(grammar.params_from_query(query, ignore))

    def summary(self) -> str:
        kinds = sorted({b.kind for b in self.blocks})
        if self.family == "transformer":
            extra = ", ReZero" if self.res_scale == 0 else ", DeepNorm" if self.deepnorm else ""
            return (f"transformer, {self.depth} layers, width {self.width}, {self.heads} heads, "
                    f"context {self.context}, vocab {self.vocab}, {self.n_skips}/{self.n_blocks} "
                    f"skips, {self.norm}-LN{extra}".replace("none-LN", "no norm"))
        return (f"{self.family} depth {self.depth}, {self.n_blocks} blocks ({'/'.join(kinds)}), "
                f"{self.n_skips} skips, {self.act}, norm={self.norm}")


@lru_cache(maxsize=1024)
def _parsed(query: str, ignore: frozenset) -> NetSpec:
    """:meth:`NetSpec.from_query` of a query string, parsed once per process: pages and stored runs
    parse the same few strings on every visit (a failed parse is not cached: it raises)."""
    return NetSpec.from_params(grammar.params_from_query(query, ignore))


def _fit_kind(changes: dict) -> dict:
    """An edit that makes a block a kind that never has a skip (a transition) also switches off
    its skip and combine; one that makes it a kind without a combine (a dense block) sets the
    combine to add unless the edit names one."""
    kind = BLOCK_KINDS.get(changes.get("kind")) if isinstance(changes.get("kind"), str) else None
    if kind is None:
        return changes
    if not kind.can_skip:
        return {**changes, "skip": False, "combine": "add"}
    return changes if kind.adds or "combine" in changes else {**changes, "combine": "add"}


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
