"""Attribution lab: Captum attributions on trained plain vs residual twins, scored against masks."""

import copy
import time

import numpy as np
import pandas as pd
import streamlit as st
import torch

from resnet_explain.lab import attribution as attr_lib
from resnet_explain import ui
from resnet_explain.charts import attribution as charts
from resnet_explain.charts import overlay as render
from resnet_explain.train import shipped as zoo
from resnet_explain.data.upload import UploadError, load_image

settings = ui.settings()
device = settings["device"]

st.title("Attribution Lab")
st.markdown(
    "Which pixels does a trained network use? Below, the **plain** and the **residual** twin "
    "(same depth, same data, same budget) explain the same image with the same Captum method. "
    "Because every generated image comes with the true object mask (green outline), we can also "
    "**score** each method: does the attribution point at the object?"
)

pairs = zoo.pairs()
if not pairs:
    st.error("No trained checkpoints are shipped in assets/checkpoints; run scripts/make_assets.py.")
    st.stop()


@st.cache_resource(max_entries=8, ttl=3600)
def _shared(name: str, device: str):
    """The checkpoint read once per process. Never used directly: Captum hooks the model it
    explains, so each computation works on its own copy (see _load)."""
    model, normalizer, meta = zoo.load(name, device=torch.device(device))
    for p in model.parameters():
        p.requires_grad_(False)
    return model, normalizer, meta


def _load(name: str, device: str):
    """A private copy of a shipped model (a few MB; copying takes milliseconds), so no model that
    gets hooked is ever shared between visitors."""
    model, normalizer, meta = _shared(name, device)
    return copy.deepcopy(model), normalizer, meta


# ---- controls ----------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
depth = c1.selectbox("Depth", sorted(pairs), index=0, key="at_depth",
                     help="Twins trained with the same data and budget (see the Training page).")
names = pairs[depth]
models = {n: _shared(n, device.type) for n in names}  # read-only here: names, meta
meta = models[names[0]][2]
classes = zoo.test_images(meta, 8).classes
method = c2.selectbox("Method (Captum)", list(attr_lib.METHODS), index=2, key="at_method",
                      help="; ".join(f"{k}: {m.doc}" for k, m in attr_lib.METHODS.items()))
m_info = attr_lib.METHODS[method]
baseline = c3.selectbox("Baseline", attr_lib.BASELINES, key="at_baseline",
                        disabled=not m_info.baselines,
                        help="black: the all-zero image; blurred: the image blurred (keeps colour, "
                             "removes shape); noise: seeded noise with the image's statistics.")
smooth = c4.toggle("SmoothGrad (NoiseTunnel)", key="at_nt", disabled=method in attr_lib.NO_NOISE_TUNNEL,
                   help="Average the method over noisy copies of the image (Smilkov et al. 2017).")

s1, s2, s3 = st.columns([2, 1, 1])
source = s1.radio("Image", ("from the test set", "upload a PNG/JPEG"), horizontal=True, key="at_src")
test = zoo.test_images(meta, 512)
image_u8, mask, label = None, None, None
if source == "from the test set":
    cls = s2.selectbox("Class", ["any"] + list(classes), key="at_cls")
    pool = np.arange(len(test)) if cls == "any" else np.flatnonzero(test.y.numpy() == classes.index(cls))
    if s3.button("Random image", icon=":material/casino:", key="at_rand"):
        # seeded by the sidebar seed and a per-session counter: reproducible, yet a new image per click
        st.session_state["at_draws"] = st.session_state.get("at_draws", 0) + 1
        rng = np.random.default_rng([settings["seed"], st.session_state["at_draws"]])
        st.session_state["at_idx"] = int(rng.integers(len(pool)))
    if not 0 <= st.session_state.get("at_idx", 0) < len(pool):  # a smaller class was picked
        st.session_state["at_idx"] = 0
    st.session_state.setdefault("at_idx", 0)
    k = s3.number_input("Index", 0, len(pool) - 1, key="at_idx",
                        help=f"{len(pool)} test images of this class.")
    i = int(pool[int(k)])
    image_u8, mask, label = test.x[i], test.mask[i], int(test.y[i])
else:
    up = s2.file_uploader("PNG or JPEG, at most 5 MB", type=["png", "jpg", "jpeg"], key="at_up")
    if up is None:
        st.info("Choose a file. It is checked, decoded and resized to the models' "
                f"{test.size}×{test.size} input; it is never stored.")
        st.stop()
    try:
        image_u8, info = load_image(up.getvalue(), size=test.size)
    except UploadError as exc:
        st.error(f"That file was refused: {exc}.")
        st.stop()
    st.caption(f"{info['format']} {info['original_size'][0]}×{info['original_size'][1]} resized to "
               f"{test.size}×{test.size}. The models were trained on generated shapes, so a photo "
               "is far from anything they have seen: read their answers with that in mind.")
