"""A tiny stand-in decoder for testing the language-model engine without the Transformer family:
tokens (B, T) -> logits (B, T, V), causal (each position sees only itself and the one before)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StandinSpec:
    """What the engine reads of a spec: family, context, vocab and a query string."""

    context: int = 8
    vocab: int = 256
    family: str = "transformer"

    def to_query(self) -> str:
        return f"fam=standin&ctx={self.context}"


class StandinDecoder(nn.Module):
    def __init__(self, vocab: int = 256, width: int = 16, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(vocab, width)
        self.prev = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.emb(tokens)
        shifted = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # the previous token
        h = h + torch.tanh(self.prev(shifted))
        return self.out(self.norm(h))
