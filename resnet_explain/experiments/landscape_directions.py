"""Random directions for a loss landscape: Li et al. 2018's "filter normalization" (arXiv
1712.09913, sec. 4). d is Gaussian; each filter of d (a conv kernel's output channel, a linear
layer's row) is rescaled to the norm of the matching filter of θ*. Biases and BatchNorm's γ/β get 0
(Li et al.'s code, ``--xignore biasbn``): a BN layer after a convolution makes the loss blind to that
convolution's scale, so only a perturbation sized relative to each filter compares networks."""

from __future__ import annotations

import torch
from torch import nn

from ..seeding import sub_seed


def filter_normalized(weights: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A random direction with the shape of ``weights``, normalised filter by filter (Li et al.'s
    filter normalization): every tensor of 2+ dims gets Gaussian values whose slices along dim 0 (filters, rows)
    have the norms of the matching slices of the weights; 1-D and scalar tensors (biases,
    BatchNorm's γ and β) get zeros."""
    out = {}
    for name, w in weights.items():
        if w.dim() <= 1:
            out[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=generator, dtype=torch.float32).to(w.device, w.dtype)
        scale = w.flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1).clamp_min(1e-12)
        out[name] = d * scale.view(-1, *([1] * (w.dim() - 1)))
    return out


def directions(model: nn.Module, seed: int) -> tuple[dict, dict]:
    """The seeded pair (d1, d2) of filter-normalised directions for ``model``'s parameters. Drawn
    on the CPU in parameter order, so the same seed gives the same directions on any device."""
    g = torch.Generator().manual_seed(sub_seed(seed, "landscape", "directions"))
    weights = {k: v.detach() for k, v in model.named_parameters()}
    return filter_normalized(weights, g), filter_normalized(weights, g)

