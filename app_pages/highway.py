"""The gradient highway: dL/dx_l = dL/dx_{l+1} (1 + dF/dx_l), measured per block on the visitor's
network, and the identity hypothesis (zero-init / residual scale alpha = 0)."""


import pandas as pd
import streamlit as st

from resnet_explain import magnitude, ui
from resnet_explain.charts import gradflow as charts
from resnet_explain.charts import theory as charts_theory
from resnet_explain.lab import highway as experiments
from resnet_explain.model.blocks import Block

settings = ui.settings()
spec = ui.current_spec()
seed = settings["seed"]
H = 1.4 if settings["presenter"] else 1.0
ALPHAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def alpha_cached(seed: int) -> pd.DataFrame:
    return experiments.alpha_sweep(ALPHAS, depths=(20, 50), inits=("default", "kaiming"), seed=seed)


def fmt(r: float) -> str:
    return magnitude.fmt_ratio(r)


st.title("The gradient highway")
st.markdown(
    r"A residual block computes $x_{l+1} = x_l + F(x_l)$. By the chain rule"
    "\n\n"
    r"$$\frac{\partial L}{\partial x_l} = \frac{\partial L}{\partial x_{l+1}}\Big(1 + \frac{\partial F}{\partial x_l}\Big)"
    r"\qquad\Rightarrow\qquad \frac{\partial L}{\partial x_1} = \frac{\partial L}{\partial x_L}"
    r"\prod_{l=1}^{L-1}\Big(1 + \frac{\partial F_l}{\partial x_l}\Big)$$"
    "\n\n"
    "The **1** is the identity shortcut: it hands the gradient back untouched, so the product does "
    "not go to 0 when the branches' derivatives are small, as a plain net's ∏ ∂F/∂x does "
    "(He et al. 2016, arXiv [1603.05027](https://arxiv.org/abs/1603.05027), eq. 5)."
)

# ---- live per-block terms on the visitor's network ---------------------------------------------------
st.header("1 · Your network, block by block")
net = spec if spec.any_skip else spec.twin()
if spec.any_skip:
    st.caption(f"Your network (from the Network Builder / the URL): {spec.summary()}.")
else:
    st.info(f"Your network ({spec.summary()}) has no skip connections, so it has no identity term. "
            "Shown here: its **residual twin** — the same layers and weights with the skips on.",
            icon=":material/info:")
with st.spinner("Running forward + backward…"):
    got = ui.run_probe(net, settings)
if not got:
    st.stop()
blocks, _, meta = got
table = experiments.highway_table(blocks)
st.caption(f"{net.summary()}. One forward + backward pass, batch {meta['batch']}, seed {seed}, "
           f"{meta['device']} ({meta['dtype']}), {meta['seconds'] * 1e3:.0f} ms.")
if net.any_skip:
    ui.chart_with_export(charts_theory.highway_chart(experiments.highway_long(table), height=int(340 * H)),
                         table, "highway_terms", "hw_terms")
    res = table[table["skip"]]
    n_id = int((res["identity_norm"] > res["residual_norm"]).sum())
    med = float(res["residual_over_identity"].median())
    st.markdown(
        "For each residual block, the backward signal reaching its input is the sum of two measured "
        r"terms: the **identity term** $S'(x)^\top g$ (for an identity shortcut, $g$ itself) and the "
        r"**residual-branch term** $J_F(x)^\top g$, with $g = \partial L/\partial s$ at the sum. "
        f"In **{n_id} of {len(res)}** residual blocks the identity term is the larger; the median "
        f"branch/identity size ratio is **{med:.2f}**."
    )

st.subheader("The product, one factor per block")
st.markdown(
    "Each bar is one block's measured **gain** ‖∂L/∂x_in‖ / ‖∂L/∂x_out‖ — the size of "
    "(1 + ∂F/∂x)ᵀ acting on this gradient (∂F/∂xᵀ alone without a skip; post-activation blocks "
    "also include the activation after the add). Their product from "
    "the last block back to the first is the first/last gradient ratio."
)
ui.chart_with_export(charts_theory.gain_chart(table, height=int(260 * H)), table, "block_gains", "hw_gains")
gains = table["gain"].dropna()
prod_log = float(table["log10_gain"].dropna().sum())
first_rel = float(table["log10_product_from_last"].iloc[0])
if table["log10_gain"].iloc[1:].isna().any():
    st.markdown("Some block's gradient is 0 in float32 (underflow) or not finite, so the per-block gains "
                "cannot all be measured; run it in float64 on the Gradient Flow page.")