target_mode = st.radio("Explain the score of", ("the true class", "each model's prediction", "a class"),
                       horizontal=True, key="at_target", index=0 if label is not None else 1)
target_class = None
if target_mode == "a class":
    target_class = st.selectbox("Class to explain", classes, key="at_tclass")
elif target_mode == "the true class" and label is None:
    st.caption("An upload has no true class: explaining each model's prediction.")
block_names = [n for n, _ in models[names[0]][0].named_blocks()]
layer = None
if method == "LayerGradCam":
    layer = st.select_slider("Grad-CAM block", block_names, value=block_names[-1], key="at_layer")


# ---- attribute ---------------------------------------------------------------------------------
@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def explain(name: str, dev: str, image: bytes, shape: tuple, target_mode: str, target_class: int | None,
            label: int | None, method: str, baseline: str, smooth: bool, layer: str | None, seed: int):
    model, normalizer, _ = _load(name, dev)
    x = normalizer(torch.frombuffer(bytearray(image), dtype=torch.uint8).view(shape).unsqueeze(0)
                   .to(dev))
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)[0]
    pred = int(probs.argmax())
    target = {"the true class": label if label is not None else pred,
              "each model's prediction": pred, "a class": target_class}[target_mode]
    black = normalizer(torch.zeros(1, *shape, dtype=torch.uint8, device=dev))
    with ui.compute_slot():
        a = attr_lib.attribute(model, x, target, method, baseline=baseline, black=black, layer=layer,
                               noise_tunnel=smooth, seed=seed)
    out = {"pred": pred, "conf": float(probs[pred]), "target": int(target),
           "p_target": float(probs[target]), "seconds": a.seconds,
           "map": a.attr[0].sum(0).double().cpu().numpy(),
           "delta": None if a.delta is None else float(a.delta.abs().max())}
    if a.delta is not None and a.baseline is not None:
        c = attr_lib.completeness(model, x, a.baseline, target, a.attr)
        out["sum"], out["f_diff"] = float(c["attr_sum"][0]), float(c["f_x_minus_f_baseline"][0])
    return out


tc = None if target_class is None else classes.index(target_class)
img_bytes = image_u8.contiguous().numpy().tobytes()
cols = st.columns(2, gap="large")
results = {}
for col, name in zip(cols, names):
    with col:
        kind = "plain" if name.startswith("plain") else "residual"
        st.subheader(f"{kind.capitalize()}-{depth}")
        with ui.queued_note(f"{method} on {name}"), st.spinner(f"{method} on {name}…"):
            try:
                r = explain(name, device.type, img_bytes, tuple(image_u8.shape), target_mode, tc, label,
                            method, baseline, smooth and method not in attr_lib.NO_NOISE_TUNNEL, layer,
                            settings["seed"])
            except (attr_lib.AttributionError, ui.ServerBusy) as exc:
                st.error(str(exc))
                continue
        results[name] = r
        verdict = "" if label is None else (" ✓" if r["pred"] == label else f" ✗ (true: {classes[label]})")
        st.markdown(f"Predicts **{classes[r['pred']]}** ({r['conf']:.0%}){verdict}. Explaining "
                    f"**{classes[r['target']]}** (p = {r['p_target']:.2f}).")
        m = None if mask is None else mask.numpy()
        signed, s_scale = render.overlay(image_u8.numpy(), r["map"], m, signed=True)
        absval, a_scale = render.overlay(image_u8.numpy(), r["map"], m, signed=False)
        i1, i2, i3 = st.columns(3)
        i1.image(render.image_rgb(image_u8.numpy()), caption="image", width="stretch")
        i2.image(signed, caption=f"signed (±{s_scale:.2g})", width="stretch")
        i3.image(absval, caption=f"absolute (0–{a_scale:.2g})", width="stretch")
        facts = [f"{r['seconds'] * 1e3:.0f} ms on {device.type}"]
        if r["delta"] is not None:
            facts.append(f"convergence delta {r['delta']:.1e}")
        if "sum" in r:
            facts.append(f"Σ attribution {r['sum']:.4f} vs f(x) − f(baseline) {r['f_diff']:.4f}")
        st.caption(" · ".join(facts))
st.caption("Red supports the explained class, blue opposes it; each map is scaled to its own 99.5th "
           "percentile (the number in its caption). Green: the object's true mask.")

# ---- which blocks carry the decision ---------------------------------------------------------
st.header("Which blocks carry the decision")
st.markdown(
    "Layer Integrated Gradients through each block's **residual branch** F (Captum's "
    "`LayerIntegratedGradients` on `block.body`). In a plain net every block is the only path, so "
    "each carries 100 % of f(x) − f(baseline) (completeness). In a residual net the skip carries "
    "the rest: the share shows how much each block *adds* (Veit et al. 2016, arXiv 1605.06431)."
)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def per_block(name: str, dev: str, image: bytes, shape: tuple, target: int, n_steps: int) -> pd.DataFrame:
    model, normalizer, _ = _load(name, dev)
    x = normalizer(torch.frombuffer(bytearray(image), dtype=torch.uint8).view(shape).unsqueeze(0).to(dev))
    base = normalizer(torch.zeros(1, *shape, dtype=torch.uint8, device=dev))
    with ui.compute_slot():
        df = attr_lib.block_attribution(model, x, target, "LayerIntegratedGradients", baseline=base,
                                        n_steps=n_steps)
    return df


