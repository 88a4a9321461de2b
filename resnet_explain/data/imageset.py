"""ImageSet: images as uint8 with labels and (for generated data) object masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import UserError
from ..seeding import sub_seed


class DataError(UserError):
    """A dataset request that cannot be honoured (bad argument, bad archive, no network)."""


@dataclass
class ImageSet:
    """Images kept compact as uint8 (N, C, H, W); labels int64 (N,); object masks bool (N, H, W).

    ``mask`` is None for real photographs (CIFAR has no masks). ``meta`` says how it was made.
    """

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor | None
    classes: tuple[str, ...]
    name: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def size(self) -> int:
        return int(self.x.shape[-1])

    def to(self, device) -> "ImageSet":
        m = None if self.mask is None else self.mask.to(device)
        return ImageSet(self.x.to(device), self.y.to(device), m, self.classes, self.name, dict(self.meta))

    def subset(self, n: int) -> "ImageSet":
        """The first ``n`` images (classes stay interleaved, see :func:`balanced_labels`)."""
        m = None if self.mask is None else self.mask[:n]
        return ImageSet(self.x[:n], self.y[:n], m, self.classes, self.name, dict(self.meta))

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the [0, 1] images (for input normalisation)."""
        xs = self.x[: min(len(self), 10_000)].float().div(255.0)
        mean = xs.mean(dim=(0, 2, 3))
        std = xs.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return [float(v) for v in mean], [float(v) for v in std]




def balanced_labels(n: int, classes: int, seed: int) -> torch.Tensor:
    """Exactly balanced labels (counts differ by at most one), in a seeded random order.

    Each run of ``classes`` consecutive labels is a permutation of all classes, so every prefix is
    balanced too (a subset of the first n images stays fair).
    """
    g = torch.Generator().manual_seed(sub_seed(seed, "labels"))
    rounds = -(-n // classes)
    keys = torch.rand(rounds, classes, generator=g)
    return keys.argsort(dim=1).reshape(-1)[:n].contiguous()

