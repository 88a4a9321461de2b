"""The two layouts every named network starts from: He et al.'s CIFAR ResNet (depth 6n+2) and
the theory pages' MLP (depth = stem + 2 per block + head)."""

from __future__ import annotations

from .block import BlockSpec
from .errors import SpecError
from .grammar import DEFAULT_GLOBALS
from .netspec import NetSpec


def blocks_per_stage(depth: int) -> int:
    """n of a CIFAR ResNet of depth 6n+2 (three stages of n two-layer blocks, a stem and a head):
    the one depth rule of the presets, the zoo and the CLI. Raises SpecError for any other depth."""
    if depth < 8 or (depth - 2) % 6:
        raise SpecError("depth", f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    return (depth - 2) // 6


def cifar_resnet(depth: int, skip: bool = True, width: int = 16, kind: str = "basic",
                 shortcut: str = "A", **globals_) -> NetSpec:
    """He et al. 2015 CIFAR ResNet of depth 6n+2 (option A shortcuts, as in their CIFAR runs)."""
    n = blocks_per_stage(depth)
    stages = []
    for i in range(3):
        w = width * 2**i
        stages.append(tuple(BlockSpec(kind=kind, width=w, stride=(2 if (i and j == 0) else 1),
                                      skip=skip, shortcut=shortcut)
                            for j in range(n)))
    kw = dict(DEFAULT_GLOBALS["cnn"])
    kw.update(stem_width=width)
    kw.update(globals_)
    return NetSpec(family="cnn", stages=tuple(stages), **kw)


def mlp(depth: int, skip: bool = True, width: int = 64, act: str = "sigmoid", norm: str = "none",
        kind: str = "preact", **globals_) -> NetSpec:
    """A fully connected net of ``depth`` weighted layers: stem + (depth-2)/2 two-layer blocks + head.

    Pre-activation blocks by default, so the skip is a clean identity, x + F(x): with the
    activation after the add (post-activation, "basic") every block's sum still passes through
    sigma', and a sigmoid net vanishes even with skips (He et al. 2016, arXiv 1603.05027, sec. 3).
    """
    if depth < 4 or depth % 2:
        raise SpecError("depth", f"an mlp here has an even depth >= 4 (stem + 2 per block + head), got {depth}")
    n = (depth - 2) // 2
    b = BlockSpec(kind=kind, width=width, skip=skip)
    kw = dict(DEFAULT_GLOBALS["mlp"])
    kw.update(stem_width=width, act=act, norm=norm)
    kw.update(globals_)
    return NetSpec(family="mlp", stages=((b,) * n,), **kw)
