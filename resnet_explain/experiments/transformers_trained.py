"""What a trained Transformer's layers do: a lesion of one layer at a time, and the logit lens.

**Lesion** (Veit et al. 2016, arXiv 1605.06431: deleting one block of a trained ResNet barely hurts
it, deleting one layer of a VGG breaks it; Gromov et al. 2024, arXiv 2403.17887: about half of an
LLM's deepest layers can be pruned before its answers collapse). We delete one layer (its attention
and MLP sublayers) or one sublayer and measure the validation loss. Deleting a sublayer with a skip
keeps its skip and drops its branch (:meth:`~resnet_explain.model.blocks.Block.without_branch`:
pre-LN x + F(LN x) -> x; post-LN LN(x + F(x)) -> LN(x)); a sublayer without a skip has no path
around it, so its input is passed on unchanged — the same operation, read as "the layer removed".

**Logit lens** (nostalgebraist 2020, "interpreting GPT: the logit lens"; Belrose et al. 2023, arXiv
2303.08112): decode the residual stream after each layer with the model's own final norm and
unembedding, and measure the next-token loss there. In a residual network each layer refines one
running prediction, so the loss falls layer by layer; a network without skips has no shared stream
to read, and its intermediate states need not mean anything to the unembedding.
"""

from __future__ import annotations

import torch
import pandas as pd
from torch import nn

from ..data.text import IGNORE, TokenSet
from ..train.lm_trainer import lm_loss

LESION_COLUMNS = ["unit", "removed", "layer", "val_loss", "delta"]
LENS_COLUMNS = ["after", "layer", "val_loss"]
LESION_WINDOWS = 128  # validation windows each lesion is measured on (8,192 next bytes)


def _sublayers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return list(model.named_blocks())


def _removed(block: nn.Module):
    """A forward hook that deletes ``block``'s branch (see the module docstring)."""
    def hook(mod, args, output):
        x = args[0]
        return mod.without_branch(x, output) if mod.skip else x
    return hook


@torch.no_grad()
def _loss(model: nn.Module, data: TokenSet, n: int, batch: int = 32) -> float:
    total, count = 0.0, 0
    for s in range(0, n, batch):
        x, y = data.batch(slice(s, min(n, s + batch)))
        total += float(lm_loss(model(x), y, "sum"))
        count += int((y != IGNORE).sum())
    return total / max(1, count)


@torch.no_grad()
def lesion(model: nn.Module, val: TokenSet, windows: int = LESION_WINDOWS) -> pd.DataFrame:
    """One row per removed layer (``unit`` "layer") and per removed sublayer (``unit``
    "sublayer"), plus the intact model (``removed`` "none"): validation loss and its change."""
    model = model.eval()
    n = min(windows, len(val))
    base = _loss(model, val, n)
    rows = [{"unit": "none", "removed": "none", "layer": -1, "val_loss": base, "delta": 0.0}]
    subs = _sublayers(model)
    layers: dict[int, list] = {}
    for name, blk in subs:
        layers.setdefault(int(name.split(".")[0].removeprefix("layer")), []).append((name, blk))
    groups = [("layer", f"layer{i}", i, members) for i, members in layers.items()]
    groups += [("sublayer", name, int(name.split(".")[0].removeprefix("layer")), [(name, blk)])
               for name, blk in subs]
    for unit, label, i, members in groups:
        handles = [blk.register_forward_hook(_removed(blk)) for _, blk in members]
        try:
            loss = _loss(model, val, n)
        finally:
            for h in handles:
                h.remove()
        rows.append({"unit": unit, "removed": label, "layer": i, "val_loss": loss, "delta": loss - base})
    return pd.DataFrame(rows, columns=LESION_COLUMNS)


@torch.no_grad()
def logit_lens(model: nn.Module, val: TokenSet, windows: int = LESION_WINDOWS, batch: int = 32) -> pd.DataFrame:
    """Next-token loss of the residual stream decoded after the embedding and after each layer
    (``model.decode``: the final norm, then the unembedding); the last row is the model's own loss."""
    model = model.eval()
    n = min(windows, len(val))
    sums: dict[str, float] = {}
    count = 0
    for s in range(0, n, batch):
        x, y = val.batch(slice(s, min(n, s + batch)))
        _, stream = model(x, return_stream=True)
        for name, h in stream.items():
            if name == "embed" or name.endswith(".mlp"):
                sums[name] = sums.get(name, 0.0) + float(lm_loss(model.decode(h), y, "sum"))
        count += int((y != IGNORE).sum())
    rows = [{"after": name, "layer": -1 if name == "embed" else int(name.split(".")[0][5:]),
             "val_loss": v / max(1, count)} for name, v in sums.items()]
    return pd.DataFrame(rows, columns=LENS_COLUMNS)
