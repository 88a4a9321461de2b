"""The residual stream of a Transformer, measured in one forward pass: its norm after every
sublayer and each sublayer's share ‖F(x)‖/‖x‖ — what the branch adds against what it is added to.

Pre-LN's stream grows with depth, since every sublayer adds to it and nothing normalises it (the
"curse of depth", Sun et al. 2025, arXiv 2502.05795); post-LN's is renormalised after every add;
ReZero's starts as the embedding (α = 0). Nothing here trains or changes the model.
"""

from __future__ import annotations

import pandas as pd
import torch

from .transformer import TransformerNet


def _token_norms(t: torch.Tensor) -> torch.Tensor:
    """The L2 norm of every token's vector, [B, T]."""
    return torch.linalg.vector_norm(t.detach().double(), dim=-1)


def residual_stream(model: TransformerNet, tokens: torch.Tensor) -> pd.DataFrame:
    """One row per sublayer, input to output (one forward, no gradient):

    * ``stream_norm``: the mean over tokens of ‖x_t‖ right after the sublayer (the stream the
      next one reads); ``input_norm`` the same of its input;
    * ``branch_norm``: the mean over tokens of what the sublayer adds, ‖r·F(x)_t‖ (r = ReZero's α
      where there is one; the whole output for a sublayer without its skip);
    * ``share``: ‖r·F(x)‖ / ‖a·x‖ over the whole batch (a = DeepNorm's α; NaN without a skip: nothing
      is added to). The first row also has the embedding's norm as its ``input_norm``.
    """
    caught: dict[str, torch.Tensor] = {}
    handles = [blk.body.register_forward_hook(
        lambda _m, _i, out, name=name: caught.__setitem__(name, out.detach()))
        for name, blk in model.named_blocks()]
    try:
        with torch.no_grad():
            _, stream = model(tokens, return_stream=True)
    finally:
        for h in handles:
            h.remove()
    names = list(stream)
    rows = []
    for pos, (prev, name) in enumerate(zip(names, names[1:])):
        blk = model.get_submodule(name)
        x, y, f = stream[prev], stream[name], caught[name]
        if blk.res_scale is not None:
            f = blk.res_scale.detach() * f
        shortcut = blk.skip_scale * x.double() if blk.shortcut is not None else None
        rows.append({
            "position": pos, "block": name, "layer": int(name.split(".")[0][5:]),
            "kind": name.split(".")[1], "skip": blk.shortcut is not None,
            "input_norm": float(_token_norms(x).mean()), "stream_norm": float(_token_norms(y).mean()),
            "branch_norm": float(_token_norms(f).mean()),
            "share": (float(torch.linalg.vector_norm(f.double()) / torch.linalg.vector_norm(shortcut))
                      if shortcut is not None else float("nan")),
        })
    return pd.DataFrame(rows)
