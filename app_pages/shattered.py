"""Shattered gradients (Balduzzi et al. 2017): the input gradient along a 1-D sweep, plain vs
residual, and its autocorrelation."""

import time

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import theory as theory_charts
from resnet_explain.content import shattered as shattered_text
from resnet_explain.experiments import shattered

settings = ui.settings()
seed = settings.seed
H = 1.4 if settings.presenter else 1.0
DEPTHS = (4, 10, 20, 50)
ALPHAS = (0.1, 0.25, 0.5, 1.0)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def sweep_cached(depth: int, seed: int, n_points: int, alpha: float):
    return shattered.shattered_experiment(depth, seed=seed, n_points=n_points, res_scale=alpha)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def summary_cached(seed: int, alpha: float) -> pd.DataFrame:
    return shattered.shattered_depth_summary(DEPTHS, seed=seed, res_scale=alpha)


st.title("Shattered gradients")
st.markdown(
    "Balduzzi et al. 2017 (arXiv [1702.08591](https://arxiv.org/abs/1702.08591)) found a problem "
    "that is not about the gradient's *size*: in deep plain networks, the gradient at nearby inputs "
    "becomes unrelated — it *shatters* into something like white noise, so it says little about "
    "which way to move. In residual networks it stays correlated much longer. Here: one input "
    "coordinate swept over a line, the derivative of the output along it, and how correlated "
    "neighbouring points' derivatives are."
)
c1, c2, c3 = st.columns(3)
depth = c1.select_slider("Depth", options=DEPTHS, value=20, key="sh_depth", bind="query-params")
n_points = c2.selectbox("Points on the line", (256, 512), key="sh_points", bind="query-params")
alpha = c3.select_slider("Residual scale α", options=ALPHAS, value=1.0, key="sh_alpha", bind="query-params",
                         help="The residual net's branch is α·F(x). Balduzzi et al. also scale the branch down.")

t0 = time.perf_counter()
with st.spinner("Sweeping the input through both networks…"):
    curves, ac = sweep_cached(depth, seed, n_points, alpha)
secs = time.perf_counter() - t0
st.caption(
    f"ReLU MLPs with BatchNorm, width {shattered.SHATTER_WIDTH}, 1-D input x ∈ [−2, 2] "
    f"({n_points} points), depth {depth}, seed {seed}; the plain net is the residual net with its skips "
    "removed (same weights). BatchNorm uses the sweep's own statistics, then is frozen so each point's "
    f"gradient is its own. ∂f/∂x of output 0, standardised to mean 0, std 1. CPU, {secs:.2f} s."
)
c1, c2 = st.columns(2)
with c1:
    ui.chart_with_export(ui.cached_chart(theory_charts.sweep_gradient_chart, curves, "plain", height=int(240 * H)),
                         curves[curves["variant"] == "plain"], "shattered_plain", "sh_plain")
with c2:
    ui.chart_with_export(ui.cached_chart(theory_charts.sweep_gradient_chart, curves, "residual", height=int(240 * H)),
                         curves[curves["variant"] == "residual"], "shattered_residual", "sh_res")

st.subheader("Autocorrelation of the gradient along the line")
ui.chart_with_export(ui.cached_chart(theory_charts.autocorr_chart, ac, height=int(280 * H)), ac, "shattered_autocorr", "sh_ac")
st.markdown(shattered_text.lag1_sentence(ac, depth))

st.subheader("As depth grows")
with st.spinner("Sweeping every depth…"):
    summ = summary_cached(seed, alpha)
ui.chart_with_export(ui.cached_chart(theory_charts.depth_autocorr_chart, summ, height=int(260 * H)), summ,
                     "shattered_depth", "sh_depth")
st.markdown(shattered_text.depth_sentence(summ, alpha))
