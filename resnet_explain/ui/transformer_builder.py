"""The Network Builder for a Transformer (app_pages/builder.py): its knobs, each change a new
:func:`~resnet_explain.spec.transformer.transformer_spec`; the skips sublayer by sublayer; cost,
diagram and one layer as PyTorch prints it."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ..charts.diagram import to_dot
from ..model.blocks import Block
from ..model.transformer import Layer, TransformerNet
from ..spec import NetSpec
from ..spec.limits import MAX_CONTEXT, MAX_HEADS, MAX_WIDTH
from ..spec.transformer import scaling_of, transformer_spec
from .url_state import apply_edit, edit_error, editor_version
from .widgets import cost_metrics, show_code

NORM_WORDS = {"pre": "pre-LN: x + F(LN(x)) (GPT-2)", "post": "post-LN: LN(x + F(x)) (Vaswani et al. 2017)",
              "none": "none"}
SCALING_WORDS = {None: "none", "rezero": "ReZero: x + α·F(x), α from 0 (Bachlechner et al. 2020)",
                 "deepnorm": "DeepNorm: LN(α·x + F(x)), β-scaled init (Wang et al. 2022; post-LN)"}
INIT_WORDS = {"default": "GPT-2: normal(0, 0.02), out-projections / √(2N)", "xavier": "Xavier (Glorot 2010)"}


def _knobs(spec: NetSpec, v: int) -> dict:
    c = st.columns(4)
    knobs = {"depth": c[0].number_input("Layers", 1, 48, spec.depth, key=f"tf_depth_{v}"),
             "width": c[1].number_input("Width", 1, MAX_WIDTH, spec.width, key=f"tf_width_{v}"),
             "heads": c[2].number_input("Heads", 1, MAX_HEADS, spec.heads, key=f"tf_heads_{v}"),
             "context": c[3].number_input("Context", 1, MAX_CONTEXT, spec.context, key=f"tf_ctx_{v}")}
    c = st.columns(3)
    knobs["norm"] = c[0].selectbox("LayerNorm", list(NORM_WORDS), list(NORM_WORDS).index(spec.norm),
                                   format_func=NORM_WORDS.get, key=f"tf_norm_{v}")
    knobs["scaling"] = c[1].selectbox("Residual scaling", list(SCALING_WORDS),
                                      list(SCALING_WORDS).index(scaling_of(spec)),
                                      format_func=SCALING_WORDS.get, key=f"tf_scaling_{v}")
    knobs["init"] = c[2].selectbox("Initialisation", list(INIT_WORDS), list(INIT_WORDS).index(spec.init),
                                   format_func=INIT_WORDS.get, key=f"tf_init_{v}")
    return knobs


def _rebuild(spec: NetSpec, knobs: dict, off: list[str]) -> NetSpec:
    new = transformer_spec(**{k: int(v) if isinstance(v, float) else v for k, v in knobs.items()},
                           vocab=spec.vocab, act=spec.act, zero_init_last=spec.zero_init_last)
    for name in off:
        if name in dict(new.named_blocks()):
            new = new.set_block(name, skip=False)
    return new


def transformer_builder(spec: NetSpec, batch: int, limit_bytes: int) -> None:
    """The builder's body for a Transformer spec."""
    v = editor_version()
    left, right = st.columns([5, 2], gap="large")
    names = [n for n, _ in spec.named_blocks()]
    with left:
        st.subheader("Whole network")
        knobs = _knobs(spec, v)
        off = st.multiselect("Sublayers without their skip", names, [n for n, b in spec.named_blocks() if not b.skip],
                             key=f"tf_off_{v}", help="Each attention or MLP sublayer's skip, one by one; "
                                                     "the twin switches them all with the same weights.")
        b = st.columns(2)
        if b[0].button("All skips on", icon=":material/call_merge:", width="stretch"):
            off = []
        if b[1].button("All skips off", icon=":material/arrow_downward:", width="stretch"):
            off = names
        current = {"depth": spec.depth, "width": spec.width, "heads": spec.heads, "context": spec.context,
                   "norm": spec.norm, "scaling": scaling_of(spec), "init": spec.init}
        if knobs != current or sorted(off) != sorted(n for n, b in spec.named_blocks() if not b.skip):
            apply_edit(lambda: _rebuild(spec, knobs, off), "tf")
        edit_error("tf")
    with right:
        cost_metrics(spec, batch, limit_bytes)
        st.caption(f"{spec.summary()}. FLOPs are per sequence of {spec.context} tokens.")
        st.graphviz_chart(to_dot(spec, collapse=False), width="stretch")
        with st.expander("One layer as PyTorch prints it"):
            st.code(repr(TransformerNet(replace(spec, stages=spec.stages[:1])).layer0), language="text")
        show_code(Layer, "Show the code: Layer (the real source)")
        show_code(Block.forward, "Show the code: Block.forward, each sublayer (the real source)")
