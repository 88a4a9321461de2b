"""BlockSpec: one block of a network, and the stable names of blocks (``stage1.block0``; in a
Transformer ``layer0.attn`` and ``layer0.mlp``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SpecError
from .kinds import BLOCK_KINDS


@dataclass(frozen=True)
class BlockSpec:
    """One block. Plain and residual blocks are the same kind; ``skip`` is the only switch."""

    kind: str = "basic"  # a name of BLOCK_KINDS (the registry, :mod:`.kinds`)
    width: int = 16  # output channels (cnn) or features (mlp)
    stride: int = 1  # spatial stride of the block's first conv (cnn only; mlp must use 1)
    skip: bool = True  # add the shortcut to the body's output; False = the plain block
    shortcut: str = "A"  # one of SHORTCUTS; matters where the shape changes (or always, for C)
    combine: str = "add"  # a name of COMBINES: how the shortcut joins the branch (with a skip)

    @property
    def adds_branch(self) -> bool:
        """Whether the block adds (or gates) its branch into a shortcut: a skip, on a kind whose
        join is an add (not a dense block, which concatenates). The one definition: stochastic
        depth, Fixup's L, the combine, zero-init and the builder's notes all ask this."""
        return self.skip and BLOCK_KINDS[self.kind].adds

    @property
    def concatenates(self) -> bool:
        """Whether the block concatenates its input to its branch's output (a dense block's skip)."""
        return self.skip and BLOCK_KINDS[self.kind].join == "concat"

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
# A Transformer's layer i is its stage i (0-based, as GPT-2's h.0 and TransformerLens' blocks.0):
# its attention sublayer first, its MLP second.
SUBLAYERS = ("attn", "mlp")
_SUBLAYER_NAME = re.compile(r"^layer(\d+)\.(attn|mlp)$")


def parse_block_name(name: str) -> tuple[int, int]:
    """``"stage2.block0"`` -> (1, 0): 0-based stage and block index; a Transformer's
    ``"layer3.mlp"`` -> (3, 1). Raises SpecError."""
    t = _SUBLAYER_NAME.match(str(name))
    if t:
        return int(t.group(1)), SUBLAYERS.index(t.group(2))
    m = _BLOCK_NAME.match(str(name))
    if not m or int(m.group(1)) < 1:
        raise SpecError("block", f"expected a name such as stage1.block0 or layer0.attn, got "
                                 f"{str(name)[:30]!r}")
    return int(m.group(1)) - 1, int(m.group(2))


def sublayer_name(layer: int, kind: str) -> str:
    """(0-based layer, ``"attn"`` or ``"mlp"``) -> ``"layer{layer}.{kind}"``: a Transformer's
    stable names (the model's modules, the probe, the charts and the CLI)."""
    return f"layer{layer}.{kind}"


def block_name(stage: int, index: int) -> str:
    """(0-based stage, block index) -> ``"stage{stage+1}.block{index}"``, the stable names of
    the model's modules, the charts and the CLI."""
    return f"stage{stage + 1}.block{index}"