if results:
    tgt = next(iter(results.values()))["target"]
    with st.spinner("Attributing through every block…"):
        frames = [per_block(n, device.type, img_bytes, tuple(image_u8.shape), tgt, 8).assign(
                  variant="plain" if n.startswith("plain") else "residual") for n in names]
    pb = pd.concat(frames, ignore_index=True)
    # A share of f(x) − f(baseline) means nothing when that difference is ~0 (a collapsed model
    # whose output does not depend on its input): say so instead of charting noise / 0.
    flat = {v for v, d in pb.groupby("variant") if abs(d["f_x_minus_f_baseline"].iloc[0]) < 1e-3}
    for v in sorted(flat):
        st.warning(f"The {v} net's score barely depends on the input here (f(x) − f(baseline) = "
                   f"{pb[pb['variant'] == v]['f_x_minus_f_baseline'].iloc[0]:.1e}), so its per-block "
                   "shares are not meaningful and are left out of the chart.")
    shown = pb[~pb["variant"].isin(flat)]
    if len(shown):
        ui.chart_with_export(charts.block_share_chart(shown), pb, "block_attribution", "at_blocks")
    res = shown[shown["variant"] == "residual"]
    plain = shown[shown["variant"] == "plain"]
    if len(res):
        top = res.loc[res["share_of_total"].abs().idxmax()]
        text = (f"Explaining **{classes[tgt]}**: in the residual net the largest share, "
                f"**{top['share_of_total']:.0%}**, goes through `{top['block']}`")
        if len(plain):
            text += (f"; the plain net's blocks each carry {plain['share_of_total'].median():.0%} "
                     "(median; 100 % by completeness, up to the integral's error)")
        st.markdown(text + ".")

# ---- scores over many images -------------------------------------------------------------------
st.header("Scores against the ground truth")
st.markdown(
    "Over N test images, for every method and both models: the **pointing game** (is the "
    "pixel with the largest attribution on the object? Zhang et al. 2016) and the **share of "
    "positive attribution inside the mask**. For reference, a map spread evenly over the image "
    "scores the mask's share of the image."
)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def scores(names: tuple, dev: str, n: int, baseline: str, methods: tuple) -> pd.DataFrame:
    mods = {nm: _load(nm, dev)[:2] for nm in names}
    meta = _load(names[0], dev)[2]
    ts = zoo.test_images(meta, n)
    with ui.compute_slot():
        return attr_lib.score_methods(mods, ts.x, ts.mask, ts.y, methods=list(methods),
                                      baseline=baseline)


q1, q2 = st.columns([1, 3], vertical_alignment="bottom")
n_img = q1.select_slider("Images", (16, 32, 64, 128, 256), value=32, key="at_n")
if q2.button("Score all methods", icon=":material/scoreboard:", key="at_score") or st.session_state.get(
        "at_scored") == (depth, n_img, baseline):
    st.session_state["at_scored"] = (depth, n_img, baseline)
    t0 = time.perf_counter()
    with ui.queued_note("scoring"), st.spinner(f"Scoring {len(attr_lib.METHODS)} methods × 2 models "
                                               f"on {n_img} images…"):
        table = scores(tuple(names), device.type, n_img, baseline, tuple(attr_lib.METHODS))
    ui.chart_with_export(charts.score_chart(table), table, "attribution_scores", "at_scores")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"pointing_game": st.column_config.NumberColumn(format="%.2f"),
                                "positive_share_in_mask": st.column_config.NumberColumn(format="%.2f"),
                                "mask_share_of_image": st.column_config.NumberColumn(format="%.2f"),
                                "seconds_per_image": st.column_config.NumberColumn(format="%.4f")})
    best = table.sort_values("pointing_game", ascending=False).iloc[0]
    st.markdown(f"Best pointing game: **{best['method']}** on **{best['model']}**, "
                f"{best['pointing_game']:.0%} of {n_img} images (the mask covers "
                f"{best['mask_share_of_image']:.0%} of an image on average). "
                f"{time.perf_counter() - t0:.1f} s.")
else:
    st.caption("Scoring runs every method on both models; press the button to start.")

st.caption(f"Models: {', '.join(names)} — {meta.get('label', '')}, trained {meta.get('epochs', '?')} "
           f"epochs on {meta.get('device', '?')} (see assets/degradation). Test error: "
           + ", ".join(f"{n} {models[n][2].get('test_error', float('nan')):.1%}" for n in names) + ".")
