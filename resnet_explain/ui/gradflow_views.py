"""What the Gradient Flow page shows from a probed network and its twin, made once per probe.

The probes themselves are cached (:func:`.probing.probe_cached`), but the page rebuilt its long
tables, the per-term split, the weight-gradient table, the numbers table and its sentences from
them on every visit: ~12 ms of pandas on the 2-vCPU box, a quarter of a cached visit's script.
:func:`pair_views` makes them once per probe input (the same key as the probes) and hands the page
the finished pieces.
"""

from __future__ import annotations

import streamlit as st

from .. import magnitude
from ..charts import gradflow as flow_charts
from ..content.highway import identity_reading
from ..content.verdict import classifier_note, twin_sentence
from ..experiments.highway import gate_share, identity_share
from ..experiments.theory import sigmoid_bound_from_last
from ..probe import ratio_of
from ..spec import NetSpec
from .probing import probe_cached

# which family of terms the residual blocks split into (charts.gradflow.split_terms); by name, as
# a cached value is a copy and the lists' identity does not survive it
TERM_KINDS = ((flow_charts.GATED_TERMS, "gated"), (flow_charts.DENSE_TERMS, "dense"))


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def pair_views(spec_query: str, seed: int, device: str, batch: int, float64: bool) -> dict:
    """The page's tables and sentences for the spec (by its query string) and its twin, probed
    with these inputs (:func:`.probing.run_probe` has probed both already: these are cache hits)."""
    spec = NetSpec.from_query(spec_query)
    variant = spec.arch
    other = "plain" if variant == "residual" else "residual"
    mine = probe_cached(spec_query, seed, device, batch, float64)
    theirs = probe_cached(spec.twin().to_query(), seed, device, batch, float64)
    blocks = {variant: mine[0], other: theirs[0]}
    params = {variant: mine[1], other: theirs[1]}
    res_blocks = blocks["residual"]
    terms = flow_charts.split_terms(res_blocks)
    kind = next((name for names, name in TERM_KINDS if terms is names), "identity")
    n_id, n_res = identity_share(res_blocks)
    wl = flow_charts.weight_grad_long(params)
    bound = None
    if spec.act == "sigmoid" and spec.norm == "none":
        bound = sigmoid_bound_from_last(blocks["plain"])
    return {
        "twin_sentence": twin_sentence(blocks[variant], blocks[other], f"{variant.capitalize()} (yours)",
                                       f"{other} (twin)", "float64" if float64 else "float32"),
        "long": flow_charts.gradflow_long(blocks, yours=variant), "bound": bound,
        "kind": kind, "n_id": n_id, "n_res": n_res,
        "gate_share": gate_share(res_blocks) if kind == "gated" else None,
        "identity_reading": identity_reading(n_id, n_res),
        "split": flow_charts.split_long(res_blocks),
        "weights": wl, "classifier_note": classifier_note(wl, spec.norm),
        "numbers": flow_charts.numbers_table(blocks),
        "ratios": {v: magnitude.fmt_ratio(ratio_of(blocks[v]["grad_norm"])) for v in blocks},
    }
