"""Cost estimate, computed from the spec alone, before any tensor is allocated.

Parameters are exact (tested equal to the built model); FLOPs are equal to what
``torch.utils.flop_counter.FlopCounterMode`` counts for one forward pass, for every block kind,
shortcut, family and norm (tests/unit/test_cost.py); activations are tested to lie between 0.9x and
4x the elements autograd saves in a training step (never well under: the budget refuses on them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .block import BlockSpec
from .errors import SpecError
from .kinds import BLOCK_KINDS, COMBINES
from .limits import MAX_PARAMS
from .netspec import NetSpec


@dataclass(frozen=True)
class Cost:
    params: int  # exact parameter count of build_model(spec) (tested)
    flops: int  # forward FLOPs per example (a Transformer: per sequence) of the weighted layers (2 per multiply-add)
    activations: int  # elements per example that a training step keeps for backward (estimate)

    def memory_bytes(self, batch: int, bytes_per_value: int = 4) -> int:
        """Rough training-step memory: weights + grads + momentum, plus saved activations."""
        return bytes_per_value * (3 * self.params + self.activations * batch)


class Counter:
    """The cost side of a kind's body recipe (:mod:`.kinds`): the same makers the model uses
    (``layer``, ``norm``, ``act``, ``pool``), each counting what its module would hold, compute
    and keep for backward at the current spatial side, instead of making it."""

    def __init__(self, spec: NetSpec):
        self.cnn = spec.family == "cnn"
        self.bn = spec.norm == "batch"
        self.cardinality = spec.cardinality
        self.params = self.flops = self.acts = 0
        self.side = spec.in_size if self.cnn else 1

    @property
    def area(self) -> int:
        return self.side * self.side

    def _stride(self, stride: int) -> None:
        if self.cnn:
            self.side = (self.side - 1) // stride + 1

    def layer(self, c_in, c_out, kernel=3, stride=1, groups=1, bias=None):
        """A conv (cnn) or linear layer; a bias only where no norm follows, unless told."""
        self._stride(stride)
        kk = kernel * kernel if self.cnn else 1
        bias = (not self.bn) if bias is None else bias
        self.params += kk * c_in * c_out // groups + (c_out if bias else 0)
        self.flops += 2 * kk * c_in * c_out * self.area // groups
        self.acts += c_out * self.area

    def elementwise(self, width, n=1):
        """``n`` elementwise outputs of ``width`` channels kept for backward (norm, act, add, ...)."""
        self.acts += n * width * self.area

    def norm(self, width):
        if self.bn:
            self.params += 2 * width
            self.elementwise(width)

    def act(self, width):
        self.elementwise(width)

    def pool(self, stride, width):
        if stride > 1 and self.cnn:
            self._stride(stride)
            self.elementwise(width)  # the pooled output


class TransformerCounter:
    """The cost side of a Transformer sublayer's recipe (``attn``, ``mlp``), per sequence of
    ``context`` tokens: linear layers with biases, LayerNorms, activations and the attention's
    mixing (q·kᵀ and the weights times v: 2·T²·width FLOPs each, the full square as PyTorch's
    FlopCounterMode counts attention where it sees it; on a CPU it does not see the fused kernel)."""

    cardinality = 1

    def __init__(self, spec: NetSpec):
        self.t, self.heads = spec.context, spec.heads
        self.pre_norm, self.post_norm = spec.norm == "pre", spec.norm == "post"
        self.params = self.flops = self.acts = 0

    def layer(self, c_in, c_out, kernel=1, stride=1, groups=1):
        self.params += c_in * c_out + c_out
        self.flops += 2 * self.t * c_in * c_out
        self.acts += self.t * c_out

    def elementwise(self, width, n=1):
        self.acts += n * width * self.t

    def norm(self, width):
        self.params += 2 * width
        self.elementwise(width)

    def act(self, width):
        self.elementwise(width)

    def attend(self, width):
        self.flops += 4 * self.t * self.t * width
        self.elementwise(width)  # the output (and a log-sum-exp per head and position)
        self.acts += self.heads * self.t


def _transformer_cost(spec: NetSpec) -> Cost:
    c = TransformerCounter(spec)
    w, t = spec.width, spec.context
    c.params += (spec.vocab + t) * w  # token and position embeddings
    c.elementwise(w)  # the embedded stream
    for b in spec.blocks:
        BLOCK_KINDS[b.kind].body(c, b, w)
        if b.adds_branch:
            if spec.res_scale != 1.0:  # ReZero's alpha (or SkipInit's scalar)
                c.params += 1
                c.elementwise(w)
            c.elementwise(w)  # the sum
    if spec.norm == "pre":
        c.norm(w)  # the final LayerNorm
    c.params += w * spec.vocab  # the unembedding (untied, no bias)
    c.flops += 2 * t * w * spec.vocab
    c.acts += t * spec.vocab  # the logits: the loss keeps their softmax
    return Cost(params=c.params, flops=c.flops, activations=c.acts)


def estimate_cost(spec: NetSpec) -> Cost:
    if spec.family == "transformer":
        return _transformer_cost(spec)
    c = Counter(spec)
    c_in = spec.in_channels if c.cnn else spec.in_features
    c.elementwise(c_in)  # the input: the stem layer keeps it for its weight gradient
    c.layer(c_in, spec.stem_width, 3, 1)
    c.norm(spec.stem_width)
    c.act(spec.stem_width)
    for b, width, survival in zip(spec.blocks, spec.in_widths(), spec.block_survival()):
        _block(c, spec, b, width, survival)
    width = spec.blocks[-1].width
    if spec.head_norm:
        c.norm(width)
        c.act(width)
    if c.cnn:
        c.acts += width  # the pooled features the head's layer keeps
    c.params += width * spec.classes + spec.classes
    c.flops += 2 * width * spec.classes
    c.acts += spec.classes  # the logits: the loss keeps their softmax
    return Cost(params=c.params, flops=c.flops, activations=c.acts)


def _block(c: Counter, spec: NetSpec, b: BlockSpec, c_in: int, survival: float) -> None:
    """One block: its kind's body recipe (and the activation after its join), then its skip."""
    w, in_side = b.width, c.side
    BLOCK_KINDS[b.kind].body(c, b, c_in)
    if b.concatenates:
        c.elementwise(w)  # the concatenation
    if not b.adds_branch:
        return
    out_side, combine = c.side, COMBINES[b.combine]
    if b.projects(c_in):  # a 1x1 layer and its norm on the block's input
        c.side = in_side
        c.layer(c_in, w, 1, b.stride)
        c.norm(w)
    if combine.gated:  # a 1x1 layer with a bias, its sigmoid, 1 - g
        c.side = in_side
        c.layer(c_in, w, 1, b.stride, bias=True)
        c.elementwise(w, 2)
    c.side = out_side
    c.elementwise(w, combine.kept)
    if survival < 1.0:
        c.elementwise(w)  # the branch times its kept-or-not mask
    if spec.res_scale != 1.0 or spec.init == "fixup":
        c.params += 1
        c.elementwise(w)  # res_scale * branch keeps the branch for res_scale's gradient
    c.elementwise(w)  # the sum


def check_budget(spec: NetSpec, batch: int, max_memory_bytes: int,
                 max_params: int = MAX_PARAMS) -> Cost:
    """Raise SpecError (field "budget") when the spec would exceed the limits. No allocation."""
    cost = estimate_cost(spec)
    if cost.params > max_params:
        raise SpecError("budget", f"{cost.params:,} parameters exceed the limit of {max_params:,}; "
                                  "use fewer or narrower blocks")
    mem = cost.memory_bytes(batch)
    if mem > max_memory_bytes:
        raise SpecError("budget", f"about {mem / 2**20:,.0f} MiB for batch {batch} exceeds the "
                                  f"limit of {max_memory_bytes / 2**20:,.0f} MiB; use a smaller "
                                  "batch, fewer or narrower blocks")
    return cost
