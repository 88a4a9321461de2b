"""The gradient highway: dL/dx_l = dL/dx_{l+1} (1 + dF/dx_l), measured per block on the visitor's
network, and the identity hypothesis (zero-init / residual scale alpha = 0)."""

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import gradflow as flow_charts
from resnet_explain.charts import theory as theory_charts
from resnet_explain.content import highway as highway_text
from resnet_explain.experiments import highway
from resnet_explain.model.blocks import Block

settings = ui.settings()
spec = ui.current_spec()
seed = settings.seed
H = 1.4 if settings.presenter else 1.0
ALPHAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def alpha_cached(seed: int) -> pd.DataFrame:
    return highway.alpha_sweep(ALPHAS, depths=(20, 50), inits=("default", "kaiming"), seed=seed)


# Tables and sentences made once per probe, not on every visit; the probes are run_probe's very
# calls (cache hits): (spec query, seed, device, batch, float64)
def probed(query: str, seed: int, device: str):
    return ui.probe_cached(query, seed, device, ui.PROBE_BATCH, False)[0]


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def block_views(query: str, seed: int, device: str):
    table = highway.highway_table(probed(query, seed, device))
    return (table, highway.highway_long(table), highway_text.terms_sentence(table),
            highway_text.gains_sentence(table))


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def identity_views(query: str, seed: int, device: str, label: str, alpha: float, zil: bool, init: str,
                   depth: int):
    ib = probed(query, seed, device)
    return highway_text.identity_sentence(ib, alpha, zil, init, depth), flow_charts.gradflow_long({label: ib})


st.title("The gradient highway")
st.markdown(
    r"A residual block computes $x_{l+1} = x_l + F(x_l)$. By the chain rule"
    "\n\n"
    r"$$\frac{\partial L}{\partial x_l} = \frac{\partial L}{\partial x_{l+1}}\Big(1 + \frac{\partial F}{\partial x_l}\Big)"
    r"\qquad\Rightarrow\qquad \frac{\partial L}{\partial x_1} = \frac{\partial L}{\partial x_L}"
    r"\prod_{l=1}^{L-1}\Big(1 + \frac{\partial F_l}{\partial x_l}\Big)$$")
ui.aside("hw_intro").markdown(
    "The **1** is the identity shortcut: it hands the gradient back untouched, so the product does "
    "not go to 0 when the branches' derivatives are small, as a plain net's ∏ ∂F/∂x does. It does "
    "not keep the product near 1 either: factors of 1 + something can multiply up (the bars below). "
    "He et al. 2016 (arXiv [1603.05027](https://arxiv.org/abs/1603.05027), sec. 2) write the same "
    r"gradient between any two blocks as a sum, eq. 5: $\frac{\partial E}{\partial x_l} = "
    r"\frac{\partial E}{\partial x_L}\big(1 + \frac{\partial}{\partial x_l}\sum_{i=l}^{L-1} F(x_i)\big)$; "
    "with L = l + 1 it is the one-block formula on the left. The product on the right is the chain "
    "rule applied block by block."
)

# ---- live per-block terms on the visitor's network ---------------------------------------------------
st.header("1 · Your network, block by block")
net = spec if spec.any_skip else spec.twin()
if spec.any_skip:
    ui.aside("hw_yours").caption(f"Your network (from the Network Builder / the URL): {spec.summary()}.")
else:
    st.info(f"Your network ({spec.summary()}) has no skip connections, so it has no identity term. "
            "Shown here: its **residual twin** — the same layers and weights with the skips on.",
            icon=":material/info:")
with st.spinner("Running forward + backward…"):
    got = ui.run_probe(net, settings)
if not got:
    st.stop()
meta = got[2]
table, long, terms_text, gains_text = block_views(net.to_query(), seed, settings.device.type)
ui.aside("hw_ran").caption(f"{net.summary()}. One forward + backward pass, batch {meta['batch']}, "
                           f"seed {seed}, {meta['device']} ({meta['dtype']}), {meta['seconds'] * 1e3:.0f} ms.")
