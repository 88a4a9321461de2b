"""Attribution lab: Captum attributions on a trained plain/residual pair, scored against masks."""

import numpy as np
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import attribution as attribution_charts
from resnet_explain.charts import overlay
from resnet_explain.content import attribution as attribution_text
from resnet_explain.experiments import attribution, explain

settings = ui.settings()
dev = settings.device.type

st.title("Attribution Lab")
ui.aside("at_intro").markdown(
    "Which pixels does a trained network use? Below, the **plain** and the **residual** twin "
    "(same depth, same data, same budget: a shipped pair, or your network and its twin from the "
    "Train page) explain the same image with the same Captum method. Because every generated "
    "image comes with the true object mask (green outline), we can also **score** each method: "
    "does the attribution point at the object?"
)

# ---- controls ----------------------------------------------------------------------------------
c1, c2, c3, c4 = ui.controls().columns(4)
with c1:
    runs = ui.pick_pair("at_depth")  # (plain, residual)
ids = tuple(r.run_id for r in runs)
full_test = ui.run_test_images(ids[0])  # the twins share their data recipe
test = full_test.subset(512)
classes = test.classes
method = c2.selectbox("Method (Captum)", list(attribution.METHODS), index=2, key="at_method",
                      bind="query-params",
                      help="; ".join(f"{k}: {m.doc}" for k, m in attribution.METHODS.items()))
baseline = c3.selectbox("Baseline", attribution.BASELINES, key="at_baseline", bind="query-params",
                        disabled=not attribution.METHODS[method].baselines,
                        help="black: the all-zero image; blurred: the image blurred (keeps colour, "
                             "removes shape); noise: seeded noise with the image's statistics.")
smooth = c4.toggle("SmoothGrad (NoiseTunnel)", key="at_nt", disabled=method in attribution.NO_NOISE_TUNNEL,
                   bind="query-params",
                   help="Average the method over noisy copies of the image (Smilkov et al. 2017).")

image, mask, label = ui.image_picker(test, settings.seed, key="at", where=ui.controls())
target_mode = ui.controls().radio("Explain the score of", ("the true class", "each model's prediction", "a class"),
                       horizontal=True, key="at_target", index=0 if label is not None else 1,
                       bind="query-params")
target = "true" if target_mode == "the true class" and label is not None else "pred"
if target_mode == "a class":
    target = classes.index(ui.controls().selectbox("Class to explain", classes, key="at_tclass", bind="query-params"))
elif target_mode == "the true class" and label is None:
    st.caption("An upload has no true class: explaining each model's prediction.")
layer = None
if method == "LayerGradCam":
    blocks = [n for n, _ in runs[0].spec.named_blocks()]
    layer = ui.controls().select_slider("Grad-CAM block", blocks, value=blocks[-1], key="at_layer", bind="query-params")
notes = {r.run_id: attribution_text.chance_note(r.name, r.meta, len(classes)) for r in runs}
if unfair := attribution_text.pair_note({r.name: r.meta for r in runs}, len(classes)):
    st.warning(unfair, icon=":material/balance:")


# ---- attribute: one library call per model, cached; each on a private copy of the run's model --
@st.cache_data(max_entries=96, ttl=3600, show_spinner=False)
def compute(verb: str, run_id: str, dev: str, image: np.ndarray, **kw):
    """explain.explain or explain.block_shares on a private copy (Captum hooks the model it explains)."""
    model, normalizer, _ = ui.private_model(run_id, dev)
    with ui.compute_slot():
        return getattr(explain, verb)(model, normalizer, image, **kw)


tgt = None  # the class the first model explains: both twins' blocks are read for it
for col, r in zip(st.columns(2, gap="large"), runs):
    with col:
        st.subheader(ui.run_title(r))
        if notes[r.run_id]:
            st.warning(notes[r.run_id], icon=":material/warning:")
        with ui.queued_note(f"{method} on {r.name}"), st.spinner(f"{method} on {r.name}…"):
            try:
                e = compute("explain", r.run_id, dev, image, mask=mask, target=target, label=label,
                            method=method, baseline=baseline, layer=layer, seed=settings.seed,
                            noise_tunnel=smooth and method not in attribution.NO_NOISE_TUNNEL)
            except (attribution.AttributionError, ui.ServerBusy) as exc:
                st.error(str(exc))
                continue
        tgt = e.target if tgt is None else tgt
        st.markdown(attribution_text.headline(e, classes, label))
        for c, (picture, caption) in zip(st.columns(3), overlay.panels(image, e.attr_map, mask)):
            c.image(picture, caption=caption, width="stretch")
        ui.aside(f"at_facts_{r.run_id}").caption(attribution_text.facts(e))
st.caption(attribution_text.OVERLAY_LEGEND)

st.header("Which blocks carry the decision")
st.markdown(attribution_text.BLOCKS_TEXT)
if tgt is not None:
    with st.spinner("Attributing through every block…"):
        frames = {ui.run_variant(r): compute("block_shares", r.run_id, dev, image, target=tgt) for r in runs}
    s = attribution_text.summarise_blocks(frames, classes[tgt])
    for note in s.notes:
        st.warning(note)
    if len(s.shown):
        ui.chart_with_export(ui.cached_chart(attribution_charts.block_share_chart, s.shown), s.table, "block_attribution", "at_blocks")
    if s.sentence:
        st.markdown(s.sentence)

st.header("Scores against the ground truth")
st.markdown(attribution_text.SCORES_TEXT)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def scores(names: dict, dev: str, n: int, baseline: str):
    """Every method on the runs ``names`` (run id -> name) over the first ``n`` test images."""
    with ui.compute_slot():
        return explain.score_models({nm: ui.private_model(i, dev) for i, nm in names.items()},
                                    ui.run_test_images(next(iter(names))).subset(n), baseline)


scored = {r.run_id: r.name for r in runs if not notes[r.run_id]}  # a twin at chance is not scored
sizes = [s for s in (16, 32, 64, 128, 256) if s <= len(full_test)] or [len(full_test)]
q1, q2 = st.columns([1, 3], vertical_alignment="bottom")
n_img = q1.select_slider("Images", sizes, value=32 if 32 in sizes else sizes[-1], key="at_n",
                         bind="query-params")
if not scored:
    st.info("Neither twin left chance: there is no working model to score.")
elif q2.button("Score all methods", icon=":material/scoreboard:", key="at_score") or st.session_state.get(
        "at_scored") == (ids, n_img, baseline):
    st.session_state["at_scored"] = (ids, n_img, baseline)
    with ui.queued_note("scoring"), st.spinner(f"Scoring {len(attribution.METHODS)} methods × "
                                               f"{len(scored)} models on {n_img} images…"):
        table = scores(scored, dev, n_img, baseline)
    ui.chart_with_export(ui.cached_chart(attribution_charts.score_chart, table), table, "attribution_scores", "at_scores")
    st.dataframe(table.round(2).assign(seconds_per_image=table["seconds_per_image"].round(4)),
                 hide_index=True, width="stretch")
    st.markdown(attribution_text.score_summary(table))
    if unfair and len(scored) > 1:
        st.caption(attribution_text.UNFAIR_SCORES)
    if len(scored) < len(runs):
        st.caption("Left out of the scores: " + ", ".join(r.name for r in runs if notes[r.run_id])
                   + " (never left chance, see above).")
else:
    st.caption(f"Scoring runs every method on {' and '.join(scored.values())}; press the button to start.")

st.caption("Runs: " + " · ".join(ui.describe_run(r) for r in runs))
