"""The Transformer family's layout from its knobs, and the residual scalings' constants.

A decoder-only Transformer (GPT-2's layout, Radford et al. 2019; nanoGPT's ``Block``): ``depth``
layers, each an attention sublayer then an MLP sublayer (:mod:`.kinds`: ``attn``, ``mlp``), named
``layer{i}.attn`` and ``layer{i}.mlp``. The knobs per network:

* ``norm``: ``"pre"`` (x + F(LN(x)), GPT-2; a final LayerNorm before the unembedding), ``"post"``
  (LN(x + F(x)), Vaswani et al. 2017; no final norm: the stream is already normalised) or
  ``"none"``;
* ``skips``: every sublayer's skip on or off (the twin: same weights, only the skips differ);
* ``scaling``: None; ``"rezero"`` — x + α·F(x) with a learnable α per sublayer that starts at 0
  (Bachlechner et al. 2020, arXiv 2003.04887; with or without norms: their paper drops them),
  which is the spec's ``res_scale = 0``; ``"deepnorm"`` — x ← LN(α·x + F(x)) with α = (2N)^(1/4)
  and the value, attention-output and both MLP weights initialised β = (8N)^(-1/4) times smaller,
  N the number of layers, the decoder-only constants of Wang et al. 2022 (arXiv 2203.00555, fig. 2
  and table 1); post-LN only, as in the paper.
"""

from __future__ import annotations

from .block import BlockSpec
from .errors import SpecError
from .grammar import DEFAULT_GLOBALS
from .netspec import NetSpec

SCALINGS = (None, "rezero", "deepnorm")


def deepnorm_alpha(n_layers: int) -> float:
    """DeepNorm's weight on the identity, decoder-only: α = (2N)^(1/4) (Wang et al. 2022, table 1)."""
    return (2.0 * n_layers) ** 0.25


def deepnorm_beta(n_layers: int) -> float:
    """DeepNorm's init gain on the value, attention-output and MLP weights, decoder-only:
    β = (8N)^(-1/4) (Wang et al. 2022, table 1)."""
    return (8.0 * n_layers) ** -0.25


def transformer_spec(depth: int = 6, width: int = 128, heads: int = 4, context: int = 64,
                     vocab: int = 256, norm: str = "pre", skips: bool = True,
                     scaling: str | None = None, **globals_) -> NetSpec:
    """The NetSpec of a decoder-only Transformer from its knobs (``globals_``: other NetSpec
    fields, e.g. ``init="xavier"``, ``act="relu"``). Raises SpecError for what cannot be built
    (DeepNorm without post-LN, heads that do not divide the width, ...)."""
    if scaling not in SCALINGS:
        raise SpecError("scaling", f"must be one of {SCALINGS}, got {scaling!r}")
    if not isinstance(depth, int) or depth < 1:
        raise SpecError("depth", f"a Transformer needs at least one layer, got {depth!r}")
    layer = (BlockSpec("attn", width, skip=bool(skips)), BlockSpec("mlp", width, skip=bool(skips)))
    kw = dict(DEFAULT_GLOBALS["transformer"])
    kw.update(norm=norm, heads=heads, context=context, vocab=vocab)
    if scaling == "rezero":
        kw["res_scale"] = 0.0
    elif scaling == "deepnorm":
        kw["deepnorm"] = True
    kw.update(globals_)
    return NetSpec(family="transformer", stages=(layer,) * depth, **kw)


def scaling_of(spec: NetSpec) -> str | None:
    """The residual scaling of a transformer spec, in :func:`transformer_spec`'s words."""
    return "deepnorm" if spec.deepnorm else "rezero" if spec.res_scale == 0.0 else None
