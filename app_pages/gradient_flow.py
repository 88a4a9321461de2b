"""Gradient Flow: a real forward + backward pass on the network and its twin (skips toggled)."""

import math

import streamlit as st

from resnet_explain import magnitude, ui
from resnet_explain.charts import gradflow as flow_charts
from resnet_explain.ui.gradflow_views import pair_views

settings = ui.settings()
spec = ui.current_spec()

st.title("Gradient Flow")
ui.aside("gf_intro").markdown(
    "One forward and one backward pass on a seeded random batch (cross-entropy against random "
    "labels, BatchNorm in training mode). For every block we measure ‖∂L/∂x‖, the size of the "
    "gradient arriving at its output, for your network and for its **twin**: the same weights "
    "with every skip toggled."
)
if spec.family == "transformer":
    st.caption("A Transformer: next-token cross-entropy on seeded random tokens; each point is the residual "
               "stream right after an attention or MLP sublayer (`layer0.attn`, `layer0.mlp`, …).")

c1, c2, c3 = ui.controls().columns([2, 1, 1], vertical_alignment="bottom")
skips = c1.toggle("Skip connections on", value=spec.any_skip, key="gf_skips",
                  help="Switches every skip of your network (the builder can switch them one by one); "
                       "switching back restores the network as it was built.")
if skips != spec.any_skip:
    # Reversible: switching back right after a switch restores the spec from before it (per-block
    # skips and shortcuts included), not with_skips' uniform network.
    before, after = st.session_state.get("_gf_flip", (None, None))
    new = before if after == spec and before is not None else spec.with_skips(skips)
    st.session_state["_gf_flip"] = (spec, new)
    ui.set_spec(new)
    st.rerun()
batch = c2.selectbox("Batch", (8, 32, 128), index=1, key="gf_batch", bind="query-params")
f64 = c3.toggle("float64", value=False, key="gf_f64", bind="query-params",
                help="Run in double precision: gradients that underflow float32 get a value.")

variant = spec.arch
other = "plain" if variant == "residual" else "residual"
twin = spec.twin()
with st.spinner("Running forward + backward on both networks…"):
    mine = ui.run_probe(spec, settings, batch=batch, float64=f64)
    theirs = ui.run_probe(twin, settings, batch=batch, float64=f64) if mine else None
if not mine or not theirs:
    st.stop()

blocks = {variant: mine[0], other: theirs[0]}
meta = {variant: mine[2], other: theirs[2]}
info = settings.device_info
ui.aside("gf_ran").caption(f"Ran on **{info['detail']}** ({meta[variant]['device']}, {meta[variant]['dtype']}), "
           f"torch {info['torch']}: {meta[variant]['seconds'] * 1e3:.0f} ms for your network, "
           f"{meta[other]['seconds'] * 1e3:.0f} ms for its twin (forward + backward + probe, "
           f"batch {batch}, seed {settings.seed}). {spec.summary()}.")

view = pair_views(spec.to_query(), settings.seed, settings.device.type, batch, f64)  # made once per probe
st.markdown(view["twin_sentence"])

long, bound = view["long"], view["bound"]
st.subheader("Gradient size at each block's output")
ui.aside("gf_how").caption("log10 ‖∂L/∂x‖; solid: your network, dashed: its twin; hover for exact values, click a point "
           "for its block's numbers and place in the network (double-click clears). Points marked "
           f"▼ are {magnitude.UNDERFLOW} or not finite; they keep their place at the bottom."
           + (" Dashed: 0.25 per sigmoid layer from the last block, the most σ′ alone allows "
              "(σ′(0) = 1/4)." if bound is not None else ""))
picked = flow_charts.picked_block(ui.chart_with_export(
    ui.cached_chart(flow_charts.grad_norm_chart, long, bound, height=ui.chart_height(340, 460, 320), pickable=True),
    long, "gradient_norms", "gf_norms", select=flow_charts.PICK), long["block"])
if picked:
    rows, text = flow_charts.block_numbers(blocks, picked, variant)
    st.markdown(text)
    st.dataframe(rows, hide_index=True, width="stretch")
where = (st.expander(f"Where {picked} is in your network", expanded=True) if picked
         else ui.lazy_expander("Your network's architecture", "gf_arch"))
