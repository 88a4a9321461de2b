"""Real Architectures: torchvision's models at initialisation (random weights, nothing downloaded),
one forward + backward pass, the gradient's size at every block."""

import math

import streamlit as st

from resnet_explain import magnitude, ui
from resnet_explain.charts import real_models as charts
from resnet_explain.errors import UserError
from resnet_explain.experiments import real_models as R
from resnet_explain.probe import ratio_of

settings = ui.settings()
seed, device = settings.seed, settings.device

st.title("Real Architectures")
st.markdown(
    "The networks people actually use, as torchvision builds them — ResNets, VGG with and without "
    "BatchNorm, DenseNet, ResNeXt, Wide ResNet, ConvNeXt, a Vision Transformer — measured the same "
    "way as yours: one forward and one backward pass on a seeded random batch (cross-entropy "
    "against random labels, train mode), and ‖∂L/∂x‖ at every block's output. The weights are "
    "**random, at initialisation**: this page never downloads pretrained weights.")

c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
name = c1.selectbox("Model (torchvision's name, as in the URL and the CLI)", list(R.REAL_MODELS),
                    key="rm_model", bind="query-params")
batch = c2.selectbox("Batch", (2, 4, 8), key="rm_batch", bind="query-params",
                     help="Examples per pass. Larger models at larger batches may be over this "
                          "server's memory limit; the page says so before allocating anything.")
entry = R.REAL_MODELS[name]
st.caption(f"**{entry.title}** — {entry.about} One block here: {entry.unit}.")


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def probe_cached(name: str, batch: int, seed: int, dev: str):
    """Build, probe, return DataFrames only: the model never leaves this function."""
    with ui.compute_slot():
        res = R.probe_real(name, batch=batch, seed=seed, device=dev,
                           max_memory_bytes=ui.MAX_PROBE_MEMORY)
    return res.blocks, res.meta


try:
    with (st.spinner(f"Building {entry.title} and running forward + backward…"),
          ui.queued_note("this probe")):
        blocks, meta = probe_cached(name, int(batch), seed, device.type)
except ui.ServerBusy as exc:
    st.warning(str(exc).capitalize())
    st.stop()
except UserError as exc:
    st.error(str(exc))
    st.stop()

info = settings.device_info
size = meta["input_size"]
st.caption(
    f"At initialisation: torchvision's `{name}` with `weights=None` (random weights, seed {seed}; "
    f"nothing downloaded), {meta['n_params']:,} parameters. Input: {batch} × 3 × {size} × {size} "
    f"standard-normal images ({R.SIZE_RULE}) and random labels over {R.CLASSES} classes. Ran on "
    f"**{info['detail']}** ({meta['device']}, {meta['dtype']}), torch {info['torch']}: "
    f"{meta['seconds'] * 1e3:.0f} ms for forward + backward + probe; memory estimated before building: "
    f"{meta['memory_estimate_bytes'] / 2**20:,.0f} MiB.")
if meta["note"]:
    st.info(f"Changed from torchvision: {meta['note']}.", icon=":material/edit_note:")

ratio = ratio_of(blocks["grad_norm"])
verdict = magnitude.judge_ratio(ratio)
m1, m2, m3 = st.columns(3)
m1.metric("Blocks probed", len(blocks), help=f"Modules of type {', '.join(meta['block_types'])}.")
m2.metric("First / last block gradient", magnitude.fmt_ratio(ratio), help=verdict.short)
m3.metric("Skip connections", {"sum": "added (y = x + F(x))", "concat": "concatenated",
                               "none": "none"}[meta["connection"]])
st.markdown(f"From the last block back to the first, the gradient {verdict.markdown}.")

st.subheader("Gradient size at each block's output")
long = charts.real_long(blocks)
st.caption("log10 ‖∂L/∂x‖ from input (left) to output (right), coloured by stage; hover for exact "
           f"values. Points marked ▼ are {magnitude.UNDERFLOW} or not finite; they keep their place "
           "at the bottom.")
ui.chart_with_export(ui.cached_chart(charts.real_chart, long, height=460 if settings.presenter else 340), long,
                     f"gradients_{name}", "rm_chart")

with st.expander("The numbers (per block)"):
    st.dataframe(blocks[["block", "stage", "kind", "grad_norm", "log10_grad_norm", "underflow",
                         "act_mean", "act_std"]], hide_index=True, width="stretch")
    st.caption(f"Loss {meta['loss']:.4f} (a uniform guess over {R.CLASSES} classes scores "
               f"ln {R.CLASSES} = {math.log(R.CLASSES):.4f}). The same "
               f"numbers from the command line: `python -m resnet_explain probe --torchvision "
               f"{name} --batch {batch} --seed {seed} --json`.")

st.info("How to read it next to your own network: BatchNorm is a per-batch statistic, so these "
        "numbers are for train mode, as in a training step; dropout and ConvNeXt's drop-path are "
        "active and drawn from the seed. The probe is the same function the other pages use, "
        f"pointed at torchvision's modules (`probe(model, x, y, blocks={meta['block_types'][0]})`).",
        icon=":material/menu_book:")
