"""Lesion study (Veit et al. 2016): delete one block at a time from a trained twin at test time."""

import os
from functools import partial

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import lesion as lesion_charts
from resnet_explain.content import lesion as lesion_text
from resnet_explain.content import papers
from resnet_explain.content.refusal import estimate_basis
from resnet_explain.experiments import lesion, lm_lesion
from resnet_explain.train.budgets import Control
from resnet_explain.train.runs import RunStore
from resnet_explain.ui import lm_lesion as lm_ui

settings = ui.settings()
device = settings.device
H = 1.35 if settings.presenter else 1.0
AUTO_START_SECONDS = float(os.environ.get("RESNET_EXPLAIN_LESION_AUTO_S", "10"))  # longer: wait for Start

st.title("Lesion study: delete a block or a layer")
st.markdown(
    "Veit et al. (2016, arXiv 1605.06431) deleted single blocks from a *trained* ResNet at test time and "
    "read residual networks as **ensembles of many shallower paths** that \"do not strongly depend on each "
    "other\" (their abstract); as their sec. 4.1 is reported by others (we could not read it first-hand), "
    "deleting one block barely moved the error, except at some downsampling blocks, while deleting one "
    "layer of a plain (VGG-like) network destroyed it. Here we repeat the measurement on a pair of trained twins (same data, same budget): "
    "a shipped pair, or your network and its twin from the Train page. For a **Transformer** (switch "
    "below) a layer or one sublayer is deleted from the residual stream, as Gromov et al. (2024, arXiv "
    "2403.17887) pruned up to half the layers of large language models.")
store = RunStore()
family = st.segmented_control("Networks", lm_ui.FAMILIES, default=lm_ui.family_default(store), key="ls_family",
                              bind="query-params", help="A Transformer's layers: its own study below.")
if family == lm_ui.FAMILIES[1]:
    lm_ui.transformer_study(store, device.type, H, AUTO_START_SECONDS)
    ui.show_code(lm_lesion.study_pair, "Show the code: study_pair")
    st.stop()
with st.expander("What “delete a block” means here"):
    st.markdown(
        f"- **Residual block** `y = act(F(x) + S(x))`: {lesion.HOW_RESIDUAL}. With an identity shortcut that "
        "is `y = x` (after the ReLU, which leaves a ReLU output unchanged); "
        f"{lesion_text.SHORTCUT_OPTIONS_TEXT}.\n"
        f"- **Plain block** `y = act(F(x))`: {lesion.HOW_IDENTITY} — a path the network never trained "
        "with, which is the point of the comparison.\n"
        f"- A plain block that changes the shape (stride 2, more channels) is **{lesion.HOW_NONE}**; its row "
        "is kept and marked ✕, with no accuracy.\n\n"
        "Hooks only: no weight changes, the hooks are removed afterwards, and each study runs on its own "
        "copy of the run's model.")


@st.cache_resource(show_spinner=False)
def studies() -> dict:
    """Finished studies (tables, no model) of this process by (run ids, device, images); newest 16."""
    return {}


def study(job, runs, dev: str, n: int, key, done: dict) -> None:
    """The background job: each twin on its own copy of its model (lesion hooks meet no one's);
    stopped, nothing is kept."""
    twins = {ui.run_variant(r): (partial(ui.private_model, r.run_id, dev),
                                 ui.run_test_images(r.run_id).subset(n)) for r in runs}
    done[key] = lesion.study_twins(twins, progress=job.records.append, should_stop=job.should_stop)
    while len(done) > 16:
        done.pop(next(iter(done)))


def status(j) -> None:
    ui.show_job(j, *lesion_text.live_status(j.records[-1] if j.records else 0, j.meta["planned"], j.elapsed,
                                       j.meta["n"], state=j.state, error=j.error, stopping=j.stop.is_set(),
                                       finished=j.meta["key"] in studies(), abandoned=j.abandoned))


c1, c2 = st.columns(2)
with c1:
    runs = ui.pick_pair("ls_depth", "Twins to study")  # (plain, residual)
depth, n_max = runs[1].spec.depth, runs[0].request.data.n_test
sizes = [s for s in (100, 250, 500, 1000, 2000) if s <= n_max] or [n_max]
n = int(c2.select_slider("Test images", sizes, value=500 if 500 in sizes else sizes[-1], key="ls_n",
                         bind="query-params",
                         help="The first images of the test split the runs were evaluated on."))

