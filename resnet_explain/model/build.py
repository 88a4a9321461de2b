"""build_model(spec, seed) -> nn.Module with stable, human names: stem, stage1.block0, ..., head
(a Transformer: embed, layer0.attn, layer0.mlp, ..., final_norm, unembed; :mod:`.transformer`).

Each block is initialised from its own seed, derived from (seed, block name). So adding a block
leaves every other block's weights as they were, and a plain twin has exactly the same weights in
its bodies as its residual twin: the only difference a learner sees is the skip.
"""

from __future__ import annotations

import torch
from torch import nn

from ..seeding import global_rng, sub_seed
from ..spec import NetSpec
from .blocks import Block, find_blocks, make_act, make_layer, make_norm
from .transformer import TransformerNet, token_batch


class Net(nn.Module):
    """stem -> stage1 .. stageK (Sequentials of Blocks) -> head."""

    def __init__(self, spec: NetSpec, seed: int = 0):
        super().__init__()
        self.spec = spec
        fam = spec.family
        with global_rng():
            torch.manual_seed(sub_seed(seed, "stem"))
            c_in = spec.in_channels if fam == "cnn" else spec.in_features
            self.stem = nn.Sequential()
            self.stem.add_module("conv", make_layer(fam, c_in, spec.stem_width, 3, 1, spec.norm == "none"))
            self.stem.add_module("norm", make_norm(spec.norm, fam, spec.stem_width))
            self.stem.add_module("act", make_act(spec.act))
            _init(self.stem, spec.init)
            width = spec.stem_width
            self.stage_names: list[str] = []
            survival = iter(spec.block_survival())
            fixup = spec.init == "fixup"
            for i, stage in enumerate(spec.stages, start=1):
                seq = nn.Sequential()
                for j, b in enumerate(stage):
                    name = f"stage{i}.block{j}"
                    torch.manual_seed(sub_seed(seed, name))
                    blk = Block(b, fam, spec.act, spec.norm, width, spec.res_scale,
                                survival=next(survival), gate_bias=spec.gate_bias,
                                cardinality=spec.cardinality, scalar=fixup)
                    # Body and shortcut re-initialised from their own seeds, so the body's weights
                    # do not depend on whether a projection shortcut exists (the plain twin).
                    torch.manual_seed(sub_seed(seed, name + ".body"))
                    _init(blk.body, spec.init)
                    if blk.shortcut is not None:
                        torch.manual_seed(sub_seed(seed, name + ".shortcut"))
                        _init(blk.shortcut, spec.init)
                    if fixup:
                        _fixup(blk, spec.residual_branches)
                    if spec.zero_init_last:
                        blk.zero_init_last()
                    seq.add_module(f"block{j}", blk)
                    width = b.width
                self.add_module(f"stage{i}", seq)
                self.stage_names.append(f"stage{i}")
            torch.manual_seed(sub_seed(seed, "head"))
            self.head = nn.Sequential()
            if spec.head_norm:
                # He et al. 2016: pre-activation nets end with norm + act before pooling (so do
                # DenseNets, whose layers also start with norm + act).
                self.head.add_module("norm", make_norm(spec.norm, fam, width))
                self.head.add_module("act", make_act(spec.act))
            if fam == "cnn":
                self.head.add_module("pool", nn.AdaptiveAvgPool2d(1))
                self.head.add_module("flatten", nn.Flatten())
            self.head.add_module("fc", nn.Linear(width, spec.classes))
            _init(self.head, spec.init)
            if fixup:  # Zhang et al. 2019, rule 1: the classification layer starts at 0
                nn.init.zeros_(self.head.fc.weight)
                nn.init.zeros_(self.head.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.head(x)

    def named_blocks(self) -> list[tuple[str, Block]]:
        """(``stage{i}.block{j}``, Block) in order from input to output."""
        return find_blocks(self)


def _init(module: nn.Module, how: str) -> None:
    """``default`` keeps PyTorch's own initialisation (kaiming_uniform with a=sqrt(5)); ``fixup``
    starts from kaiming (:func:`_fixup` then rescales the residual branches)."""
    if how == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if how in ("kaiming", "fixup"):  # He et al. 2015b (arXiv 1502.01852), as torchvision's ResNet
                nn.init.kaiming_normal_(m.weight, mode="fan_out" if isinstance(m, nn.Conv2d) else "fan_in",
                                        nonlinearity="relu")
            else:  # Glorot & Bengio 2010
                nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _fixup(blk: Block, n_branches: int) -> None:
    """Fixup initialisation (Zhang, Dauphin, Ma 2019, arXiv 1901.09321, sec. 3), rules 1-2 on
    one block: the last weight layer of the residual branch starts at 0 and the branch's other
    weight layers are scaled by L^(-1/(2m-2)) (L residual branches, m layers per branch). Rule 3's
    scalar multiplier is the block's ``res_scale`` (made learnable, from the spec's res_scale: 1
    by default); its scalar biases are
    not added. Plain and dense blocks have no branch that is added, so they keep kaiming."""
    if blk.combine is None:
        return
    layers = blk.weight_layers()
    m = len(layers)
    with torch.no_grad():
        if m > 1:
            for layer in layers[:-1]:
                layer.weight.mul_(n_branches ** (-1.0 / (2 * m - 2)))
        layers[-1].weight.zero_()
        if layers[-1].bias is not None:
            layers[-1].bias.zero_()


def build_model(spec: NetSpec, seed: int = 0, device: torch.device | str | None = None,
                dtype: torch.dtype | None = None) -> Net | TransformerNet:
    """Build the network described by ``spec``, deterministic in ``seed``, on ``device``."""
    model = TransformerNet(spec, seed) if spec.family == "transformer" else Net(spec, seed)
    if dtype is not None:
        model = model.to(dtype=dtype)
    if device is not None:
        model = model.to(device)
    return model


def make_batch(spec: NetSpec, batch: int = 32, seed: int = 0, device=None, dtype=None):
    """A seeded random batch: standard-normal inputs and uniformly random class targets (a
    Transformer: random tokens and their next tokens, :func:`.transformer.token_batch`)."""
    if spec.family == "transformer":
        x, y = token_batch(spec, batch, seed)
        return (x, y) if device is None else (x.to(device), y.to(device))
    # Not yet sub_seed(seed, "batch"): that would change every probe's input batch, so every
    # stored probe number (content.story.ACT_RATIOS, assets/) would have to be remade with it.
    g = torch.Generator().manual_seed(int(seed) + 7919)
    x = torch.randn(spec.input_shape(batch), generator=g)
    y = torch.randint(0, spec.classes, (batch,), generator=g)
    if dtype is not None:
        x = x.to(dtype)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y