elif len(gains):
    st.markdown(
        f"Gains range from **{fmt(gains.min())}** to **{fmt(gains.max())}** (geometric mean "
        f"{fmt(10 ** (prod_log / len(gains)))}). Their product is 10^{prod_log:.2f} = "
        f"**{fmt(10 ** prod_log)}**, equal to the measured first/last ratio 10^{first_rel:.2f}."
    )
with st.expander("The numbers (per block)"):
    st.dataframe(table[["block", "skip", "grad_norm", "identity_norm", "residual_norm", "gain",
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
c1, c2, c3, c4 = st.columns(4)
alpha = c1.select_slider("Residual scale α", options=ALPHAS, value=0.0, key="hw_alpha")
zil = c2.toggle("Zero-init last layer", value=False, key="hw_zil",
                help="Start the last Linear of every branch at 0 (the branch is then 0 whatever α is).")
init = c3.selectbox("Init", ("default", "kaiming"), key="hw_init",
                    help="PyTorch's default (Var = 1/(3·fan_in)) or Kaiming (Var = 2/fan_in, He et al. 2015b).")
depth = c4.selectbox("Depth", (20, 50), key="hw_depth")
ispec = experiments.identity_spec(depth, alpha, init, zero_init_last=zil)
got = ui.run_probe(ispec, settings)
if got:
    ib = got[0]
    rel = ib["grad_rel_last"].to_numpy()
    spread = float(rel.max() / rel.min()) if rel.min() > 0 else float("inf")
    std = ib["act_std"].to_numpy()
    identity_like = alpha == 0 or zil
    st.markdown(
        f"**{'Identity start' if identity_like else f'α = {alpha}'}** ({init} init, depth {depth}): the "
        f"gradient at every block is between **{rel.min():.4g}×** and **{rel.max():.4g}×** the last "
        f"block's (first/last: **{rel[0]:.4g}**); the forward activations' spread changes by a factor "
        f"**{std[-1] / std[0]:.4g}** from the first block to the last."
        + (" Every block is exactly the identity: it passes its input and its gradient through unchanged."
           if alpha == 0 and spread < 1.0001 else
           " Every branch's last weights are 0, so its Jacobian is 0 and every block passes the gradient "
           "through unchanged (forward, the branch still adds its last layer's bias, a constant)."
           if zil and spread < 1.0001 else "")
    )
    il = ib.assign(variant=f"α = {alpha}{', zero-init last' if zil else ''}")
    long = charts.gradflow_long({il["variant"].iloc[0]: ib})
    ui.chart_with_export(charts_theory.blocks_multi_chart(long, height=int(280 * H)), long,
                         "identity_start", "hw_id")

st.subheader("Raise α: residual growth without normalisation")
with st.spinner("Sweeping α over 2 depths × 2 inits…"):
    sweep = alpha_cached(seed)
c1, c2 = st.columns(2)
with c1:
    ui.chart_with_export(charts_theory.alpha_chart(sweep, height=int(300 * H)), sweep, "alpha_sweep", "hw_alpha_g")
    st.caption("Backward: first/last block gradient ratio (log10).")
with c2:
    ui.chart_with_export(charts_theory.alpha_chart(sweep, "log10_forward_growth",
                                                   "log10 (activation std, last / first block)",
                                                   height=int(300 * H)), sweep, "alpha_forward", "hw_alpha_f")
    st.caption("Forward: how much the activations' spread grows through the blocks (log10).")
s = sweep.set_index(["init", "depth", "alpha"])["ratio"]
st.markdown(
    f"Measured (seed {seed}, width 64, two-layer pre-activation blocks): with PyTorch's default init "
    f"the ratio at α = 1 is **{fmt(s['default', 20, 1.0])}** at depth 20 and **{fmt(s['default', 50, 1.0])}** "
    f"at depth 50 — the default init's small weights keep each branch's gain small. With Kaiming init "
    f"it is **{fmt(s['kaiming', 20, 1.0])}** at depth 20 and **{fmt(s['kaiming', 50, 1.0])}** at depth 50, "
    f"and at α = 4 **{fmt(s['kaiming', 50, 4.0])}**. Each block multiplies the signal by about "
    "(1 + α·gain of F), so without normalisation a residual net grows exponentially in depth: skips "
    "stop vanishing, and a small α (SkipInit/ReZero, Fixup) or normalisation stops the growth "
    "(De & Smith 2020, arXiv 2002.10444)."
)
