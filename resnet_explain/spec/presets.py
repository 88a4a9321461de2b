"""Named networks: He et al.'s CIFAR ResNets and their plain twins, the theory pages' MLPs, and the
family around ResNet (:mod:`.zoo`) at depth 20 (the layouts themselves: :mod:`.layouts`)."""

from __future__ import annotations

from .errors import SpecError
from .layouts import cifar_resnet, mlp
from .netspec import NetSpec
from .zoo import VARIANTS


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

