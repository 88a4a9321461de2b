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

from ..spec import BLOCK_KINDS, COMBINES, BlockSpec


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
    """None when the block has no skip. Identity, pad (A) or projection (B, C) where it adds; a
    concatenating (dense) block's input as it is, pooled where the block strides."""
    if b.concatenates:
        return Pool(b.stride) if b.stride > 1 else nn.Identity()
    if not b.adds_branch:
        return None
    if b.projects(c_in):
        return Projection(family, norm, c_in, b.width, b.stride)
    if b.changes_shape(c_in):
        return PadShortcut(c_in, b.width, b.stride)
    return nn.Identity()


class Makers:
    """The model side of a kind's body recipe (:mod:`resnet_explain.spec.kinds`): each maker
    returns a fresh module (never shared, never in place); a layer has a bias only without a norm."""

    def __init__(self, family: str, act: str, norm: str, cardinality: int = 1):
        self.family, self._act, self._norm, self.cardinality = family, act, norm, cardinality

    def layer(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Module:
        return make_layer(self.family, c_in, c_out, kernel, stride, self._norm == "none", groups)

    def norm(self, width: int) -> nn.Module:
        return make_norm(self._norm, self.family, width)

    def act(self, width: int) -> nn.Module:
        return make_act(self._act)

    def pool(self, stride: int, width: int) -> nn.Module:
        return Pool(stride)


def make_body(b: BlockSpec, family: str, act: str, norm: str, c_in: int,
              cardinality: int = 1, makers=None) -> tuple[nn.Sequential, nn.Module]:
    """The branch F(x) as a named Sequential, and the activation after the join: the block's kind's
    recipe, made of modules (``makers``: a family's own, e.g. a Transformer's; default :class:`Makers`)."""
    makers = makers if makers is not None else Makers(family, act, norm, cardinality)
    parts, out_act = BLOCK_KINDS[b.kind].body(makers, b, c_in)
    body = nn.Sequential()
    for name, mod in parts:
        body.add_module(name, mod)
    return body, nn.Identity() if out_act is None else out_act


class Block(nn.Module):
    """One block: ``out = act(combine(shortcut(x), body(x)))``. With ``skip`` off it is the plain
    twin, ``act(body(x))``.

    ``combine`` is the name of the block's entry in COMBINES (its ``rule`` joins S and F: "add",
    or one of He et al. 2016's variants, arXiv 1603.05027, fig. 2), or None where nothing is added
    (a plain block, or a dense block: it concatenates instead).
    ``res_scale`` (SkipInit, De & Smith 2020; ReZero, Bachlechner et al. 2020; Fixup's multiplier,
    Zhang et al. 2019) multiplies the branch by a learnable scalar initialised to that value; at 0
    the block starts as its shortcut (times the outer activation, for post-activation kinds).
    ``survival`` < 1 drops the branch per example in training (stochastic depth).
    ``skip_scale`` multiplies the shortcut S(x) by a constant (DeepNorm's α, Wang et al. 2022).
    A Transformer's sublayers are Blocks too (:mod:`.transformer`): ``makers`` builds their body.
    """

    def __init__(self, b: BlockSpec, family: str, act: str, norm: str, c_in: int,
                 res_scale: float = 1.0, *, survival: float = 1.0, gate_bias: float = -6.0,
                 cardinality: int = 1, scalar: bool = False, makers=None, skip_scale: float = 1.0):
        super().__init__()
        self.spec = b
        self.body, self.out_act = make_body(b, family, act, norm, c_in, cardinality, makers)
        self.shortcut = make_shortcut(b, family, norm, c_in)
        self.skip_scale = float(skip_scale)
        adds = b.adds_branch
        self.combine = b.combine if adds else None
        rule = COMBINES[b.combine] if adds else None
        self.res_scale = (nn.Parameter(torch.tensor(float(res_scale)))
                          if adds and (res_scale != 1.0 or scalar) else None)
        self.drop_path = DropPath(survival) if adds and survival < 1.0 else None
        self.gate = Gate(family, c_in, b.width, b.stride, gate_bias) if rule and rule.gated else None
        self.shortcut_dropout = (nn.Dropout(rule.shortcut_dropout)
                                 if rule and rule.shortcut_dropout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_paths(x, x, x)

    def forward_paths(self, x_body: torch.Tensor, x_skip: torch.Tensor,
                      x_gate: torch.Tensor) -> torch.Tensor:
        """The forward with each path reading its own tensor: x for all three in :meth:`forward`;
        the probe hands each its own alias of x, so that each path's share of ∂L/∂x is caught
        apart (:class:`resnet_explain.measurement.BlockHooks`) without a hook on any module."""
        out = self.body(x_body)
        if self.shortcut is None:
            return self.out_act(out)
        s = self.shortcut(x_skip)
        if self.skip_scale != 1.0:
            s = self.skip_scale * s
        if self.combine is None:  # a concatenating kind: the input's channels, then the new ones
            return self.out_act(torch.cat([s, out], dim=1))
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.res_scale is not None:
            out = self.res_scale * out
        if self.shortcut_dropout is not None:  # PyTorch's dropout: kept values scaled up
            s = self.shortcut_dropout(s)
        g = self.gate(x_gate) if self.gate is not None else None
        return self.out_act(COMBINES[self.combine].rule(s, out, g))

    def without_branch(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """The block's output with its branch deleted (Veit et al. 2016's lesion, arXiv
        1605.06431): its combine's rule with F(x) = 0 — S(x) for an add, ½·S(x) for constant
        scaling, (1 − g(x))·S(x) for the gates —, and for a concatenating kind the new channels at
        0 (``output``, the intact block's output, gives their shape). Needs a shortcut."""
        s = self.shortcut(x)
        if self.skip_scale != 1.0:
            s = self.skip_scale * s
        if self.combine is None:  # concatenation: x's channels as they are, the branch's at 0
            zeros = s.new_zeros((s.shape[0], output.shape[1] - s.shape[1]) + tuple(s.shape[2:]))
            return self.out_act(torch.cat([s, zeros], dim=1))
        if self.shortcut_dropout is not None:
            s = self.shortcut_dropout(s)
        g = self.gate(x) if self.gate is not None else None
        return self.out_act(COMBINES[self.combine].rule(s, torch.zeros_like(s), g))

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
        if self.combine is None:  # plain, or dense (nothing is added)
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
