"""Attribution lab: Captum attributions on trained plain vs residual twins, scored against masks."""

import numpy as np
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import attribution as attribution_charts
from resnet_explain.charts import overlay
from resnet_explain.lab import attribution
from resnet_explain.lab import explain
from resnet_explain.train import shipped

settings = ui.settings()
dev = settings["device"].type

st.title("Attribution Lab")
st.markdown(
    "Which pixels does a trained network use? Below, the **plain** and the **residual** twin "
    "(same depth, same data, same budget) explain the same image with the same Captum method. "
    "Because every generated image comes with the true object mask (green outline), we can also "
    "**score** each method: does the attribution point at the object?"
)
pairs = shipped.pairs()
if not pairs:
    st.error("No trained checkpoints are shipped in assets/checkpoints; run scripts/make_assets.py.")
    st.stop()


@st.cache_resource(max_entries=8, ttl=3600)
def _shared(name: str, dev: str):
    """Each checkpoint read once per process, read-only: computations use shipped.private_copy of it."""
    return shipped.load_readonly(name, device=dev)


# ---- controls ----------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
depth = c1.selectbox("Depth", sorted(pairs), index=0, key="at_depth",
                     help="Twins trained with the same data and budget (see the Training page).")
names = pairs[depth]
variant = {n: "plain" if n.startswith("plain") else "residual" for n in names}
meta = _shared(names[0], dev)[2]
test = shipped.test_images(meta, 512)
classes = test.classes
method = c2.selectbox("Method (Captum)", list(attribution.METHODS), index=2, key="at_method",
                      help="; ".join(f"{k}: {m.doc}" for k, m in attribution.METHODS.items()))
baseline = c3.selectbox("Baseline", attribution.BASELINES, key="at_baseline",
                        disabled=not attribution.METHODS[method].baselines,
                        help="black: the all-zero image; blurred: the image blurred (keeps colour, "
                             "removes shape); noise: seeded noise with the image's statistics.")
smooth = c4.toggle("SmoothGrad (NoiseTunnel)", key="at_nt", disabled=method in attribution.NO_NOISE_TUNNEL,
                   help="Average the method over noisy copies of the image (Smilkov et al. 2017).")

image, mask, label = ui.image_picker(test, settings["seed"], key="at")
target_mode = st.radio("Explain the score of", ("the true class", "each model's prediction", "a class"),
                       horizontal=True, key="at_target", index=0 if label is not None else 1)
target = "true" if target_mode == "the true class" and label is not None else "pred"
if target_mode == "a class":
    target = classes.index(st.selectbox("Class to explain", classes, key="at_tclass"))
elif target_mode == "the true class" and label is None:
    st.caption("An upload has no true class: explaining each model's prediction.")
layer = None
if method == "LayerGradCam":
    blocks = [n for n, _ in _shared(names[0], dev)[0].named_blocks()]
    layer = st.select_slider("Grad-CAM block", blocks, value=blocks[-1], key="at_layer")


# ---- attribute: one library call per model, cached; each on a private copy of the checkpoint ----
@st.cache_data(max_entries=96, ttl=3600, show_spinner=False)
def run(verb: str, name: str, dev: str, image: np.ndarray, **kw):
    """explain.explain or explain.block_shares on a private copy (Captum hooks the model it explains)."""
    model, normalizer, _ = shipped.private_copy(_shared(name, dev))
    with ui.compute_slot():
        return getattr(explain, verb)(model, normalizer, image, **kw)


tgt = None  # the class the first model explains: both twins' blocks are read for it
for col, name in zip(st.columns(2, gap="large"), names):
    with col:
        st.subheader(f"{variant[name].capitalize()}-{depth}")
        with ui.queued_note(f"{method} on {name}"), st.spinner(f"{method} on {name}…"):
            try:
                r = run("explain", name, dev, image, mask=mask, target=target, label=label, method=method,
                        baseline=baseline, noise_tunnel=smooth and method not in attribution.NO_NOISE_TUNNEL,
                        layer=layer, seed=settings["seed"])
            except (attribution.AttributionError, ui.ServerBusy) as exc:
                st.error(str(exc))
                continue
        tgt = r.target if tgt is None else tgt
        st.markdown(r.headline(classes, label))
        for c, (picture, caption) in zip(st.columns(3), overlay.panels(image, r.attr_map, mask)):
            c.image(picture, caption=caption, width="stretch")
        st.caption(r.facts())
st.caption(overlay.LEGEND)

st.header("Which blocks carry the decision")
st.markdown(explain.BLOCKS_TEXT)
if tgt is not None:
    with st.spinner("Attributing through every block…"):
        frames = {variant[n]: run("block_shares", n, dev, image, target=tgt) for n in names}
    s = explain.summarise_blocks(frames, classes[tgt])
    for note in s.notes:
        st.warning(note)
    if len(s.shown):
        ui.chart_with_export(attribution_charts.block_share_chart(s.shown), s.table, "block_attribution", "at_blocks")
    if s.sentence:
        st.markdown(s.sentence)

st.header("Scores against the ground truth")
st.markdown(explain.SCORES_TEXT)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def scores(names: tuple, dev: str, n: int, baseline: str):
    with ui.compute_slot():
        return explain.score_checkpoints({nm: shipped.private_copy(_shared(nm, dev)) for nm in names}, n, baseline)


q1, q2 = st.columns([1, 3], vertical_alignment="bottom")
n_img = q1.select_slider("Images", (16, 32, 64, 128, 256), value=32, key="at_n")
if q2.button("Score all methods", icon=":material/scoreboard:", key="at_score") or st.session_state.get(
        "at_scored") == (depth, n_img, baseline):
    st.session_state["at_scored"] = (depth, n_img, baseline)
    with ui.queued_note("scoring"), st.spinner(f"Scoring {len(attribution.METHODS)} methods × 2 models "
                                               f"on {n_img} images…"):
        table = scores(tuple(names), dev, n_img, baseline)
    ui.chart_with_export(attribution_charts.score_chart(table), table, "attribution_scores", "at_scores")
    st.dataframe(table.round(2).assign(seconds_per_image=table["seconds_per_image"].round(4)),
                 hide_index=True, width="stretch")
    st.markdown(explain.score_summary(table))
else:
    st.caption("Scoring runs every method on both models; press the button to start.")

st.caption(f"Models: {', '.join(names)} — {meta.get('label', '')}, trained {meta.get('epochs', '?')} "
           f"epochs on {meta.get('device', '?')} (see assets/degradation). Test error: "
           + ", ".join(f"{n} {_shared(n, dev)[2].get('test_error', float('nan')):.1%}" for n in names) + ".")
