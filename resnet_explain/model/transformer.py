"""A small decoder-only Transformer built from a NetSpec (family ``transformer``).

The interface the experiments rely on (keep it stable):

* ``build_model(spec, seed)`` -> :class:`TransformerNet`; ``model(tokens)`` with ``tokens`` a
  LongTensor [B, T] (T <= ``spec.context``, ids < ``spec.vocab``) -> logits [B, T, vocab];
* ``model(tokens, return_stream=True)`` -> (logits, stream): ``stream`` maps ``"embed"`` and every
  sublayer's name (``layer0.attn``, ``layer0.mlp``, ...) to the residual stream right after it,
  in order (the logit lens reads the ``.mlp`` entries: the stream after each layer);
* ``model.decode(h)`` = ``model.unembed(model.final_norm(h))``: logits from any stream state;
  ``final_norm`` is a LayerNorm for pre-LN and the identity otherwise (post-LN's stream is normalised
  already, the original Transformer has no final norm; without norms there is none);
* ``model.loss(logits, targets)``: next-token cross-entropy (targets [B, T]; -100 is not scored);
* ``model.named_blocks()`` -> the sublayers (:class:`~resnet_explain.model.blocks.Block`), input to
  output, each with ``without_branch(x, output)`` for the lesion study, as a CNN block has.

Module names: ``embed`` (``embed.tok``, ``embed.pos``), ``layer{i}.attn`` and ``layer{i}.mlp``
(each a Block: ``body`` = [``norm`` (pre-LN)] + ``qkv``, ``mix``, ``out`` or ``fc``, ``act``,
``out``; ``out_act`` = the post-LN norm; ``shortcut`` = identity), ``final_norm``, ``unembed``.
The sublayers' output projections are ``layer{i}.attn.body.out`` and ``layer{i}.mlp.body.out``.

The unembedding is **not tied** to the token embedding (GPT-2 ties them): untied, the embedding's
gradient measures the input end of the network only, and the logit lens decodes with a matrix that
is the output's alone.

Initialisation (each module from its own seed, so a twin has the same weights): ``default`` is
GPT-2's — every linear and embedding weight normal(0, 0.02), biases 0, and the residual output
projections (``body.out``) scaled by 1/sqrt(2·n_layer) (Radford et al. 2019, sec. 2.3; nanoGPT);
``xavier`` is Glorot & Bengio's normal on every linear layer (q, k, v as three square matrices),
nothing scaled by depth, embeddings still normal(0, 0.02). DeepNorm replaces the 1/sqrt(2N) with β on the value,
attention-output and both MLP weights (Wang et al. 2022; their code: ``xavier_normal_(gain=β)``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..seeding import global_rng, sub_seed
from ..spec import NetSpec
from ..spec.block import sublayer_name
from ..spec.transformer import deepnorm_alpha, deepnorm_beta
from .blocks import Block, make_act

GPT2_STD = 0.02  # Radford et al. 2019 / nanoGPT's _init_weights


class CausalMix(nn.Module):
    """The attention's mixing, without weights: q, k, v from the qkv projection, split into heads,
    softmax(q·kᵀ/sqrt(d_head) + causal mask)·v, heads joined. Position t sees positions <= t only."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.width, self.heads = width, heads

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        b, t, _ = qkv.shape
        q, k, v = (z.reshape(b, t, self.heads, self.width // self.heads).transpose(1, 2)
                   for z in qkv.split(self.width, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).reshape(b, t, self.width)

    def extra_repr(self) -> str:
        return f"width={self.width}, heads={self.heads}, causal"


class TransformerMakers:
    """The model side of the ``attn`` / ``mlp`` recipes (:mod:`resnet_explain.spec.kinds`)."""

    cardinality = 1

    def __init__(self, spec: NetSpec):
        self._act, self.heads = spec.act, spec.heads
        self.pre_norm, self.post_norm = spec.norm == "pre", spec.norm == "post"

    def layer(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Module:
        return nn.Linear(c_in, c_out)  # GPT-2's layers have biases, LayerNorm or not

    def norm(self, width: int) -> nn.Module:
        return nn.LayerNorm(width)

    def act(self, width: int) -> nn.Module:
        return make_act(self._act)

    def attend(self, width: int) -> nn.Module:
        return CausalMix(width, self.heads)


class Embedding(nn.Module):
    """Token + learned position embedding (GPT-2)."""

    def __init__(self, vocab: int, context: int, width: int):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        if t > self.pos.num_embeddings:
            raise ValueError(f"{t} tokens exceed the context of {self.pos.num_embeddings}")
        return self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device))


class Layer(nn.Module):
    """One Transformer layer, as nanoGPT's ``Block``: ``x = x + attn(ln_1(x))``, then
    ``x = x + mlp(ln_2(x))`` (pre-LN). Each sublayer is a :class:`Block` that does its own
    ``norm``, skip and (post-LN) norm after the add, so this reads the same for every variant."""

    def __init__(self, attn: Block, mlp: Block):
        super().__init__()
        self.attn, self.mlp = attn, mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(x)
        return self.mlp(x)


class TransformerNet(nn.Module):
    """embed -> layer0 .. layer{N-1} (attn, mlp) -> final_norm -> unembed."""

    def __init__(self, spec: NetSpec, seed: int = 0):
        super().__init__()
        self.spec = spec
        n, w = spec.depth, spec.width
        makers = TransformerMakers(spec)
        alpha = deepnorm_alpha(n) if spec.deepnorm else 1.0
        self.layer_names: list[str] = []
        with global_rng():
            torch.manual_seed(sub_seed(seed, "embed"))
            self.embed = Embedding(spec.vocab, spec.context, w)
            for emb in (self.embed.tok, self.embed.pos):
                nn.init.normal_(emb.weight, std=GPT2_STD)
            for i, stage in enumerate(spec.stages):
                subs = []
                for b in stage:
                    name = sublayer_name(i, b.kind)
                    torch.manual_seed(sub_seed(seed, name))
                    blk = Block(b, "transformer", spec.act, spec.norm, w, spec.res_scale,
                                survival=spec.block_survival()[2 * i + len(subs)], makers=makers,
                                skip_scale=alpha)
                    _init_sublayer(blk, spec)
                    if spec.zero_init_last:
                        blk.zero_init_last()
                    subs.append(blk)
                self.add_module(f"layer{i}", Layer(*subs))
                self.layer_names.append(f"layer{i}")
            torch.manual_seed(sub_seed(seed, "head"))
            self.final_norm = nn.LayerNorm(w) if spec.norm == "pre" else nn.Identity()
            self.unembed = nn.Linear(w, spec.vocab, bias=False)
            _init_linear(self.unembed, spec.init)

    def forward(self, tokens: torch.Tensor, return_stream: bool = False):
        x = self.embed(tokens)
        stream = {"embed": x} if return_stream else None
        for name in self.layer_names:
            layer = getattr(self, name)
            if return_stream:
                x = layer.attn(x)
                stream[f"{name}.attn"] = x
                x = layer.mlp(x)
                stream[f"{name}.mlp"] = x
            else:
                x = layer(x)
        logits = self.decode(x)
        return (logits, stream) if return_stream else logits

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from a residual-stream state: the final norm, then the unembedding."""
        return self.unembed(self.final_norm(h))

    @staticmethod
    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy, mean over the scored positions (targets of -100 are not)."""
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def named_blocks(self) -> list[tuple[str, Block]]:
        """(``layer{i}.attn`` / ``layer{i}.mlp``, Block) from input to output."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, Block)]


def _init_linear(m: nn.Linear, how: str, std: float = GPT2_STD) -> None:
    if how == "xavier":
        nn.init.xavier_normal_(m.weight)
    else:
        nn.init.normal_(m.weight, std=std)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def _init_sublayer(blk: Block, spec: NetSpec) -> None:
    """GPT-2's or Xavier's init of one sublayer; GPT-2's output projection scaled by 1/sqrt(2N)
    or, with DeepNorm, its value / output / MLP weights by β (see the module docstring)."""
    n, w = spec.depth, spec.width
    body = blk.body
    resid = 1.0 if spec.deepnorm else 1.0 / math.sqrt(2 * n)
    for name, m in body.named_children():
        if not isinstance(m, nn.Linear):
            continue
        _init_linear(m, spec.init, GPT2_STD * (resid if name == "out" else 1.0))
        with torch.no_grad():
            if name == "qkv" and spec.init == "xavier":  # q, k, v as three square projections
                for part in m.weight.split(w, dim=0):
                    part.copy_(nn.init.xavier_normal_(torch.empty_like(part)))
            if spec.deepnorm:
                beta = deepnorm_beta(n)
                target = m.weight[2 * w:] if name == "qkv" else m.weight  # qkv: the value rows only
                target.mul_(beta)


def token_batch(spec: NetSpec, batch: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of uniformly random token sequences of ``context + 1`` tokens: inputs (the
    first ``context``) and next-token targets (the same shifted by one). Text that means something
    comes from :mod:`resnet_explain.data` (any ``batch_fn`` of :func:`resnet_explain.probe.probe_spec`)."""
    g = torch.Generator().manual_seed(sub_seed(seed, "tokens"))
    seq = torch.randint(0, spec.vocab, (batch, spec.context + 1), generator=g)
    return seq[:, :-1], seq[:, 1:]
