"""Transformers: the residual stream — pre-LN vs post-LN vs no skips, at init, in training, after."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import transformers as charts
from resnet_explain.content import transformers as text
from resnet_explain.content.job_status import job_status
from resnet_explain.experiments import transformers as tfx
from resnet_explain.experiments import transformers_live as live
from resnet_explain.experiments import transformers_sort as tfs
from resnet_explain.experiments import transformers_train as tfg
from resnet_explain.experiments.transformers_stored import load_stored

settings = ui.settings()
device = settings.device
H = 1.35 if settings.presenter else 1.0
chart, view = ui.cached_chart, ui.cached_view  # charts' specs, tables and sentences: once per input

st.title("Transformers: the residual stream")
st.markdown(
    "A decoder-only Transformer is a residual network: every attention and MLP sublayer adds its output "
    "to one running **residual stream**, `x = x + F(LN(x))` in the pre-LN form GPT-2 uses, "
    "`x = LN(x + F(x))` in the post-LN form of the original Transformer. Below: small byte-level models "
    "(width 128, 4 heads, context 64) reading the Python standard library's own source, with the stream "
    "intact, normalised after each add, or cut (no skips, same weights).")
stored = load_stored()
if not stored.same_corpus:
    st.info(f"This Python's corpus files differ from those of the stored results (SHA-256 "
            f"{str(stored.meta.get('corpus_sha256'))[:12]}…, Python {stored.meta.get('python')}): a live "
            "run here trains on other bytes.", icon=":material/info:")

st.header("At initialisation")
depths = sorted(stored.streams["depth"].unique()) if len(stored.streams) else list(tfx.INIT_DEPTHS)
c1, c2 = st.columns(2)
depth = int(c1.segmented_control("Layers", depths, default=depths[0], key="tf_depth",
                                 bind="query-params") or depths[0])
init = tfx.INIT_CHOICES[c2.segmented_control("Initialisation", list(tfx.INIT_CHOICES), default="GPT-2",
                                              key="tf_init", bind="query-params") or "GPT-2"]
st.subheader("The gradient along the stream")
ui.chart_with_export(chart(charts.grad_stream_chart, stored.streams, depth, init, int(300 * H)),
                     charts.at(stored.streams, depth, init), f"tf_grad_{depth}_{init}", "tf_grad")
st.caption("‖∂L/∂x‖ on the residual stream after each sublayer: one forward and backward pass on 16 "
           "windows of the corpus, seed 0 (the probe, as on Gradient Flow).")
fl = view(tfx.first_last)(stored.params)
ui.chart_with_export(chart(charts.param_grad_chart, stored.params, depth, init, int(280 * H)),
                     charts.at(stored.params, depth, init), f"tf_params_{depth}_{init}", "tf_params")
st.markdown(view(text.xiong_sentence)(fl, depth, init, tfx.INITS[init]))
st.subheader("The stream's size and each sublayer's share")
ui.chart_with_export(chart(charts.stream_chart, stored.streams, depth, init, int(220 * H)),
                     charts.at(stored.streams, depth, init), f"tf_stream_{depth}_{init}", "tf_stream")
st.markdown(view(text.stream_sentence)(stored.streams, depth, init))

st.header("Training: learning rate × warm-up")
n_cells, planned = len(stored.finals), len(tfg.grid_cells())
if n_cells:
    ui.chart_with_export(chart(charts.grid_chart, stored.finals, int(150 * H)), stored.finals, "tf_grid",
                         "tf_grid")
    st.caption(f"Final validation loss (nats per byte; ln 256 = 5.55 is a uniform guess) after "
               f"{live.budget().config.max_steps} AdamW steps: {live.budget().label}. Stored: **{n_cells} of "
               f"{planned}** cells (see assets/transformers/README.md for what was run, where and how long).")
    for line in view(text.grid_sentences)(stored.finals, stored.meta.get("unigram_loss")):
        st.markdown("- " + line)
    lrs = sorted(stored.curves["lr"].unique())
    lr = st.select_slider("Learning rate of the curves", lrs, value=1e-3 if 1e-3 in lrs else lrs[0],
                          key="tf_lr", bind="query-params", format_func=lambda v: f"{v:g}")
    ui.chart_with_export(chart(charts.curves_chart, stored.curves, lr, int(300 * H)), stored.curves,
                         "tf_curves", "tf_curves")
    if len(stored.seeds):
        seeds = view(tfg.seed_table)(stored.finals, stored.seeds)
        uni = stored.meta.get("unigram_loss")
        ui.chart_with_export(chart(charts.seeds_chart, seeds, uni, int(200 * H)),
                             seeds, "tf_seeds", "tf_seeds")
        st.markdown(view(text.seeds_sentence)(seeds, uni))
else:
    st.warning("No stored grid on this installation.", icon=":material/warning:")

st.header("Sorting: does depth matter?")
if len(stored.sort):
    ui.chart_with_export(chart(charts.sort_chart, stored.sort, stored.sort_baselines, int(240 * H)),
                         stored.sort, "tf_sort", "tf_sort")
    st.markdown(text.sort_intro(tfs.SORT_DATA, tfs.SORT_BUDGET.label))
    for line in view(text.sort_sentences)(stored.sort, stored.sort_baselines):
        st.markdown("- " + line)
    ui.chart_with_export(chart(charts.sort_curves_chart, stored.sort_curves, int(320 * H)),
                         stored.sort_curves, "tf_sort_curves", "tf_sort_curves")

st.header("After training: lesion and logit lens")
if len(stored.lesion):
    ui.chart_with_export(chart(charts.lesion_chart, stored.lesion, "layer", int(280 * H)), stored.lesion,
                         "tf_lesion", "tf_lesion")
    st.markdown(view(text.lesion_sentence)(stored.lesion, stored.meta.get("unigram_loss")))
    ui.chart_with_export(chart(charts.lens_chart, stored.lens, int(280 * H)), stored.lens, "tf_lens",
                         "tf_lens")
    st.markdown(view(text.lens_sentence)(stored.lens, stored.meta.get("unigram_loss")))
    st.caption("The stored networks: lr 0.001, 15 warm-up steps (the budget's own setting, fixed before "
               "training), seed 0; 128 validation windows.")

st.header("Train the pair here")
st.markdown("Pre-LN and its twin without skips under the quick budget, then the lesion and the lens "
            "on both. A pair trained before (here or in the stored grid's cache) is loaded, not retrained.")
c1, c2 = st.columns(2)
live_lr = c1.select_slider("Peak learning rate", tfg.GRID_LRS, value=1e-3, key="tf_live_lr",
                           bind="query-params", format_func=lambda v: f"{v:g}")
live_warm = c2.select_slider("Warm-up steps", tfg.GRID_WARMUPS, value=15, key="tf_live_warm",
                             bind="query-params")


@st.cache_resource(show_spinner=False)
def finished() -> dict:
    """Live results of this process by (lr, warm-up, device); newest 8."""
    return {}


def work(job, key) -> None:
    done = finished()
    done[key] = live.live_pair(key[0], key[1], key[2], progress=lambda i, n, r: job.records.append(r),
                               should_stop=job.should_stop)
    while len(done) > 8:
        done.pop(next(iter(done)))


def status(j) -> None:
    frac, line = text.live_status(j.records, 2)
    label, state = job_status(state=j.state, elapsed=j.elapsed, error=j.error, stopping=j.stop.is_set(),
                                 finished=j.meta["key"] in finished(), abandoned=j.abandoned,
                                 running="Training", done="Trained and measured")
    ui.show_job(j, label, state, frac, line)


key = (float(live_lr), int(live_warm), device.type)
job = ui.LongJob("tf", "training a Transformer pair", status, stop_help="Ends the run after this step.")
if key not in finished():
    est = live.estimate_pair_seconds(device.type)
    refused = ui.over_cap(est, ui.host_cap(device.type))
    st.caption(f"About **{est:.0f} s** on {settings.detail} (this host's one timing, as on every page)"
               + (": over this server's limit for one run." if refused else "."))
    job.buttons(lambda: job.start(lambda j: work(j, key), meta={"key": key}, shared=key), blocked=refused)
job.follow(show=lambda j: j.meta["key"] == key and key not in finished())
if (res := finished().get(key)) is not None:
    ui.chart_with_export(chart(charts.curves_chart, res["curves"], live_lr, int(260 * H)), res["curves"],
                         "tf_live_curves", "tf_live_curves")
    uni = stored.meta.get("unigram_loss") if stored.same_corpus else None
    st.markdown(text.lesion_sentence(res["lesion"], uni) + "\n\n" + text.lens_sentence(res["lens"], uni))

st.divider()
st.markdown(text.LIMITS)
ui.show_code(tfx.init_measurements, "Show the code: init_measurements")
