"""Named networks: He et al.'s CIFAR ResNets and their plain twins, the theory pages' MLPs, and the
family around ResNet (:mod:`.zoo`) at depth 20."""

from __future__ import annotations

from .grammar import DEFAULT_GLOBALS
from .netspec import BlockSpec, NetSpec, SpecError


def cifar_resnet(depth: int, skip: bool = True, width: int = 16, kind: str = "basic",
                 shortcut: str = "A", **globals_) -> NetSpec:
    """He et al. 2015 CIFAR ResNet of depth 6n+2 (option A shortcuts, as in their CIFAR runs)."""
    if depth < 8 or (depth - 2) % 6:
        raise SpecError("depth", f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
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


def _presets() -> dict[str, tuple[str, NetSpec]]:
    out: dict[str, tuple[str, NetSpec]] = {}
    for d in (20, 32, 44, 56, 110, 1202):
        out[f"resnet{d}"] = (f"He et al. 2015 CIFAR ResNet-{d} (basic blocks, option A)",
                             cifar_resnet(d, skip=True))
        out[f"plain{d}"] = (f"plain twin of ResNet-{d}: same layers and weights, no skips",
                            cifar_resnet(d, skip=False))
    out["preact-resnet110"] = ("He et al. 2016 pre-activation ResNet-110",
                               cifar_resnet(110, kind="preact"))
    for d in (20, 50):
        out[f"mlp-sigmoid{d}"] = (f"sigmoid MLP, {d} layers, no norm, with skips",
                                  mlp(d, skip=True, act="sigmoid"))
        out[f"mlp-sigmoid{d}-plain"] = (f"sigmoid MLP, {d} layers, no norm, no skips",
                                        mlp(d, skip=False, act="sigmoid"))
        out[f"mlp-relu{d}"] = (f"ReLU MLP, {d} layers, no norm, with skips",
                               mlp(d, skip=True, act="relu"))
        out[f"mlp-relu{d}-plain"] = (f"ReLU MLP, {d} layers, no norm, no skips",
                                     mlp(d, skip=False, act="relu"))
    out["mlp-relu20-skipinit"] = ("ReLU MLP with skips and a zero-initialised residual scale "
                                  "(SkipInit, De & Smith 2020)",
                                  mlp(20, skip=True, act="relu", res_scale=0.0))
    out.update(_zoo_presets(ZOO_DEPTH))
    return out


ZOO_DEPTH = 20  # the zoo's variants as presets at He et al.'s smallest CIFAR depth (6n+2, n = 3)


def _zoo_presets(depth: int) -> dict[str, tuple[str, NetSpec]]:
    """``zoo-<variant><layers>``: every zoo variant built at ``depth`` (three blocks per stage). The
    name carries the network's own layer count, which is the depth's only where a block has two
    weighted layers (ResNeXt's three-layer blocks make zoo-resnext29, Xie et al.'s ResNeXt-29)."""
    # zoo imports cifar_resnet from this module, so it is imported here, once this module's
    # functions exist (PRESETS is built at the end of the module).
    from .zoo import VARIANTS

    out = {}
    for v in VARIANTS.values():
        spec = v.build(depth)
        out[f"zoo-{v.name}{spec.depth}"] = (f"{v.label}: {v.idea} ({v.cite})", spec)
    return out


PRESETS: dict[str, tuple[str, NetSpec]] = _presets()


def preset(name: str) -> NetSpec:
    try:
        return PRESETS[name][1]
    except KeyError:
        raise SpecError("preset", f"unknown preset {name[:40]!r}; known: {', '.join(PRESETS)}") from None