if net.any_skip:
    ui.chart_with_export(ui.cached_chart(theory_charts.highway_chart, long,
                                         height=ui.chart_height(340, 476, 340)),
                         table, "highway_terms", "hw_terms")
    st.markdown(terms_text)

st.subheader("The product, one factor per block")
st.markdown(
    "Each bar is one block's measured **gain** ‖∂L/∂x_in‖ / ‖∂L/∂x_out‖ — the size of "
    "(1 + ∂F/∂x)ᵀ acting on this gradient (∂F/∂xᵀ alone without a skip; post-activation blocks "
    "also include the activation after the add). Their product from "
    "the last block back to the first is the first/last gradient ratio by construction (each gain is a "
    "ratio of neighbouring gradients, so the product telescopes)."
)
ui.chart_with_export(ui.cached_chart(theory_charts.gain_chart, table, height=int(260 * H)), table, "block_gains", "hw_gains")
if gains_text:
    st.markdown(gains_text)
numbers = ui.lazy_expander("The numbers (per block)", "hw_numbers")
if numbers.open:
    numbers.dataframe(table[["block", "skip", "grad_norm", "identity_norm", "residual_norm", "gain",
                             "log10_product_from_last"]], hide_index=True, width="stretch")
ui.show_code(Block.forward, "Show the block's forward (the real source)")

# ---- identity hypothesis ---------------------------------------------------------------------------------
st.header("2 · Start as the identity")
st.markdown(
    "If each branch starts at zero, every block is exactly the identity: the network starts as a "
    "shallow one, and the gradient reaches every block at the same size. Two ways: zero-initialise "
    "the last layer of each branch (Goyal et al. 2017, arXiv 1706.02677), or multiply the branch "
    "by a learnable scalar α initialised to 0 (SkipInit, De & Smith 2020, arXiv "
    "[2002.10444](https://arxiv.org/abs/2002.10444); ReZero, Bachlechner et al. 2020). Here: a ReLU "
    "residual MLP **without normalisation**."
)
c1, c2, c3, c4 = ui.controls("hw_id").columns(4)
alpha = c1.select_slider("Residual scale α", options=ALPHAS, value=0.0, key="hw_alpha", bind="query-params")
zil = c2.toggle("Zero-init last layer", value=False, key="hw_zil", bind="query-params",
                help="Start the last Linear of every branch at 0 (the branch is then 0 whatever α is).")
init = c3.selectbox("Init", ("default", "kaiming"), key="hw_init", bind="query-params",
                    help="PyTorch's default (Var = 1/(3·fan_in)) or Kaiming (Var = 2/fan_in, He et al. 2015b).")
depth = c4.selectbox("Depth", (20, 50), key="hw_depth", bind="query-params")
ispec = highway.identity_spec(depth, alpha, init, zero_init_last=zil)
got = ui.run_probe(ispec, settings)
if got:
    label = f"α = {alpha}{', zero-init last' if zil else ''}"
    said, long = identity_views(ispec.to_query(), seed, settings.device.type, label, alpha, zil, init, depth)
    st.markdown(said)
    ui.chart_with_export(ui.cached_chart(theory_charts.blocks_multi_chart, long, height=int(280 * H)), long,
                         "identity_start", "hw_id")

st.subheader("Raise α: residual growth without normalisation")
with st.spinner("Sweeping α over 2 depths × 2 inits…"):
    sweep = alpha_cached(seed)
c1, c2 = ui.columns(2)
with c1:
    ui.chart_with_export(ui.cached_chart(theory_charts.alpha_chart, sweep, height=int(300 * H)), sweep, "alpha_sweep", "hw_alpha_g")
    st.caption("Backward: first/last block gradient ratio (log10).")
with c2:
    ui.chart_with_export(ui.cached_chart(theory_charts.alpha_chart, sweep, "log10_forward_growth",
                                                   "log10 (activation std, last / first block)",
                                                   height=int(300 * H)), sweep, "alpha_forward", "hw_alpha_f")
    st.caption("Forward: how much the activations' spread grows through the blocks (log10).")
st.markdown(highway_text.alpha_sentence(sweep, seed))
