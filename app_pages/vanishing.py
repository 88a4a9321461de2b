"""Vanishing gradients: sigma' <= 1/4, measured on live sigmoid / tanh / ReLU MLPs, float32
underflow, and the honest correction for BatchNorm + ReLU CNNs (they explode, not vanish)."""

import math
import time

import pandas as pd
import streamlit as st

from resnet_explain import magnitude, ui
from resnet_explain.charts import gradflow as charts
from resnet_explain.charts import theory as charts_theory
from resnet_explain.lab import theory
from resnet_explain.lab import vanishing as experiments
from resnet_explain.probe import ratio_of
from resnet_explain.spec import cifar_resnet

settings = ui.settings()
seed = settings["seed"]
big = settings["presenter"]
H = 1.4 if big else 1.0

DEPTHS = (4, 8, 12, 16, 20, 28, 36, 44, 50, 56, 64, 76, 88, 100)
ACT_DEPTHS = (4, 8, 12, 16, 20, 28, 36, 44, 52)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def vanishing_cached(seed: int) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    table = experiments.vanishing_table(DEPTHS, act="sigmoid", seed=seed)
    return table, time.perf_counter() - t0


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def activations_cached(seed: int) -> pd.DataFrame:
    return experiments.activation_sweep(ACT_DEPTHS, seed=seed)


def fmt(r: float) -> str:
    return magnitude.fmt_ratio(r, digits=2)


st.title("Vanishing gradients")
st.markdown(
    "Backpropagation multiplies one factor per layer. If every factor is below 1, the gradient "
    "that reaches the first layers shrinks geometrically with depth: those layers barely learn. "
    "Below, every curve marked *measured* is a real forward and backward pass on a network built "
    f"here with seed **{seed}** (batch {experiments.SWEEP_BATCH}, cross-entropy against random labels)."
)

# ---- sigma and sigma' -------------------------------------------------------------------------
st.header("1 · The sigmoid's slope is at most 1/4")
curves = theory.sigmoid_curves()
prime = curves[curves["curve"].str.startswith("σ′")]
peak = prime.loc[prime["value"].idxmax()]
c1, c2 = st.columns([3, 2])
with c1:
    ui.chart_with_export(charts_theory.sigmoid_chart(curves, height=int(260 * H)), curves, "sigmoid", "van_sig")
with c2:
    st.markdown(
        r"$\sigma(x) = 1/(1+e^{-x})$ and $\sigma'(x) = \sigma(x)\,(1-\sigma(x))$. "
        f"On this grid σ′ peaks at x = {peak['x']:.2f} with σ′ = **{peak['value']:.4f}**: it is never "
        "larger than 1/4. So through L sigmoid layers the activation factor alone is at most "
        r"$0.25^L$ — before the weights multiply in their own factor."
    )

# ---- depth slider -------------------------------------------------------------------------------
st.header("2 · Measured on a live sigmoid MLP")
depth = st.select_slider("Depth (weighted layers)", options=DEPTHS, value=20, key="van_depth",
                         help="stem + two-layer blocks + head; no skips, no normalisation, PyTorch's "
                              "default init, width 64.")
with st.spinner("Probing sigmoid MLPs at every depth (float32 and float64)…"):
    table, secs = vanishing_cached(seed)
row = table[table["depth"] == depth].iloc[0]
L = int(row["layers_crossed"])
long = experiments.vanishing_long(table)
st.caption(
    "x: depth. y: log10 of the ratio ‖∂L/∂x‖ at the first block's output over the last block's. "
    f"Dashed: 0.25^L and 0.3^L with L = the sigmoid layers between those two points (depth − 4; "
    f"L = {L} at depth {depth}). Green line: the depth you picked. ▼: exactly 0 in float32 "
    f"(underflow), drawn at the bottom, not dropped. {len(DEPTHS)} depths × 2 precisions took "
    f"{secs:.2f} s on the CPU when first computed (then cached)."
)
ui.chart_with_export(charts_theory.vanishing_chart(long, depth, height=int(400 * H)), table,
                     "vanishing_sigmoid", "van_chart")

bound = 0.25 ** L
r32, r64 = float(row["ratio32"]), float(row["ratio64"])
measured = r64 if row["underflow32"] else r32
if L == 0:
    st.markdown(f"At depth {depth} the net has a single block: first and last are the same, ratio **1**.")