key, done = (tuple(r.run_id for r in runs), device.type, n), studies()
live = ui.LongJob("ls", "this lesion study", status,
                  stop_help="Ends the study after the current forward pass.")
if key not in done:  # estimate first; a long study waits for Start; all run with progress and Stop
    planned = sum(lesion.lesion_passes(r.spec) for r in runs)
    speed = ui.host_speed(device.type)
    est = lambda m: sum(lesion.estimate_seconds(r.spec, m, speed) for r in runs)  # seconds for m images
    st.caption(f"Not yet computed on this server: {planned} forward passes over {n} test images (each "
               f"network whole, then without each deletable block), about **{est(n):.0f} s** on "
               f"{settings.detail} ({estimate_basis()}).")
    refused = ui.refuse(est(n), device.type, [Control("Test images", [m for m in sizes[::-1] if m < n], est)])
    job = live.job
    live.buttons(lambda: live.start(lambda j: study(j, runs, device.type, n, key, done), shared=key,
                                    meta={"key": key, "planned": planned, "n": n}), blocked=refused,
                 auto=est(n) <= AUTO_START_SECONDS and (job is None or job.meta["key"] != key))
# a finished study's tables are in the store, a stopped one's nowhere: its box while its inputs are shown
live.follow(show=lambda j: j.meta["key"] == key and key not in done)
if (found := done.get(key)) is None:
    st.stop()
tables, ds_map, secs = found
frames = {arch: t.copy() for arch, t in tables.items()}  # shared by every session: read copies

chance = 1.0 / len(ui.run_test_images(runs[0].run_id).classes)
long = lesion_charts.lesion_long(frames, ds_map, depth)
f = lesion_charts.lesion_findings(long)
st.caption(" · ".join(ui.describe_run(r) for r in runs) +
           f" Tested on {int(n)} test images on **{settings.detail}**: the studies took "
           f"{secs['plain']:.1f} s (plain-{depth}) and {secs['residual']:.1f} s (residual-{depth}) when "
           "first computed; results are kept per run, device and image count.")

k1, k2, k3, k4 = st.columns(4)
k1.metric(f"plain-{depth}: accuracy", f"{f['plain']['base_accuracy_pct']:.1f} %")
k2.metric(f"residual-{depth}: accuracy", f"{f['residual']['base_accuracy_pct']:.1f} %")
k3.metric("plain: median drop", f"{f['plain'].get('median_drop', float('nan')):.1f} pts",
          help=f"over the {f['plain']['removable']} blocks that can be deleted")
k4.metric("residual: median drop", f"{f['residual'].get('median_drop', float('nan')):.1f} pts",
          help=f"over all {f['residual']['removable']} blocks")

st.subheader("Accuracy lost when one block is deleted")
for arch in ("residual", "plain"):
    st.markdown(lesion_text.arch_sentence(arch, depth, f[arch]))
if warning := lesion_text.pair_warning(f, depth, chance):
    st.warning(warning, icon=":material/warning:")
if verdict := lesion_text.lesion_verdict(f, chance):
    st.markdown(verdict)
st.table(papers.veit_beside_ours(f, depth, chance))
st.caption(papers.veit_caption())
ui.chart_with_export(ui.cached_chart(lesion_charts.lesion_drop_chart, long, int(340 * H)), long, f"lesion_drop_{depth}", "ls_drop")
st.caption(f"Bars: accuracy of the whole network minus accuracy with that one block deleted, on {int(n)} "
           "test images (percentage points). ✕: cannot be deleted. Grey bands: downsampling blocks.")

st.subheader("How close is each residual block to the identity?")
st.markdown(
    "For each residual block, ‖F(x)‖ / ‖x‖: the size of what the branch adds relative to what flows past "
    "it on the shortcut (mean over the test images). Near 0 the block is almost the identity — and deleting "
    "it should cost little. Light bars: downsampling blocks, whose shortcut "
    f"{lesion_text.downsampling_shortcut(runs[1].spec)}.")
ui.chart_with_export(ui.cached_chart(lesion_charts.residual_ratio_chart, long, int(260 * H)), long[long["arch"] == "residual"],
                     f"residual_ratio_{depth}", "ls_ratio")
if ratio_text := lesion_text.ratio_sentence(long, f):
    st.markdown(ratio_text)

numbers = ui.lazy_expander("The numbers (per block)", "ls_numbers")
if numbers.open:
    numbers.dataframe(long, hide_index=True, width="stretch")
ui.show_code(lesion.lesion_study, "Show the code: lesion_study")
