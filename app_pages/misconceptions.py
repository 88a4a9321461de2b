"""Misconceptions about skip connections, each settled by a live mini-experiment."""


import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import gradflow as flow_charts
from resnet_explain.charts import theory as theory_charts
from resnet_explain.content import misconceptions as words
from resnet_explain.content.highway import postact_sentence
from resnet_explain.experiments import misconceptions
from resnet_explain.experiments.highway import postact_comparison
from resnet_explain.experiments.vanishing import SWEEP_BATCH
from resnet_explain.spec import preset

settings = ui.settings()
seed = settings.seed
H = 1.4 if settings.presenter else 1.0
TRAIN_DEPTHS = (4, 56)
TRAIN_STEPS = 120


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def branch_cached(preset_name: str, seed: int) -> pd.DataFrame:
    return misconceptions.branch_vs_skip(preset(preset_name), seed=seed)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def train_cached(seed: int):
    return misconceptions.train_compare(TRAIN_DEPTHS, seed=seed, steps=TRAIN_STEPS)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def postact_cached(seed: int) -> dict:
    return postact_comparison(20, seed=seed)


# What the page shows of the cached results, made once per seed, not on every visit
@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def train_views(seed: int):
    _, summary, change = train_cached(seed)
    deep = TRAIN_DEPTHS[1]
    return (words.depth_sentence(summary, *TRAIN_DEPTHS), change[change["depth"] == deep],
            words.weight_change_sentence(change, deep))


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def postact_views(seed: int):
    frames = postact_cached(seed)
    return flow_charts.gradflow_long(frames), postact_sentence(frames)


st.title("Misconceptions")
st.markdown("Four things people often say about skip connections, each checked by a small live "
            f"experiment (seed {seed}).")

# ---- 1 -------------------------------------------------------------------------------------------------
st.header("“Skip connections just copy features”")
net = st.segmented_control("Network", ("resnet20", "resnet56"), default="resnet20", key="mc_net",
                           bind="query-params") or "resnet20"
with st.spinner("Forward pass…"):
    bv = branch_cached(net, seed)
ui.chart_with_export(ui.cached_chart(theory_charts.branch_chart, bv, height=int(280 * H)), bv, "branch_vs_skip", "mc_copy")
st.markdown(
    f"In {net} at initialisation (He et al. 2015's CIFAR net, BatchNorm in training mode, batch "
    f"{SWEEP_BATCH}), what each residual branch **adds** is between "
    f"**{bv['branch_over_skip'].min():.2f}×** and **{bv['branch_over_skip'].max():.2f}×** the size of what "
    f"the skip carries (median {bv['branch_over_skip'].median():.2f}); the cosine between a block's output "
    f"and its input (through the shortcut) is {bv['cosine_out_vs_skip'].min():.2f}–"
    f"{bv['cosine_out_vs_skip'].max():.2f}, not 1. The skip copies; the block's output is the copy "
    "**plus** what the branch computes, F(x). Measured here on random initial weights: these numbers "
    "say how much a block changes its input before any training, not what a trained branch learns. "
    "What a trained F becomes is He et al.'s hypothesis (2015, arXiv 1512.03385, sec. 3.1): a "
    "*correction* to the identity instead of a whole new representation; their fig. 7 finds trained "
    "ResNet layers' responses generally smaller than a plain net's."
)

# ---- 2 -------------------------------------------------------------------------------------------------
st.header("“Skip connections always help”")
with st.spinner(f"Training 4 small MLPs for {TRAIN_STEPS} steps each (cached after the first run)…"):
    curves, summary, change = train_cached(seed)
depth_text, ch, change_text = train_views(seed)
ui.chart_with_export(ui.cached_chart(theory_charts.training_chart, curves, height=int(320 * H)), curves, "train_depth", "mc_train")
shallow, deep = TRAIN_DEPTHS
st.caption(f"ReLU MLPs, width 32, no normalisation, PyTorch default init, Adam (lr 1e-3, batch 64), "
           f"{TRAIN_STEPS} steps on a toy task (512 Gaussian points labelled by a fixed random teacher "
           f"net, 4 classes); loss on all 512 points every 10 steps. Same seed and data order for all.")
st.dataframe(summary[["depth", "variant", "initial_loss", "final_loss", "accuracy"]], hide_index=True,
             width="stretch")
st.markdown(depth_text)

# ---- 3 -------------------------------------------------------------------------------------------------
st.header("“Identity mappings don't learn anything”")
st.markdown(
    "True of the shortcut itself: it has no weights. But it is what lets the layers *before* it learn. "
    f"Below: how far each weight matrix of the two depth-{deep} networks above moved during training, "
    "relative to its starting size."
)
ui.chart_with_export(ui.cached_chart(theory_charts.weight_change_chart, ch, height=int(300 * H)), ch, "weight_change", "mc_learn")
st.markdown(change_text)

# ---- 4 -------------------------------------------------------------------------------------------------
st.header("“Any skip connection fixes vanishing gradients”")
with st.spinner("Probing three sigmoid MLPs…"):
    postact_cached(seed)
long, postact_text = postact_views(seed)
ui.chart_with_export(ui.cached_chart(theory_charts.blocks_multi_chart, long, height=int(320 * H)), long, "postact", "mc_post")
st.markdown(postact_text)
