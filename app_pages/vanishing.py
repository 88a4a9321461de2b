"""Vanishing gradients: sigma' <= 1/4, measured on live sigmoid / tanh / ReLU MLPs, float32
underflow, and the honest correction for BatchNorm + ReLU CNNs (they explode, not vanish)."""

import time

import pandas as pd
import streamlit as st

from resnet_explain import magnitude, ui
from resnet_explain.charts import gradflow as flow_charts
from resnet_explain.charts import theory as theory_charts
from resnet_explain.content import vanishing as vanishing_text
from resnet_explain.experiments import theory, vanishing
from resnet_explain.spec import cifar_resnet

settings = ui.settings()
seed = settings.seed
big = settings.presenter
H = 1.4 if big else 1.0

DEPTHS = (4, 8, 12, 16, 20, 28, 36, 44, 50, 56, 64, 76, 88, 100)
ACT_DEPTHS = (4, 8, 12, 16, 20, 28, 36, 44, 52)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def vanishing_cached(seed: int) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    table = vanishing.vanishing_table(DEPTHS, act="sigmoid", seed=seed)
    return table, time.perf_counter() - t0


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def activations_cached(seed: int) -> pd.DataFrame:
    return vanishing.activation_sweep(ACT_DEPTHS, seed=seed)


# Made once per input, not on every visit (~18 ms of pandas and sentences before; probes are cached)
@st.cache_data(ttl=3600, show_spinner=False)
def fixed_views():
    curves, slopes = theory.sigmoid_curves(), theory.activation_slopes()
    return curves, theory.sigmoid_peak(curves), slopes, vanishing_text.slopes_caption(slopes)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def long_view(seed: int) -> pd.DataFrame:
    return vanishing.vanishing_long(vanishing_cached(seed)[0])


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def activation_words(seed: int) -> tuple[str, str]:
    return vanishing_text.activation_sentences(activations_cached(seed), depth=20)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def cnn_views(seed: int, device: str, depth: int):
    plain, resnet = (ui.probe_cached(cifar_resnet(depth, skip=s).to_query(), seed, device, ui.PROBE_BATCH, False)
                     for s in (False, True))  # the very calls run_probe made: cache hits
    where = f"batch {ui.PROBE_BATCH}, seed {seed}, {plain[2]['device']}"
    return (flow_charts.gradflow_long({"plain": plain[0], "residual": resnet[0]}),
            vanishing_text.bn_cnn_text(plain[0], resnet[0], depth, where))


st.title("Vanishing gradients")
ui.aside("van_intro").markdown(
    "Backpropagation multiplies one factor per layer. If every factor is below 1, the gradient "
    "that reaches the first layers shrinks geometrically with depth: those layers barely learn. "
    "Below, every curve marked *measured* is a real forward and backward pass on a network built "
    f"here with seed **{seed}** (batch {vanishing.SWEEP_BATCH}, cross-entropy against random labels)."
)

# ---- sigma and sigma' -------------------------------------------------------------------------
st.header("1 · The sigmoid's slope is at most 1/4")
curves, (peak_x, peak_y), slopes, slopes_caption = fixed_views()
c1, c2 = ui.columns([3, 2])
with c1:
    ui.chart_with_export(ui.cached_chart(theory_charts.sigmoid_chart, curves, height=int(260 * H)), curves, "sigmoid", "van_sig")
with c2:
    st.markdown(
        r"$\sigma(x) = 1/(1+e^{-x})$ and $\sigma'(x) = \sigma(x)\,(1-\sigma(x))$. "
        f"On this grid σ′ peaks at x = {peak_x:.2f} with σ′ = **{peak_y:.4f}**: it is never "
        "larger than 1/4. So through L sigmoid layers the activation factor alone is at most "
        r"$0.25^L$ — before the weights multiply in their own: a layer's whole factor is at most "
        r"$\lVert W\rVert/4$, so the shrink is guaranteed only while the weights' gain "
        r"$\lVert W\rVert$ stays below 4 (Hochreiter 1991; Bengio et al. 1994)."
    )

