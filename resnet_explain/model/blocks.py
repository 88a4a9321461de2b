"""Block and shortcut modules. Plain and residual blocks are one class; the only switch is the skip.

Captum and our probe hooks need every activation to be its own module (DeepLift refuses a module
used twice) and no in-place ops (GuidedGradCam / hooks see "a view modified inplace"). So: a new
activation module per call site, no in-place activations, and ``out = out + shortcut`` (never an
augmented assignment). This is what torchvision's BasicBlock gets wrong for us: it reuses one
in-place ReLU module twice and adds in place.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import BlockSpec


def make_act(name: str) -> nn.Module:
    """A fresh activation module (never shared, never in place)."""
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}[name]()


def make_norm(norm: str, family: str, width: int) -> nn.Module:
    if norm == "none":
        return nn.Identity()
    return nn.BatchNorm2d(width) if family == "cnn" else nn.BatchNorm1d(width)


def make_layer(family: str, c_in: int, c_out: int, kernel: int = 3, stride: int = 1,
               bias: bool = False) -> nn.Module:
    """A 3x3 (or 1x1) conv for cnn, a Linear for mlp. Bias only where no norm follows."""
    if family == "cnn":
        return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias)
    return nn.Linear(c_in, c_out, bias=bias)


class PadShortcut(nn.Module):
    """He et al. 2015 option A: identity, subsampled by ``stride`` and zero-padded to ``c_out``.

    It has no parameters, so a plain net and a residual net with option A have the same
    parameter count.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.c_out - self.c_in
        if extra == 0:
            return x
        if x.dim() == 4:
            return F.pad(x, (0, 0, 0, 0, 0, extra))
        return F.pad(x, (0, extra))

    def extra_repr(self) -> str:
        return f"{self.c_in}->{self.c_out}, stride={self.stride}"


class Projection(nn.Sequential):
    """Options B and C: a 1x1 conv (or Linear) with stride, then norm."""

    def __init__(self, family: str, norm: str, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.proj = make_layer(family, c_in, c_out, kernel=1, stride=stride, bias=norm == "none")
        self.norm = make_norm(norm, family, c_out)


def make_shortcut(b: BlockSpec, family: str, norm: str, c_in: int) -> nn.Module | None:
    """None when the block has no skip. Identity, pad (A) or projection (B, C) otherwise."""
    if not b.skip:
        return None
    if b.projects(c_in):
        return Projection(family, norm, c_in, b.width, b.stride)
    if b.changes_shape(c_in):
        return PadShortcut(c_in, b.width, b.stride)
    return nn.Identity()


def _body(b: BlockSpec, family: str, act: str, norm: str, c_in: int) -> tuple[nn.Sequential, nn.Module]:
    """The residual branch F(x) as a named Sequential, and the activation after the add."""
    bias = norm == "none"
    w, s = b.width, b.stride
    L: list[tuple[str, nn.Module]] = []
    if b.kind == "basic":  # He et al. 2015 fig. 2: layer-norm-act-layer-norm, add, act
        L += [("conv1", make_layer(family, c_in, w, 3, s, bias)), ("norm1", make_norm(norm, family, w)),
              ("act1", make_act(act)),
              ("conv2", make_layer(family, w, w, 3, 1, bias)), ("norm2", make_norm(norm, family, w))]
        out_act: nn.Module = make_act(act)
    elif b.kind == "preact":  # He et al. 2016 fig. 1b: norm-act-layer twice, nothing after the add
        L += [("norm1", make_norm(norm, family, c_in)), ("act1", make_act(act)),
              ("conv1", make_layer(family, c_in, w, 3, s, bias)),
              ("norm2", make_norm(norm, family, w)), ("act2", make_act(act)),
              ("conv2", make_layer(family, w, w, 3, 1, bias))]
        out_act = nn.Identity()
    else:  # bottleneck, He et al. 2015 fig. 5: 1x1 down to width/4, 3x3, 1x1 up
        m = max(1, w // 4)
        L += [("conv1", make_layer(family, c_in, m, 1, 1, bias)), ("norm1", make_norm(norm, family, m)),
              ("act1", make_act(act)),
              ("conv2", make_layer(family, m, m, 3, s, bias)), ("norm2", make_norm(norm, family, m)),
              ("act2", make_act(act)),
              ("conv3", make_layer(family, m, w, 1, 1, bias)), ("norm3", make_norm(norm, family, w))]
        out_act = make_act(act)
    body = nn.Sequential()
    for name, mod in L:
        body.add_module(name, mod)
    return body, out_act


class Block(nn.Module):
    """One block: ``out = act(body(x) [+ shortcut(x)])``. With ``skip`` off it is the plain twin.

    ``res_scale`` (SkipInit, De & Smith 2020; ReZero, Bachlechner et al. 2020) multiplies the
    residual branch by a learnable scalar initialised to that value; at 0 the block starts as
    the identity (times the outer activation, for post-activation kinds).
    """

    def __init__(self, b: BlockSpec, family: str, act: str, norm: str, c_in: int,
                 res_scale: float = 1.0):
        super().__init__()
        self.spec = b
        self.body, self.out_act = _body(b, family, act, norm, c_in)
        self.shortcut = make_shortcut(b, family, norm, c_in)
        self.res_scale = (nn.Parameter(torch.tensor(float(res_scale)))
                          if (res_scale != 1.0 and self.shortcut is not None) else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            if self.res_scale is not None:
                out = self.res_scale * out
            out = out + self.shortcut(x)
        return self.out_act(out)

    @property
    def skip(self) -> bool:
        return self.shortcut is not None

    def last_layer(self) -> nn.Module:
        """The last parameterised module of the branch (its norm when there is one)."""
        last = None
        for m in self.body:
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)):
                last = m
        return last

    def zero_init_last(self) -> None:
        """Start the residual branch at zero (Goyal et al. 2017, arXiv 1706.02677, section 5.1):
        with a skip the block begins as the identity. Without a skip this would cut the signal, so
        plain blocks are left alone."""
        if self.shortcut is None:
            return
        last = self.last_layer()
        nn.init.zeros_(last.weight)
        if getattr(last, "bias", None) is not None and not isinstance(last, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.zeros_(last.bias)  # without a norm the layer has a bias: zero it too


def find_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The blocks of a model, input to output: the one rule the probe, the lesion study and the
    attribution lab use. Our :class:`Block` modules (``stage{i}.block{j}``); for another model,
    modules named like blocks (timm/torchvision ``*Block`` / ``Bottleneck``), else its top-level
    children."""
    ours = [(n, m) for n, m in model.named_modules() if isinstance(m, Block)]
    if ours:
        return ours
    found = [(n, m) for n, m in model.named_modules()
             if n and (type(m).__name__.endswith("Block") or type(m).__name__ == "Bottleneck")]
    return found or list(model.named_children())
