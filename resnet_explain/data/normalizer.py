"""Input normalisation: travels with checkpoints so a page can feed a stored model the right input."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .imageset import ImageSet


@dataclass(frozen=True)
class Normalizer:
    mean: tuple[float, ...]  # per channel, of [0, 1] images
    std: tuple[float, ...]

    @classmethod
    def of(cls, data: ImageSet) -> "Normalizer":
        m, s = data.channel_stats()
        return cls(tuple(m), tuple(s))

    def tensors(self, device, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift), each (1, C, 1, 1), so that normalised = uint8 * scale - shift. Made
        once per run: building them per batch on CUDA would be a blocking host->device copy."""
        c = len(self.mean)
        scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], dtype=dtype).view(1, c, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(self.mean, self.std)], dtype=dtype).view(1, c, 1, 1)
        return scale.to(device), shift.to(device)

    def __call__(self, x_uint8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        """uint8 (N, C, H, W) -> normalised float."""
        scale, shift = self.tensors(x_uint8.device, dtype)
        return x_uint8.to(dtype) * scale - shift