# ---- depth slider -------------------------------------------------------------------------------
st.header("2 · Measured on a live sigmoid MLP")
depth = ui.controls("van_depth").select_slider("Depth (weighted layers)", options=DEPTHS, value=20, key="van_depth",
                         bind="query-params",
                         help="stem + two-layer blocks + head; no skips, no normalisation, PyTorch's "
                              "default init, width 64.")
with st.spinner("Probing sigmoid MLPs at every depth (float32 and float64)…"):
    table, secs = vanishing_cached(seed)
row = table[table["depth"] == depth].iloc[0]
L = int(row["layers_crossed"])
long = long_view(seed)
ui.aside("van_how").caption(
    "x: depth. y: log10 of the ratio ‖∂L/∂x‖ at the first block's output over the last block's. "
    f"Dashed: 0.25^L and 0.3^L with L = the sigmoid layers between those two points (depth − 4; "
    f"L = {L} at depth {depth}). Green line: the depth you picked. ▼: {magnitude.UNDERFLOW}, drawn "
    f"at the bottom, not dropped. {len(DEPTHS)} depths × 2 precisions took "
    f"{secs:.2f} s on the CPU when first computed (then cached)."
)
ui.chart_with_export(ui.cached_chart(theory_charts.vanishing_chart, long, depth, height=int(400 * H)), table,
                     "vanishing_sigmoid", "van_chart")
st.markdown(vanishing_text.depth_sentence(row))

# ---- float32 vs float64 ---------------------------------------------------------------------------
st.header("3 · float32 runs out of numbers")
st.markdown(vanishing_text.float32_sentence(table, seed))
st.table(vanishing.precision_table(row), hide_index=True)  # static: no table code for a new browser
st.caption("Norms are summed in float64 from float32 gradients, so a gradient whose squares would "
           f"underflow still gets a value; '{magnitude.UNDERFLOW_TEXT}' means the float32 gradient "
           "itself was 0.")

# ---- tanh and ReLU -------------------------------------------------------------------------------------
st.header("4 · tanh and ReLU")
c1, c2 = ui.columns([2, 3])
with c1:
    ui.chart_with_export(ui.cached_chart(theory_charts.activation_slopes_chart, slopes, height=int(260 * H)), slopes,
                         "activation_slopes", "van_slopes")
    st.caption(slopes_caption)
with c2:
    with st.spinner("Probing plain MLPs with three activations and three inits…"):
        sweep = activations_cached(seed)
    ui.chart_with_export(ui.cached_chart(theory_charts.activation_sweep_chart, sweep, height=int(320 * H)), sweep,
                         "activations_depth", "van_acts")
    st.caption("Plain MLPs (no skips, no norm), width 64. Dashed: the predicted ReLU curve "
               "(per-layer gain √(fan_in·Var(w)/2))^L for each init.")
acts, relu = activation_words(seed)
st.markdown(acts)
st.subheader("Why ReLU alone wasn't enough")
st.markdown(relu)

# ---- BN + ReLU CNN: explosion ---------------------------------------------------------------------------
st.header("5 · The honest correction: BatchNorm + ReLU CNNs do not vanish")
cnn_depth = ui.controls("van_cnn").segmented_control("Plain CIFAR CNN depth", (20, 56, 110), default=56, key="van_cnn_depth",
                                 bind="query-params",
                                 help="He et al. 2015's CIFAR networks (6n+2 layers), BatchNorm + ReLU, "
                                      "without skips, and the ResNet twin with the same weights.") or 56
with st.spinner(f"Probing plain-{cnn_depth} and ResNet-{cnn_depth}…"):
    plain = ui.run_probe(cifar_resnet(cnn_depth, skip=False), settings)
    resnet = ui.run_probe(cifar_resnet(cnn_depth, skip=True), settings) if plain else None
if plain and resnet:
    cl, said = cnn_views(seed, settings.device.type, cnn_depth)
    ui.chart_with_export(ui.cached_chart(flow_charts.grad_norm_chart, cl, height=int(360 * H)), cl, f"bn_cnn_{cnn_depth}", "van_cnn")
    st.markdown(said)
