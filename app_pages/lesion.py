"""Lesion study (Veit et al. 2016): delete one block at a time from a trained twin at test time."""

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import lesion as lesion_charts
from resnet_explain.lab import lesion

settings = ui.settings()
device = settings["device"]
H = 1.35 if settings["presenter"] else 1.0

st.title("Lesion study: delete a block")
st.markdown(
    "Veit et al. (2016, arXiv 1605.06431, sec. 4) deleted single blocks from a *trained* ResNet at "
    "test time: the error barely moved, except at some downsampling blocks, while deleting one "
    "layer of a plain (VGG-like) network destroyed it. They read this as residual networks "
    "behaving like **ensembles of many shallower paths**. Here we repeat the measurement on a "
    "pair of trained twins (same data, same budget): a shipped pair, or your network and its "
    "twin from the Train page."
)
with st.expander("What “delete a block” means here"):
    st.markdown(
        f"- **Residual block** `y = act(F(x) + S(x))`: {lesion.HOW_RESIDUAL}. With an identity "
        "shortcut that is `y = x` (after the ReLU, which leaves a ReLU output unchanged); at a "
        "downsampling block S subsamples and zero-pads the channels (He et al.'s option A).\n"
        f"- **Plain block** `y = act(F(x))`: {lesion.HOW_IDENTITY} — a path the network never "
        "trained with, which is the point of the comparison.\n"
        f"- A plain block that changes the shape (stride 2, more channels) is **{lesion.HOW_NONE}**; "
        "its row is kept and marked ✕, with no accuracy.\n\n"
        "Hooks only: no weight changes, the hooks are removed afterwards, and each study runs on "
        "its own copy of the run's model.")


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def lesion_cached(run_id: str, dev: str, n: int):
    """(lesion table, downsampling map, seconds) on the run's first ``n`` test images. Each study
    runs on its own copy of the run's model: lesion hooks of two studies can never meet."""
    model, normalizer, _ = ui.private_model(run_id, dev)
    with ui.compute_slot():
        df = lesion.lesion_study(model, ui.run_test_images(run_id).subset(n), normalizer)
    return pd.DataFrame(df), lesion.downsampling_blocks(model.spec), float(df.attrs.get("seconds", float("nan")))


c1, c2 = st.columns(2)
with c1:
    runs = ui.pick_pair("ls_depth", "Twins to study")  # (plain, residual)
depth = runs[1].spec.depth
n_max = runs[0].request.data.n_test
sizes = [s for s in (100, 250, 500, 1000, 2000) if s <= n_max] or [n_max]
n = c2.select_slider("Test images", sizes, value=500 if 500 in sizes else sizes[-1], key="ls_n",
                     help="The first images of the test split the runs were evaluated on.")

frames, ds_map, secs = {}, {}, {}
with ui.queued_note("this lesion study"), st.spinner(f"Deleting each block of {' and '.join(r.name for r in runs)}…"):
    try:
        for r in runs:
            arch = ui.run_variant(r)
            frames[arch], ds, secs[arch] = lesion_cached(r.run_id, device.type, int(n))
            ds_map.update(ds)
    except (ui.ServerBusy, lesion.LesionError) as exc:
        st.warning(str(exc).capitalize())
        st.stop()

chance = 1.0 / len(ui.run_test_images(runs[0].run_id).classes)
long = lesion_charts.lesion_long(frames, ds_map, depth)
f = lesion_charts.lesion_findings(long)
st.caption(" · ".join(ui.describe_run(r) for r in runs) +
           f" Tested on {int(n)} test images on **{settings['device_info']['detail']}**: "
           f"the studies took {secs['plain']:.1f} s (plain-{depth}) and {secs['residual']:.1f} s "
           f"(residual-{depth}) when first computed; results are cached per run, device and image count.")

k1, k2, k3, k4 = st.columns(4)
k1.metric(f"plain-{depth}: accuracy", f"{f['plain']['base_accuracy_pct']:.1f} %")
k2.metric(f"residual-{depth}: accuracy", f"{f['residual']['base_accuracy_pct']:.1f} %")
k3.metric("plain: median drop", f"{f['plain'].get('median_drop', float('nan')):.1f} pts",
          help=f"over the {f['plain']['removable']} blocks that can be deleted")
k4.metric("residual: median drop", f"{f['residual'].get('median_drop', float('nan')):.1f} pts",
          help=f"over all {f['residual']['removable']} blocks")

st.subheader("Accuracy lost when one block is deleted")
for arch in ("residual", "plain"):
    st.markdown(lesion_charts.arch_sentence(arch, depth, f[arch]))
for warning in lesion_charts.barely_learned(f, depth, chance):
    st.warning(warning, icon=":material/warning:")
if verdict := lesion_charts.lesion_verdict(f, chance):
    st.markdown(verdict)
ui.chart_with_export(lesion_charts.lesion_drop_chart(long, int(340 * H)), long, f"lesion_drop_{depth}", "ls_drop")
st.caption(f"Bars: accuracy of the whole network minus accuracy with that one block deleted, on "
           f"{int(n)} test images (percentage points). ✕: cannot be deleted. Grey bands: "
           "downsampling blocks (stride 2, more channels).")

st.subheader("How close is each residual block to the identity?")
st.markdown(
    "For each residual block, ‖F(x)‖ / ‖x‖: the size of what the branch adds relative to what "
    "flows past it on the shortcut (mean over the test images). Near 0 the block is almost the "
    "identity — and deleting it should cost little. Light bars: downsampling blocks, whose "
    "shortcut subsamples and zero-pads.")
ui.chart_with_export(lesion_charts.residual_ratio_chart(long, int(260 * H)), long[long["arch"] == "residual"],
                     f"residual_ratio_{depth}", "ls_ratio")
if ratio_text := lesion_charts.ratio_sentence(long, f):
    st.markdown(ratio_text)

with st.expander("The numbers (per block)"):
    st.dataframe(long, hide_index=True, width="stretch")
ui.show_code(lesion.lesion_study, "Show the code: lesion_study")
