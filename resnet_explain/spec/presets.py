"""Named networks: He et al.'s CIFAR ResNets and their plain twins, the theory pages' MLPs, the
family around ResNet (:mod:`.zoo`) at depth 20 (the layouts themselves: :mod:`.layouts`), and the
small decoder-only Transformers (:mod:`.transformer`)."""

from __future__ import annotations

from .errors import SpecError
from .layouts import cifar_resnet, mlp
from .netspec import NetSpec
from .transformer import transformer_spec
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
    out.update(_transformer_presets())
    return out


# The Transformer presets' size: the issue's figure size (width 128, 4 heads, context 64, bytes),
# at the depth of the CPU training grid (6 layers), so a preset names the network that is trained.
TF_SIZE = dict(depth=6, width=128, heads=4, context=64, vocab=256)


def _transformer_presets() -> dict[str, tuple[str, NetSpec]]:
    d = TF_SIZE["depth"]
    return {
        "tf-preln": (f"Transformer, {d} layers, pre-LN: x + F(LN(x)) (GPT-2; Xiong et al. 2020)",
                     transformer_spec(**TF_SIZE, norm="pre")),
        "tf-postln": (f"Transformer, {d} layers, post-LN: LN(x + F(x)) (Vaswani et al. 2017)",
                      transformer_spec(**TF_SIZE, norm="post")),
        "tf-noskip": (f"Transformer, {d} layers, no norms and no skips: the twin of the no-norm "
                      "Transformer (likely untrainable)",
                      transformer_spec(**TF_SIZE, norm="none", skips=False)),
        "tf-rezero": (f"Transformer, {d} layers, ReZero: x + α·F(x), α from 0, no norms "
                      "(Bachlechner et al. 2020)", transformer_spec(**TF_SIZE, norm="none", scaling="rezero")),
        "tf-deepnorm": (f"Transformer, {d} layers, DeepNorm: LN(α·x + F(x)), β-scaled Xavier init "
                        "(Wang et al. 2022)",
                        transformer_spec(**TF_SIZE, norm="post", scaling="deepnorm", init="xavier")),
    }


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

