"""Real architectures at initialisation: torchvision's models, random weights, probed per block.

The registry maps a torchvision builder name to the input size we feed it, the module type(s) the
probe treats as its blocks, how those blocks connect (a sum skip, a concatenation, none) and the
paper it comes from. Models are always built with ``weights=None``: nothing is downloaded, ever
(this module offers no pretrained weights), so everything works offline.

Input sizes: the smallest multiple of 32 that is honest for the model. Every convolutional model
here halves its input five times (total stride 32; VGG's five 2×2 poolings fail below 32×32).
Where BatchNorm runs in train mode after the last halving, 32×32 leaves it a 1×1 map: with two
examples it then normalises two values per channel, its output is ±1 whatever the input, and the
gradient through it collapses — the first/last ratio would measure that artefact, not the
network. So every train-mode BatchNorm must see at least a 2×2 map (8 values per channel at
batch 2): the ResNets and DenseNet get 64×64; VGG (its last BatchNorm comes before the fifth
pooling, at 2×2) and ConvNeXt-T (LayerNorm, per example) get 32×32. ViT-B/16 keeps its own
224×224 (14×14 patches of 16 pixels): its position embeddings are part of the architecture, so
we do not shrink ``image_size``.

One change to torchvision's initialisation: ViT-B/16's classification head is initialised to
zero there (``torchvision/models/vision_transformer.py``), so at initialisation no gradient
reaches any block at all (exactly 0, not an underflow). We give that head the truncated-normal
init torchvision gives its ``pre_logits`` layer (std √(1/fan_in)) and say so wherever it is shown.

The probe runs in train mode as everywhere in the app: BatchNorm uses batch statistics, and
dropout / drop-path (ConvNeXt-T's stochastic depth, 0.1 in torchvision) are active, drawn from
the seed. torchvision's ResNet reuses one ``nn.ReLU(inplace=True)`` per block and adds in place
(``out += identity``); the probe's hooks sit on block *outputs*, which nothing modifies in place
afterwards, so the numbers are right on the model as torchvision builds it
(tests/unit/test_real_models.py checks them against ``torch.autograd.grad``).
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..probe import probe
from ..seeding import global_rng, sub_seed

_IMPORT_LOCK = threading.Lock()
_SHIM = None  # keeps the torch.library fragment below alive (dropping it unregisters the ops)


def import_torchvision():
    """``import torchvision``, also where its compiled ops cannot load.

    PyPI's Linux torchvision wheel is linked against the CUDA build of torch; next to the CPU
    build (our Dockerfile, CI) its ``_C`` extension fails to load, and ``import torchvision``
    then dies in ``_meta_registrations`` with "operator torchvision::nms does not exist" (it
    registers a fake kernel for ``nms``/``qnms`` without checking that the extension loaded:
    pytorch/pytorch#157648, pytorch/vision#9086). The models use none of those detection ops, so
    we declare the two schemas (no kernel: calling ``torchvision.ops.nms`` still fails loudly)
    and import again."""
    global _SHIM
    with _IMPORT_LOCK:  # app sessions run in threads: one first import, one shim
        try:
            return importlib.import_module("torchvision")
        except ModuleNotFoundError:
            raise UserError("torchvision is not installed: pip install -r requirements.txt") from None
        except RuntimeError as exc:
            if "torchvision::" not in str(exc) or _SHIM is not None:
                raise
        _SHIM = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            _SHIM.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[mod]  # the failed import's half-initialised modules
        return importlib.import_module("torchvision")


@dataclass(frozen=True)
class RealModel:
    name: str  # torchvision's builder name (torchvision.models.<name>)
    title: str
    size: int  # input height = width, 3 channels (see the module docstring)
    blocks: tuple[str, ...]  # dotted paths of the module types the probe measures
    unit: str  # what one block is, in words
    connection: str  # "sum" (a skip added to the branch), "concat" (DenseNet) or "none"
    about: str  # one line, citing the paper
    note: str = ""  # what we change from torchvision's initialisation, if anything

    @property
    def skip(self) -> bool:
        return self.connection == "sum"


def _m(name, title, size, blocks, unit, connection, about, note=""):
    return name, RealModel(name, title, size, tuple(blocks), unit, connection, about, note)


_RES = "torchvision.models.resnet."
ZERO_HEAD_NOTE = ("torchvision initialises this head to zero, which would stop every gradient "
                  "below it at initialisation; here it gets the truncated-normal init (std "
                  "√(1/fan_in)) torchvision gives its pre_logits layer")
_VGG_UNIT = "every hidden layer's ReLU (the conv layers, then the two hidden fully connected ones)"
REAL_MODELS: dict[str, RealModel] = dict([
    _m("resnet18", "ResNet-18", 64, [_RES + "BasicBlock"], "basic block (two 3×3 convs)", "sum",
       "He et al. 2015, Deep Residual Learning for Image Recognition (arXiv 1512.03385)."),
    _m("resnet50", "ResNet-50", 64, [_RES + "Bottleneck"], "bottleneck block (1×1, 3×3, 1×1)",
       "sum", "He et al. 2015, Deep Residual Learning for Image Recognition (arXiv 1512.03385)."),
    _m("resnext50_32x4d", "ResNeXt-50 (32×4d)", 64, [_RES + "Bottleneck"],
       "bottleneck block with a 32-group 3×3 conv", "sum",
       "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks "
       "(arXiv 1611.05431)."),
    _m("wide_resnet50_2", "Wide ResNet-50-2", 64, [_RES + "Bottleneck"],
       "bottleneck block, twice as wide inside", "sum",
       "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv 1605.07146)."),
    _m("vgg11", "VGG-11", 32, ["torch.nn.ReLU"], _VGG_UNIT, "none",
       "Simonyan & Zisserman 2014, Very Deep Convolutional Networks for Large-Scale Image "
       "Recognition (arXiv 1409.1556), configuration A."),
    _m("vgg11_bn", "VGG-11 with BatchNorm", 32, ["torch.nn.ReLU"], _VGG_UNIT, "none",
       "VGG-11 (Simonyan & Zisserman 2014, arXiv 1409.1556) with BatchNorm after every conv "
       "(Ioffe & Szegedy 2015, arXiv 1502.03167), torchvision's variant."),
    _m("vgg16", "VGG-16", 32, ["torch.nn.ReLU"], _VGG_UNIT, "none",
       "Simonyan & Zisserman 2014, Very Deep Convolutional Networks for Large-Scale Image "
       "Recognition (arXiv 1409.1556), configuration D."),
    _m("vgg16_bn", "VGG-16 with BatchNorm", 32, ["torch.nn.ReLU"], _VGG_UNIT, "none",
       "VGG-16 (Simonyan & Zisserman 2014, arXiv 1409.1556) with BatchNorm after every conv "
       "(Ioffe & Szegedy 2015, arXiv 1502.03167), torchvision's variant."),
    _m("densenet121", "DenseNet-121", 64, ["torchvision.models.densenet._DenseLayer"],
       "dense layer (BN-ReLU-1×1 conv-BN-ReLU-3×3 conv, 32 new channels)", "concat",
       "Huang et al. 2017, Densely Connected Convolutional Networks (arXiv 1608.06993)."),
    _m("convnext_tiny", "ConvNeXt-T", 32, ["torchvision.models.convnext.CNBlock"],
       "ConvNeXt block (7×7 depthwise conv, LayerNorm, MLP, layer scale)", "sum",
       "Liu et al. 2022, A ConvNet for the 2020s (arXiv 2201.03545)."),
    _m("vit_b_16", "ViT-B/16", 224, ["torchvision.models.vision_transformer.EncoderBlock"],
       "Transformer encoder block (attention and MLP, each with a skip)", "sum",
       "Dosovitskiy et al. 2021, An Image is Worth 16x16 Words (arXiv 2010.11929).",
       ZERO_HEAD_NOTE),
])
SIZE_RULE = ("the smallest multiple of 32 at which every train-mode BatchNorm still sees at "
             "least a 2×2 map (a 1×1 map at batch 2 makes BatchNorm's output ±1 and its gradient "
             "collapse); ViT-B/16 keeps its native 224×224")
CLASSES = 1000  # torchvision's default head (ImageNet's classes); the labels are random anyway


def get(name: str) -> RealModel:
    try:
        return REAL_MODELS[name]
    except KeyError:
        raise UserError(f"unknown torchvision model {name!r}; choose one of "
                        + ", ".join(REAL_MODELS)) from None


def block_types(entry: RealModel) -> tuple[type, ...]:
    """The registry's dotted type paths as the classes themselves (imports torchvision)."""
    import_torchvision()
    out = []
    for path in entry.blocks:
        mod, _, cls = path.rpartition(".")
        out.append(getattr(importlib.import_module(mod), cls))
    return tuple(out)


def build(name: str, seed: int = 0, device=None) -> nn.Module:
    """torchvision's model ``name`` with random weights (``weights=None``: no download), seeded:
    built on the CPU from ``sub_seed(seed, name)`` (so every device gets the same weights), then
    moved. The global RNG is left as it was. ``device="meta"`` builds it without memory."""
    entry = get(name)
    tv = import_torchvision()
    if torch.device(device or "cpu").type == "meta":
        with torch.device("meta"):
            return tv.models.get_model(entry.name, weights=None)
    with global_rng():
        torch.manual_seed(sub_seed(seed, "torchvision", name))
        model = tv.models.get_model(entry.name, weights=None)
        if entry.note == ZERO_HEAD_NOTE:
            head = model.heads.head
            nn.init.trunc_normal_(head.weight, std=math.sqrt(1 / head.in_features))
    return model.to(device) if device is not None else model


def make_input(name: str, batch: int, seed: int = 0, device=None):
    """A seeded batch for ``name``: standard-normal images at its input size, random labels."""
    entry = get(name)
    g = torch.Generator().manual_seed(sub_seed(seed, "torchvision-batch", name))
    x = torch.randn(batch, 3, entry.size, entry.size, generator=g)
    y = torch.randint(0, CLASSES, (batch,), generator=g)
    return (x.to(device), y.to(device)) if device is not None else (x, y)


def estimate_memory(name: str, batch: int) -> int:
    """Bytes a probe of ``name`` at ``batch`` needs, before anything is allocated: the model and
    one forward pass run on PyTorch's meta device (shapes only), counting the weights, their
    gradients and every distinct storage autograd saves for the backward pass."""
    model = build(name, device="meta").train()
    entry = get(name)
    with torch.device("meta"):
        x = torch.empty(batch, 3, entry.size, entry.size)
        y = torch.zeros(batch, dtype=torch.long)
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in params:
            saved[s._cdata] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        F.cross_entropy(model(x), y)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return 2 * weights + sum(saved.values())


def probe_real(name: str, batch: int = 2, seed: int = 0, device=None,
               max_memory_bytes: int | None = None):
    """Probe torchvision's ``name`` at initialisation: one forward + backward pass on a seeded
    batch, ‖∂L/∂x‖ at each block's output (the registry's block types). Refused with a UserError
    when :func:`estimate_memory` exceeds ``max_memory_bytes``. Returns a ProbeResult whose
    ``stage`` is each block's parent module (``skip`` and ``connection`` are the probe's, found in
    each block's own code by :mod:`resnet_explain.residuals`)."""
    entry = get(name)
    if not 2 <= batch <= 64:
        raise UserError("batch must be from 2 to 64 (BatchNorm in train mode needs two examples "
                        "when the last stage is 1×1)")
    need = estimate_memory(name, batch)
    if max_memory_bytes is not None and need > max_memory_bytes:
        raise UserError(f"{entry.title} at batch {batch} needs about {need / 2**20:,.0f} MiB, over "
                        f"this server's limit of {max_memory_bytes / 2**20:,.0f} MiB; use a "
                        "smaller batch")
    device = torch.device(device or "cpu")
    model = build(name, seed=seed, device=device)
    x, y = make_input(name, batch, seed=seed, device=device)
    with global_rng([device] if device.type == "cuda" else []):
        torch.manual_seed(sub_seed(seed, "torchvision-forward", name))  # dropout, drop-path
        res = probe(model, x, y, blocks=block_types(entry), train=True)
    b = res.blocks
    b["stage"] = [n.rpartition(".")[0] or n for n in b["block"]]
    res.meta.update({"model": name, "title": entry.title, "input_size": entry.size,
                     "n_blocks": len(b), "block_types": [p.rpartition(".")[2] for p in entry.blocks],
                     "connection": entry.connection, "weights": "none (random initialisation)",
                     "seed": seed, "memory_estimate_bytes": need, "note": entry.note})
    return res