else:
    below = math.log10(bound) - math.log10(measured) if measured > 0 else float("nan")
    txt = (f"At depth **{depth}** the first block receives **{fmt(r32)}** of the last block's gradient "
           f"in float32" + (f" (**0 — underflow**; float64 gives {fmt(r64)})" if row["underflow32"] else "")
           + f". The σ′ bound alone allows 0.25^{L} = {fmt(bound)}. ")
    if below > 0:
        txt += (f"The measurement is **{below:.1f} orders of magnitude below** the bound: σ′ is "
                "below 1/4 away from x = 0, and the weights shrink the gradient too — PyTorch's default "
                f"init draws them with variance 1/(3·fan_in), so a layer scales a gradient by about "
                f"√(64 · 1/(3·64)) = {math.sqrt(1 / 3):.2f} before σ′ acts.")
    else:
        txt += f"The measurement is {-below:.1f} orders of magnitude *above* the bound here."
    st.markdown(txt)

# ---- float32 vs float64 ---------------------------------------------------------------------------
st.header("3 · float32 runs out of numbers")
u_theory = theory.float32_underflow_depth(0.25)
u_meas = experiments.first_underflow_depth(table)
pc = theory.power_curve(0.25, [L])
st.markdown(
    f"float32's smallest positive number is {theory.FLOAT32_TINY:.2g} (a subnormal). The product "
    f"0.25^L rounds to **exactly 0** in float32 from **L = {u_theory}** on (it is 2^-{2 * u_theory})."
    + (f" The live network gets there much earlier: its first-block gradient is **0 in float32** from "
       f"depth **{u_meas}** on (the first swept depth where it happens, seed {seed}), because its real "
       "per-layer factor is far below 0.25. float64 still measures it." if u_meas else
       " In this sweep the live network's float32 gradient never reaches exactly 0.")
)
cmp = pd.DataFrame({
    "quantity": [f"0.25^{L}", f"measured ratio, depth {depth}"],
    "float32": ["0 (underflow)" if bool(pc["float32_underflow"].iloc[0]) else f"{pc['float32'].iloc[0]:.4g}",
                "0 (underflow)" if row["underflow32"] else f"{r32:.4g}"],
    "float64": [f"{pc['value'].iloc[0]:.4g}", f"{r64:.4g}"],
    "log10 (float64)": [f"{pc['log10'].iloc[0]:.2f}", f"{row['log10_ratio64']:.2f}"],
})
st.dataframe(cmp, hide_index=True, width="stretch")
st.caption("Norms are summed in float64 from float32 gradients, so a gradient whose squares would "
           "underflow still gets a value; '0 (underflow)' means the float32 gradient itself was 0.")

# ---- tanh and ReLU -------------------------------------------------------------------------------------
st.header("4 · tanh and ReLU")
slopes = theory.activation_slopes()
c1, c2 = st.columns([2, 3])
with c1:
    import altair as alt

    sl = alt.Chart(slopes).mark_line(strokeWidth=3).encode(
        x=alt.X("x:Q"), y=alt.Y("slope:Q", title="derivative"), color=alt.Color("activation:N", title=None),
        tooltip=["activation:N", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("slope:Q", format=".3f")],
    ).properties(height=int(260 * H), width="container")
    ui.chart_with_export(sl, slopes, "activation_slopes", "van_slopes")
    mx = slopes.groupby("activation")["slope"].max()
    st.caption(f"Largest slope on this grid: sigmoid {mx['sigmoid']:.3f}, tanh {mx['tanh']:.3f}, "
               f"ReLU {mx['relu']:.0f} (wherever the unit is active).")
with c2:
    with st.spinner("Probing plain MLPs with three activations and three inits…"):
        sweep = activations_cached(seed)
    ui.chart_with_export(charts_theory.activation_sweep_chart(sweep, height=int(320 * H)), sweep,
                         "activations_depth", "van_acts")
    st.caption("Plain MLPs (no skips, no norm), width 64. Dashed: the predicted ReLU curve "
               "(per-layer gain √(fan_in·Var(w)/2))^L for each init.")

