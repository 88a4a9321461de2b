"""Transformers at initialisation: the gradient along the residual stream, the stream's size, and
each sublayer's share of it — for pre-LN, post-LN and the twin without skips, at several depths.

* **Gradients.** Xiong et al. 2020 (arXiv 2002.04745, Theorem 1 and fig. 3) predict that at
  initialisation post-LN's parameter gradients grow toward the output (so a large learning rate
  blows up the last layers unless warmed up), while pre-LN's stay level across layers. We measure,
  with the probe (:func:`resnet_explain.probe.probe`, one forward + backward on a batch of the
  corpus), ‖∂L/∂x‖ on the residual stream after each sublayer and every parameter's gradient norm;
  :func:`first_last` gives, per network, the first layer's over the last layer's (the MLP's output
  projection W2, the matrix Xiong et al. plot).
* **The stream.** In pre-LN nothing normalises the stream itself: each sublayer adds to it, so
  its norm grows with depth (the "curse of depth", Sun et al. 2025, arXiv 2502.05795), and each
  sublayer's share ‖F(x)‖/‖x‖ falls — deep layers change the stream less. Post-LN renormalises
  after every add.

Batches are windows of the corpus (:mod:`resnet_explain.data.text`), not random tokens: real
text's next-byte loss is what the gradients are of.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from ..data.text import TextRecipe
from ..model import build_model
from ..probe import probe
from ..seeding import sub_seed
from ..spec.transformer import transformer_spec
from .transformers_train import VARIANTS

INIT_DEPTHS = (6, 12, 24)
INIT_VARIANTS = ("pre-LN", "post-LN", "no skips")
# GPT-2's init (normal 0.02, output projections / sqrt(2N): the model's default) and Xavier's, the
# setting of Xiong et al.'s analysis (their sec. 3: Xavier, no depth scaling).
INITS = {"default": "GPT-2 (std 0.02, output projections / √(2N))", "xavier": "Xavier (Xiong et al.'s setting)"}
INIT_CHOICES = {"GPT-2": "default", "Xavier": "xavier"}  # the page's short names
STREAM_COLUMNS = ["variant", "depth", "init", "position", "block", "layer", "sublayer", "grad_norm",
                  "stream_norm", "branch_share"]
PARAM_COLUMNS = ["variant", "depth", "init", "param", "block", "layer", "sublayer", "matrix", "grad_norm",
                 "weight_norm"]
# The matrices of a sublayer by their module name in the body (model/transformer.py).
MATRICES = {"qkv": "attention q,k,v", "out": "output projection", "fc": "MLP input (W1)"}


def corpus_batch(recipe: TextRecipe, batch: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of training windows: (inputs, next-byte targets)."""
    train, _ = recipe.load()
    g = torch.Generator().manual_seed(sub_seed(seed, "init-batch"))
    idx = torch.randperm(len(train), generator=g)[:batch]
    return train.batch(idx)


def _layer_of(name: str) -> tuple[int, str]:
    head, _, rest = name.partition(".")
    return int(head.removeprefix("layer")), rest.split(".")[0]


def _ratio(f: torch.Tensor, x: torch.Tensor) -> float:
    """Mean over tokens of ‖f‖/‖x‖ (norms over the width)."""
    return float((f.norm(dim=-1) / x.norm(dim=-1).clamp_min(1e-30)).mean())


@torch.no_grad()
def stream_stats(model, x: torch.Tensor) -> pd.DataFrame:
    """Per sublayer: the mean over tokens of ‖stream‖ after it, and of its share ‖F(x)‖/‖x‖
    (F: its branch's output, the body; x: its input, the stream before it)."""
    branch: dict[str, torch.Tensor] = {}
    shares: dict[str, float] = {}
    handles = []
    for name, blk in model.named_blocks():
        handles.append(blk.body.register_forward_hook(
            lambda mod, args, out, name=name: branch.__setitem__(name, out)))
        handles.append(blk.register_forward_hook(
            lambda mod, args, out, name=name: shares.__setitem__(name, _ratio(branch[name], args[0]))))
    try:
        _, stream = model(x, return_stream=True)
    finally:
        for h in handles:
            h.remove()
    rows = [{"block": n, "stream_norm": float(h.norm(dim=-1).mean()), "branch_share": shares.get(n, math.nan)}
            for n, h in stream.items() if n != "embed"]
    return pd.DataFrame(rows)


def init_measurements(depths=INIT_DEPTHS, variants=INIT_VARIANTS, seed: int = 0, batch: int = 16,
                      recipe: TextRecipe | None = None, inits=("default",),
                      **sizes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(streams: one row per network and sublayer; params: one row per network and weight matrix
    of a sublayer) at initialisation, on one seeded batch of the corpus, for each init of ``inits``."""
    recipe = recipe or TextRecipe(context=sizes.get("context", 64))
    x, y = corpus_batch(recipe, batch, seed)
    streams, params = [], []
    for init in inits:
        for depth in depths:
            for variant in variants:
                spec = transformer_spec(depth=int(depth), **VARIANTS[variant], init=init, **sizes)
                tag = {"variant": variant, "depth": int(depth), "init": init}
                s, p = _measure(build_model(spec, seed=seed), x, y, tag)
                streams += s
                params += p
    return pd.DataFrame(streams, columns=STREAM_COLUMNS), pd.DataFrame(params, columns=PARAM_COLUMNS)


def _measure(model, x, y, tag: dict) -> tuple[list[dict], list[dict]]:
    """One network's rows: the probe's per-sublayer ‖∂L/∂x‖ and per-matrix gradients, the stream."""
    r = probe(model, x, y)
    st = stream_stats(model, x).set_index("block")
    streams, params = [], []
    for row in r.blocks.itertuples():
        layer, sub = _layer_of(row.block)
        streams.append({**tag, "position": int(row.position), "block": row.block, "layer": layer,
                        "sublayer": sub, "grad_norm": float(row.grad_norm),
                        "stream_norm": float(st.loc[row.block, "stream_norm"]),
                        "branch_share": float(st.loc[row.block, "branch_share"])})
    for row in r.params.itertuples():
        parts = row.param.split(".")
        if not (row.param.startswith("layer") and parts[-1] == "weight" and "body" in parts
                and parts[-2] in MATRICES):
            continue
        layer, sub = _layer_of(row.param)
        params.append({**tag, "param": row.param, "block": row.block, "layer": layer, "sublayer": sub,
                       "matrix": f"{sub} {MATRICES[parts[-2]]}", "grad_norm": float(row.grad_norm),
                       "weight_norm": float(row.weight_norm)})
    return streams, params


def first_last(params: pd.DataFrame, matrix: str = "mlp output projection") -> pd.DataFrame:
    """Per network: the gradient norm of ``matrix`` in the first layer over the last layer's
    (> 1: larger toward the input; < 1: larger toward the output, as Xiong et al. predict for
    post-LN)."""
    rows = []
    keys = ["variant", "depth", "init"]
    for (variant, depth, init), g in params[params["matrix"] == matrix].groupby(keys, sort=False):
        g = g.sort_values("layer")
        first, last = float(g["grad_norm"].iloc[0]), float(g["grad_norm"].iloc[-1])
        rows.append({"variant": variant, "depth": int(depth), "init": init, "matrix": matrix, "first": first,
                     "last": last, "first_over_last": first / last if last else math.nan})
    return pd.DataFrame(rows)
