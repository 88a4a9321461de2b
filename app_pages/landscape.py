"""Loss Landscape (Li et al. 2018): slices of a trained pair's loss around its weights, with the
Hessian's extremes and the slice's roughness beside the picture. Stored for the shipped twins'
default view; live (a background job with progress and Stop) for anything else."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import landscape as charts
from resnet_explain.content import landscape as landscape_text
from resnet_explain.content.job_status import count_progress, job_status
from resnet_explain.content.refusal import estimate_basis
from resnet_explain.experiments import landscape as L
from resnet_explain.experiments import landscape_store as store
from resnet_explain.experiments.landscape_directions import filter_normalized
from resnet_explain.train.budgets import Control

settings = ui.settings()
device, seed = settings.device, settings.seed
D = L.LandscapeSettings()

st.title("Loss Landscape: is the residual net's minimum smoother?")
st.markdown(
    "Li et al. (2018, *Visualizing the Loss Landscape of Neural Nets*, arXiv 1712.09913, fig. 1, "
    "\"The loss surfaces of ResNet-56 with/without skip connections\") showed the 56-layer net "
    "without skips in a chaotic landscape and with them in a smooth, nearly convex one. Here: the "
    "loss of a trained pair on a fixed sample of its training images (eval mode), on a plane "
    "through the trained weights spanned by two seeded random directions, normalised filter by "
    "filter as in the paper — and two numbers that do not need eyes: the Hessian's largest eigenvalue λmax and the share of the slice that curves downward.")
with st.expander("What a slice can and cannot show"):
    st.markdown(
        "- The networks have ~10⁵ weights; a slice is one random **plane** through that space. It "
        "cannot show directions it does not contain, and a smooth slice does not prove a smooth "
        "landscape (Li et al. check their slices against Hessian eigenvalues for this reason).\n"
        "- **Filter normalisation**: each filter of a direction is rescaled to the norm of the "
        "same filter of the trained weights, so a step of 1 changes every filter by its own size "
        "(BatchNorm makes a convolution's scale irrelevant). Biases and BatchNorm's γ/β are not "
        "moved — Li et al.'s code's `biasbn` convention.\n"
        "- **λmax / λmin** by power iteration with Hessian-vector products over *all* weights; "
        "λmin is only known to about 0.1 % of λmax, and is shown as ≈ 0 below that.\n"
        "- The **straight line** from the initial weights (rebuilt from the run's seed) to the "
        "trained ones is Goodfellow et al. 2015's test (arXiv 1412.6544): BatchNorm's running "
        "statistics move along it too (held at the ends beyond t = 0 and 1).")

plain, residual = ui.pick_pair("ll_pair")
runs = {ui.run_title(r): r for r in (plain, residual)}
for r in runs.values():
    st.caption(ui.describe_run(r))
c1, c2, c3 = st.columns(3)
GRIDS, SAMPLES = (11, 15, 21, 31, 41, 51), (128, 256, 512, 1024, 2048, 5000)
grid = c1.select_slider("Grid (points per axis)", GRIDS, value=D.grid, key="ll_grid", bind="query-params")
span = c2.select_slider("Span (± along each direction)", (0.25, 0.5, 1.0, 1.5, 2.0), value=D.span,
                        key="ll_span", bind="query-params")
images = c3.select_slider("Training images in the sample", SAMPLES, value=D.images, key="ll_images",
                          bind="query-params")
s = L.LandscapeSettings(grid=int(grid), span=float(span), images=int(images), seed=seed)
dtype = "bf16" if device.type == "cuda" else "float32"
found = {k: store.find(r.run_id, s, dtype) for k, r in runs.items()}


def status(j) -> None:
    rec = j.records[-1] if j.records else {"done": 0, "total": 1, "phase": "starting"}
    label, state = job_status(state=j.state, elapsed=j.elapsed, error=j.error, stopping=j.stop.is_set(),
                              abandoned=j.abandoned, finished=j.result is not None,
                              running="Computing the landscapes", done="Computed the landscapes",
                              stopping_text="Stopping after the current chunk of grid points…")
    ui.show_job(j, label, state, *count_progress(rec["done"], rec["total"], "passes", before=(
        f"{j.meta.get('now', '')}: {rec['phase']} — "), after=(f"{j.elapsed:.0f} s",)))


def work(job):
    out = {}
    for label, r in runs.items():
        job.meta["now"] = label
        out[label] = store.cached_landscape(r, s, device=device, progress=job.records.append,
                                            should_stop=job.should_stop)
    return out


live = ui.LongJob("ll", "the loss landscapes", status, start_label="Compute")
todo = [k for k, v in found.items() if v is None]
refused = False
if todo and not live.running:
    speed = ui.host_speed(device.type)
    est = lambda **kw: sum(L.estimate_seconds(runs[k], replace(s, **kw), speed) for k in todo)
    st.caption(f"{' and '.join(todo)} at these settings: about **{est():.0f} s** on "
               f"{settings.detail} ({sum(L.work_units(s).values())} passes over the sample each; "
               f"{estimate_basis()}).")
    refused = ui.refuse(est(), device.type, [
        Control("Grid (points per axis)", [g for g in GRIDS[::-1] if g < s.grid], lambda g: est(grid=g)),
        Control("Training images in the sample", [n for n in SAMPLES[::-1] if n < s.images],
                lambda n: est(images=n))])
key = ("landscape", tuple(r.run_id for r in runs.values()), s, dtype)
live.buttons(lambda: live.start(work, meta={"runs": len(runs), "now": ""}, shared=key),
             blocked=not todo or refused)
if live.follow() is not None:
    found = {k: store.find(r.run_id, s, dtype) for k, r in runs.items()}
if any(v is None for v in found.values()):
    st.caption("Press **Compute** for these settings; the shipped twins' default view is stored.")
    st.stop()

pl, rs = found.values()
# Two fixed-size panels, their axes and the colour legend fit 820 px (1280 with the sidebar open:
# tests/e2e/test_e2e_fit.py); on stage the sidebar starts collapsed and the page is 1216 px wide.
size = 380 if ui.on_stage() else 270
st.subheader("The numbers")
if warning := landscape_text.pair_warning(pl, rs):
    st.warning(warning, icon=":material/warning:")
st.markdown(landscape_text.compare(pl, rs, warn=False))
st.table(charts.numbers_table(found), hide_index=True)  # static: no table code for a new browser
st.subheader(f"2-D slice: log10 loss around the trained weights (+), {s.grid}×{s.grid}")
st.caption("Colour and white iso-loss lines share one scale across both panels; hover for the "
           "loss and accuracy at a point. Directions: seed "
           f"{s.seed}, filter-normalised; sample: the first {s.images} training images.")
surf = {k: v.surface for k, v in found.items()}
ui.chart_with_export(ui.cached_chart(charts.surface_chart, surf, size=size),
                     pd.concat([v.assign(net=k) for k, v in surf.items()]), "loss_surface", "ll_surface")
st.subheader("1-D slice along direction 1")
frames = {k: (ui.run_variant(runs[k]), v.line) for k, v in found.items()}
ui.chart_with_export(ui.cached_chart(charts.curves_chart, frames, "alpha", "α (direction 1)",
                                     marks={0.0: "α = 0: the trained weights"}),
                     charts.curves_table(frames, "alpha"), "loss_line", "ll_line")
st.subheader("The straight line from the initial to the trained weights")
st.caption("t = 0: the weights the run started from; t = 1: the trained weights (Goodfellow et al. "
           "2015). A monotone fall means no barrier lies on the straight path.")
frames = {k: (ui.run_variant(runs[k]), v.path) for k, v in found.items()}
ui.chart_with_export(ui.cached_chart(charts.curves_chart, frames, "t", "t (0 = initial, 1 = trained)",
                                     marks={0.0: "t = 0: the initial weights", 1.0: "t = 1: the trained weights"}),
                     charts.curves_table(frames, "t"), "loss_path", "ll_path")
ui.show_code(filter_normalized, "Show the code: filter-normalised directions")
