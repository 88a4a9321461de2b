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
               bias: bool = False, groups: int = 1) -> nn.Module:
    """A 3x3 (or 1x1) conv for cnn, a Linear for mlp. Bias only where no norm follows."""
    if family == "cnn":
        return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias, groups=groups)
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


class Gate(nn.Sequential):
    """g(x) = sigmoid(1x1 layer(x) + b): one gate value per output channel and position (He et
    al. 2016, fig. 2c/d: "1x1 convolutional gating"; Srivastava et al. 2015's transform gate T).
    The bias starts at ``bias`` (negative: the gate starts mostly closed, the block near the
    shortcut)."""

    def __init__(self, family: str, c_in: int, c_out: int, stride: int, bias: float):
        super().__init__()
        self.proj = make_layer(family, c_in, c_out, kernel=1, stride=stride, bias=True)
        self.sigmoid = nn.Sigmoid()
        self.init_bias = float(bias)
        self.reset_bias()

    def reset_bias(self) -> None:
        nn.init.constant_(self.proj.bias, self.init_bias)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016, arXiv 1603.09382): in training, each example's
    branch is kept with probability ``survival`` and scaled by 1/survival when kept, as
    torchvision's ``stochastic_depth(mode="row")`` does; in evaluation it is the identity. The
    paper drops a block for the whole mini-batch and multiplies the branch by p_l at test time
    instead: the same expectation, a different variance."""

    def __init__(self, survival: float):
        super().__init__()
        self.survival = float(survival)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.survival >= 1.0:
            return x
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(self.survival)
        return x * keep / self.survival

    def extra_repr(self) -> str:
        return f"survival={self.survival:.3g}"


class Pool(nn.Module):
    """A dense block's shortcut where it strides: average pooling (DenseNet's transition pools,
    Huang et al. 2017), sized like the strided convolution's output (ceil), no parameters."""

    def __init__(self, stride: int):
        super().__init__()
        self.pool = nn.AvgPool2d(stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def make_shortcut(b: BlockSpec, family: str, norm: str, c_in: int) -> nn.Module | None:
    """None when the block has no skip. Identity, pad (A) or projection (B, C) otherwise; a dense
    block's input is concatenated as it is (pooled where the block strides)."""
    if not b.skip or b.kind == "transition":
        return None
    if b.kind == "dense":
        return Pool(b.stride) if b.stride > 1 else nn.Identity()
    if b.projects(c_in):
        return Projection(family, norm, c_in, b.width, b.stride)
    if b.changes_shape(c_in):
        return PadShortcut(c_in, b.width, b.stride)
    return nn.Identity()


def _body(b: BlockSpec, family: str, act: str, norm: str, c_in: int,
          cardinality: int = 1) -> tuple[nn.Sequential, nn.Module]:
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
    elif b.kind == "transition":  # Huang et al. 2017 sec. 3: BN, 1x1 conv, 2x2 average pooling
        L += [("norm1", make_norm(norm, family, c_in)), ("act1", make_act(act)),
              ("conv1", make_layer(family, c_in, w, 1, 1, bias))]
        if s > 1:
            L.append(("pool", Pool(s)))
        out_act = nn.Identity()
    elif b.kind == "dense":  # Huang et al. 2017 sec. 3: H = BN-ReLU-Conv3x3 making k new channels
        new = w - c_in if b.skip else w  # the plain twin makes every channel itself
        L += [("norm1", make_norm(norm, family, c_in)), ("act1", make_act(act)),
              ("conv1", make_layer(family, c_in, new, 3, s, bias))]
        out_act = nn.Identity()
    else:  # bottleneck, He et al. 2015 fig. 5: 1x1 down to width/4, 3x3, 1x1 up; ResNeXt (Xie et
        # al. 2017 fig. 3c): 1x1 down to width/2, a 3x3 in `cardinality` groups, 1x1 up
        m, groups = (max(1, w // 4), 1) if b.kind == "bottleneck" else (w // 2, cardinality)
        L += [("conv1", make_layer(family, c_in, m, 1, 1, bias)), ("norm1", make_norm(norm, family, m)),
              ("act1", make_act(act)),
              ("conv2", make_layer(family, m, m, 3, s, bias, groups)), ("norm2", make_norm(norm, family, m)),
              ("act2", make_act(act)),
              ("conv3", make_layer(family, m, w, 1, 1, bias)), ("norm3", make_norm(norm, family, w))]
        out_act = make_act(act)
    body = nn.Sequential()
    for name, mod in L:
        body.add_module(name, mod)
    return body, out_act


class Block(nn.Module):
    """One block: ``out = act(combine(shortcut(x), body(x)))``. With ``skip`` off it is the plain
    twin, ``act(body(x))``.

    ``combine`` is "add" (``shortcut + body``) or one of He et al. 2016's variants (arXiv
    1603.05027, fig. 2): constant scaling, exclusive gating (the Highway form), shortcut-only
    gating, dropout on the shortcut. A dense block concatenates instead of adding.
    ``res_scale`` (SkipInit, De & Smith 2020; ReZero, Bachlechner et al. 2020; Fixup's multiplier,
    Zhang et al. 2019) multiplies the branch by a learnable scalar initialised to that value; at 0
    the block starts as its shortcut (times the outer activation, for post-activation kinds).
    ``survival`` < 1 drops the branch per example in training (stochastic depth).
    """

    def __init__(self, b: BlockSpec, family: str, act: str, norm: str, c_in: int,
                 res_scale: float = 1.0, *, survival: float = 1.0, gate_bias: float = -6.0,
                 cardinality: int = 1, scalar: bool = False):
        super().__init__()
        self.spec = b
        self.body, self.out_act = _body(b, family, act, norm, c_in, cardinality)
        self.shortcut = make_shortcut(b, family, norm, c_in)
        adds = self.shortcut is not None and b.kind != "dense"
        self.combine = b.combine if adds else None
        self.res_scale = (nn.Parameter(torch.tensor(float(res_scale)))
                          if adds and (res_scale != 1.0 or scalar) else None)
        self.drop_path = DropPath(survival) if adds and survival < 1.0 else None
        self.gate = (Gate(family, c_in, b.width, b.stride, gate_bias)
                     if self.combine in ("gate", "sgate") else None)
        self.shortcut_dropout = nn.Dropout(0.5) if self.combine == "drop" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is None:
            return self.out_act(out)
        s = self.shortcut(x)
        if self.combine is None:  # dense: the input's channels, then the new ones
            return self.out_act(torch.cat([s, out], dim=1))
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.res_scale is not None:
            out = self.res_scale * out
        if self.combine == "scale":  # He et al. 2016 fig. 2b, the row that trained: 0.5 and 0.5
            out = 0.5 * out + 0.5 * s
        elif self.combine == "gate":  # fig. 2c: (1 - g) S(x) + g F(x)
            g = self.gate(x)
            out = g * out + (1.0 - g) * s
        elif self.combine == "sgate":  # fig. 2d: (1 - g) S(x) + F(x)
            out = out + (1.0 - self.gate(x)) * s
        elif self.combine == "drop":  # fig. 2f: dropout (PyTorch's, kept values x2) on S(x)
            out = out + self.shortcut_dropout(s)
        else:
            out = out + s
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

    def weight_layers(self) -> list[nn.Module]:
        """The branch's convolutions / linear layers, in order (Fixup scales these)."""
        return [m for m in self.body if isinstance(m, (nn.Conv2d, nn.Linear))]

    def zero_init_last(self) -> None:
        """Start the residual branch at zero (Goyal et al. 2017, arXiv 1706.02677, section 5.1):
        with a skip the block begins as the identity. Without a skip this would cut the signal, so
        plain blocks are left alone."""
        if self.shortcut is None or self.combine is None:  # plain, or dense (nothing is added)
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