if picked or where.open:
    with where:
        ui.diagram(spec, collapse=spec.n_blocks > 12, highlight=picked)

n_id, n_res = view["n_id"], view["n_res"]
if view["kind"] == "gated":
    n_small, n_gated = view["gate_share"]
    g0 = 1 / (1 + math.exp(-spec.gate_bias))
    st.subheader("The gradient highway: carry, transform and gate")
    st.markdown(
        r"A gated block $s = (1-g(x))\,S(x) + g(x)\,F(x)$ (the Highway form: Srivastava et al. 2015; "
        r"He et al. 2016 fig. 2c) sends the gradient back to $x$ three ways: **carry** (through the "
        r"shortcut, times $1-g$), **transform** (through the branch, times $g$; shortcut-only gating "
        r"leaves the branch unscaled) and **through the gate** $g(x)$ itself. The gate bias is "
        f"{spec.gate_bias:g}: for a zero input $g = \\sigma({spec.gate_bias:g}) = {g0:.2g}$, so the carry "
        f"starts near ${1 - g0:.2g}\\,S(x)$, not a clean identity.")
    sentence = (f"In **{n_id} of {n_res}** residual blocks the carry term is larger than the transform "
                f"term; the gate's term is the smallest of the three in **{n_small} of {n_gated}** gated blocks.")
elif view["kind"] == "dense":
    st.subheader("The gradient highway: through the concatenation")
    st.markdown(
        r"A dense block $s = [x, F(x)]$ (Huang et al. 2017, arXiv 1608.06993) adds nothing: $x$'s "
        r"part of $g = \partial L/\partial s$ goes back **through the concatenation** untouched "
        r"(average-pooled where the block strides), and the new channels' part goes back through the "
        r"branch, $J_F(x)^\top g$.")
    sentence = f"In **{n_id} of {n_res}** dense blocks the term through the concatenation is the larger one."
else:
    st.subheader("The gradient highway: identity term vs residual-branch term")
    st.markdown(
        r"For a residual block $s = S(x) + F(x)$, the gradient reaching $x$ is the sum of two terms: "
        r"$\frac{\partial L}{\partial x} = S'(x)^\top g + J_F(x)^\top g$, $g = \partial L/\partial s$. "
        "With an identity shortcut the first term is $g$ itself: it passes back untouched, however "
        "small the branch's term (He et al. 2016, arXiv 1603.05027, eq. 5).")
    sentence = (f"In **{n_id} of {n_res}** residual blocks the identity term is the larger one. "
                + view["identity_reading"])
split = view["split"]
if len(split):
    ui.chart_with_export(ui.cached_chart(flow_charts.split_chart, split), split, "identity_vs_residual", "gf_split")
    st.markdown(sentence)

st.subheader("Weight gradients per layer")
wl = view["weights"]
ui.chart_with_export(ui.cached_chart(flow_charts.weight_grad_chart, wl), wl, "weight_gradients", "gf_weights")
if (note := view["classifier_note"]) is not None:
    st.caption(note)

numbers = ui.lazy_expander("The numbers (per block)", "gf_numbers")
if numbers.open:
    ratio = view["ratios"]
    numbers.dataframe(view["numbers"], hide_index=True, width="stretch")
    numbers.caption(f"First/last ratio: {variant} {ratio[variant]}, {other} {ratio[other]}. Loss: "
                    f"{meta[variant]['loss']:.4f} / {meta[other]['loss']:.4f}.")

st.info("What the literature says next to these numbers: BN + ReLU plain nets tend to *explode* "
        "toward the input at initialisation (Yang et al. 2019, arXiv 1902.08129); sigmoid nets "
        "without normalisation vanish while their weights are small (Hochreiter 1991; Bengio et al. "
        "1994): σ′ ≤ 1/4 caps the activation's factor, so a whole layer's is at most ‖W‖/4, below 1 "
        "only while the weights' gain ‖W‖ is below 4. He et al. 2015 (arXiv 1512.03385) "
        "call the degradation of deep plain nets an optimisation difficulty, not a vanishing "
        "gradient one. Measure both: set the activation in the Network Builder.",
        icon=":material/menu_book:")