d20 = sweep[sweep["depth"] == 20].set_index("label")
gain_default = theory.relu_layer_gain("default", 64, 64)
gain_kaiming = theory.relu_layer_gain("kaiming", 64, 64)
st.markdown(
    f"At depth 20 (L = 16 layers crossed): sigmoid **{fmt(d20.loc['sigmoid, default init', 'ratio'])}**, "
    f"tanh **{fmt(d20.loc['tanh, default init', 'ratio'])}**, ReLU **{fmt(d20.loc['relu, default init', 'ratio'])}** "
    f"(all PyTorch default init). tanh′(0) = 1, so tanh vanishes more slowly than sigmoid."
)
st.subheader("Why ReLU alone wasn't enough")
pred = gain_default ** 16
st.markdown(
    "ReLU's slope is 1 where it is active, so the activation no longer shrinks the gradient — but the "
    "weights still do. Backward through one Linear + ReLU layer the gradient's size is multiplied by "
    "about √(fan_in · Var(w) / 2) (half the units are active). With PyTorch's default init, "
    f"Var(w) = 1/(3·fan_in): the factor is **{gain_default:.3f}**, and 16 layers give "
    f"{gain_default:.3f}^16 = **{fmt(pred)}**; measured: **{fmt(d20.loc['relu, default init', 'ratio'])}**. "
    f"Small weights vanish with ReLU too. Kaiming init (He et al. 2015b, arXiv 1502.01852) chose "
    f"Var(w) = 2/fan_in to make the factor {gain_kaiming:.0f}: measured "
    f"**{fmt(d20.loc['relu, kaiming init', 'ratio'])}** at depth 20 and "
    f"**{fmt(sweep[(sweep['depth'] == ACT_DEPTHS[-1]) & (sweep['label'] == 'relu, kaiming init')]['ratio'].iloc[0])}** "
    f"at depth {ACT_DEPTHS[-1]}. Careful init (and, next, normalisation) fixes the size at "
    "initialisation; it does not make a deep plain net *train* as well as a residual one (He et al. "
    "2015, arXiv 1512.03385, fig. 1 and 4)."
)

# ---- BN + ReLU CNN: explosion ---------------------------------------------------------------------------
st.header("5 · The honest correction: BatchNorm + ReLU CNNs do not vanish")
cnn_depth = st.segmented_control("Plain CIFAR CNN depth", (20, 56, 110), default=56, key="van_cnn_depth",
                                 help="He et al. 2015's CIFAR networks (6n+2 layers), BatchNorm + ReLU, "
                                      "without skips, and the ResNet twin with the same weights.") or 56
with st.spinner(f"Probing plain-{cnn_depth} and ResNet-{cnn_depth}…"):
    plain = ui.run_probe(cifar_resnet(cnn_depth, skip=False), settings)
    resnet = ui.run_probe(cifar_resnet(cnn_depth, skip=True), settings) if plain else None
if plain and resnet:
    frames = {"plain": plain[0], "residual": resnet[0]}
    cl = charts.gradflow_long(frames)
    ui.chart_with_export(charts.grad_norm_chart(cl, height=int(360 * H)), cl, f"bn_cnn_{cnn_depth}", "van_cnn")
    rp, rr = ratio_of(plain[0]["grad_norm"]), ratio_of(resnet[0]["grad_norm"])
    if rp > 10:
        verdict = (f"Plain-{cnn_depth}'s first block receives **{fmt(rp)}×** the last block's gradient: "
                   "it **explodes toward the input**, it does not vanish")
    elif rp < 0.1:
        verdict = f"Plain-{cnn_depth}'s first block receives **{fmt(rp)}×** the last block's gradient: it vanishes"
    else:
        verdict = (f"Plain-{cnn_depth}'s first block receives **{fmt(rp)}×** the last block's gradient: "
                   "about the same size")
    st.markdown(
        f"{verdict}; ResNet-{cnn_depth}: **{fmt(rr)}×** (batch {ui.PROBE_BATCH}, seed {seed}, "
        f"{plain[2]['device']}). With BatchNorm, deep plain CNNs are not starved of gradient at "
        "initialisation — their gradients grow toward the input (Yang et al. 2019, arXiv 1902.08129, "
        "show BatchNorm makes this explosion unavoidable in deep plain nets). He et al. 2015 (arXiv "
        "1512.03385, sec. 4.1) checked that their BN plain nets had healthy gradients and still trained "
        "worse when deeper: they called degradation an **optimisation** difficulty. Skips fix both "
        "kinds of trouble, vanishing and exploding; see the Gradient Highway next."
    )
