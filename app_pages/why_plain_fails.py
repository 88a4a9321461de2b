"""Why deep plain nets fail — measured: four mechanisms on the shipped plain and residual twins
(depths 20 and 56), at initialisation and trained, from the stored results in assets/mechanisms."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import grad_history
from resnet_explain.charts import mechanisms as charts
from resnet_explain.content import mechanisms as text
from resnet_explain.experiments import mechanism_runs

settings = ui.settings()
H = 1.4 if settings.presenter else 1.0


@st.cache_data(max_entries=2, ttl=3600, show_spinner=False)
def stored():
    return mechanism_runs.load_stored()


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def live_init(seed: int):
    return mechanism_runs.with_init_at(mechanism_runs.load_stored()[0], seed)


@st.cache_data(ttl=3600, show_spinner=False)
def shipped_seeds() -> set[int]:
    return mechanism_runs.run_seeds()  # reads the shipped runs' records: ~4 ms a visit otherwise


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def sentences(live_seed: int | None, depth: int) -> tuple[str, str, str, str]:
    """The four sections' sentences for the stored tables (``live_seed`` None) or those with the
    initial state at ``live_seed``: made once per input, not on every visit (the gradient one
    alone took ~50 ms)."""
    tables = stored()[0] if live_seed is None else live_init(live_seed)
    return (text.gradient_sentence(tables["grads"], depth),
            text.correlation_sentence(tables["correlation"], depth),
            text.share_sentence(tables["share"], depth), text.signal_sentence(tables["signal"], depth))


st.title("Why deep plain nets fail — measured")
st.markdown(
    "The Training page shows *that* plain nets train worse as they get deeper. This page measures "
    "*why*, on the same shipped twins (plain and residual, 20 and 56 layers), with four mechanisms "
    "from the literature — each chart with the sentence its numbers give, and a plain \"does not "
    "show here\" where they do not.")
found = stored()
if found is None:
    st.warning("The stored results are missing: `python scripts/make_mechanisms.py --threads 1` makes "
               "them (a few minutes on one CPU thread).")
    st.stop()
tables, meta = found
live_seed = None
if settings.seed not in shipped_seeds() and st.toggle(
        text.live_init_label(settings.seed), key="mech_live",
        help="The trained weights and the snapshots stay the stored ones: only the starting point changes."):
    with st.spinner(text.live_init_spinner(settings.seed)):
        tables, live_seed = live_init(settings.seed), settings.seed
depths = sorted(int(d) for d in tables["grads"]["depth"].unique())
depth = st.radio("Depth", depths, index=len(depths) - 1, key="mech_depth", horizontal=True,
                 bind="query-params")
st.caption(text.how_made(meta))
said = sentences(live_seed, depth)

st.subheader("1 · Gradients and updates over training")
g = tables["grads"][tables["grads"]["depth"] == depth]
frames = {arch: g[g["arch"] == arch] for arch in ("plain", "residual")}
quantity = st.radio("Quantity", ["grad_norm", "update_ratio"], horizontal=True, key="mech_q",
                    format_func=grad_history.QUANTITIES.get, bind="query-params")
ui.chart_with_export(ui.cached_chart(grad_history.heatmap, frames, quantity, height=int(320 * H)), g,
                     f"mechanisms_{quantity}_{depth}", "mech_heat")
st.markdown(said[0])

st.subheader("2 · Shattered gradients")
c = tables["correlation"]
ui.chart_with_export(ui.cached_chart(charts.correlation_chart, c, depth, height=int(260 * H)), c[c["depth"] == depth],
                     f"mechanisms_correlation_{depth}", "mech_corr")
st.markdown(said[1])

st.subheader("3 · The residual branch's share")
s = tables["share"]
ui.chart_with_export(ui.cached_chart(charts.share_chart, s, height=int(260 * H)), s, "mechanisms_share", "mech_share")
st.markdown(said[2])

st.subheader("4 · Signal propagation at initialisation")
sig = tables["signal"]
c1, c2 = st.columns(2)
with c1:
    ui.chart_with_export(ui.cached_chart(charts.signal_chart, sig, "variance", height=int(240 * H)), sig,
                         "mechanisms_variance", "mech_var")
with c2:
    ui.chart_with_export(ui.cached_chart(charts.signal_chart, sig, "mean_sq", height=int(240 * H)), sig,
                         "mechanisms_mean_sq", "mech_msq")
st.markdown(said[3])
