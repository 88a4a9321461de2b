"""Lesion study (Veit et al. 2016): delete one block at a time from a trained twin at test time."""

import pandas as pd
import streamlit as st
import torch

from resnet_explain import ui
from resnet_explain.charts import lesion as ct
from resnet_explain.lab import lesion
from resnet_explain.train import shipped as zoo

settings = ui.settings()
device = settings["device"]
H = 1.35 if settings["presenter"] else 1.0
BIG_DROP = 5.0  # points: what the summary calls a large drop

st.title("Lesion study: delete a block")
st.markdown(
    "Veit et al. (2016, arXiv 1605.06431, sec. 4) deleted single blocks from a *trained* ResNet at "
    "test time: the error barely moved, except at some downsampling blocks, while deleting one "
    "layer of a plain (VGG-like) network destroyed it. They read this as residual networks "
    "behaving like **ensembles of many shallower paths**. Here we repeat the measurement on our "
    "trained twins (same data, same budget; see the Training page)."
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
        "its own freshly loaded copy of the checkpoint.")

pairs = zoo.pairs()
if not pairs:
    st.error("No trained checkpoints are shipped in assets/checkpoints; run scripts/make_assets.py.")
    st.stop()


def downsampling_blocks(model) -> dict[str, bool]:
    """Blocks whose output has a different shape from their input (stride or width change)."""
    out, prev = {}, None
    for name, blk in model.named_blocks():
        out[name] = blk.spec.stride != 1 or (prev is not None and blk.spec.width != prev)
        prev = blk.spec.width
    return out


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def lesion_cached(name: str, dev: str, n: int):
    """(lesion table, downsampling map, checkpoint meta, seconds). A fresh copy of the checkpoint
    per call: lesion hooks of two concurrent studies can never meet on one shared module."""
    model, normalizer, meta = zoo.load(name, device=torch.device(dev))
    data = zoo.test_images(meta, n)
    with ui.compute_slot():
        df = lesion.lesion_study(model, data, normalizer)
    seconds = float(df.attrs.get("seconds", float("nan")))
    return pd.DataFrame(df), downsampling_blocks(model), meta, seconds


c1, c2 = st.columns(2)
depth = c1.selectbox("Depth of the twins", sorted(pairs), key="ls_depth",
                     help="Both twins were trained with the same data and budget (seed 0 of the "
                          "stored CPU-budget experiment).")
names = pairs[depth]
_, _, meta0 = zoo.load(names[0])
n_max = int((meta0.get("data") or {}).get("n_test", 500))
sizes = [s for s in (100, 250, 500, 1000, 2000) if s <= n_max] or [n_max]
n = c2.select_slider("Test images", sizes, value=500 if 500 in sizes else sizes[-1], key="ls_n",
                     help="The first images of the test split the checkpoints were evaluated on.")

frames, ds_map, metas, secs = {}, {}, {}, {}
with ui.queued_note("this lesion study"), st.spinner(f"Deleting each block of {' and '.join(names)}…"):
    try:
        for name in names:
            arch = "plain" if name.startswith("plain") else "residual"
            frames[arch], ds, metas[arch], secs[arch] = lesion_cached(name, device.type, int(n))
            ds_map.update(ds)
    except (ui.ServerBusy, lesion.LesionError, zoo.ShippedError) as exc:
        st.warning(str(exc).capitalize())
        st.stop()

classes = len(zoo.test_images(metas["residual"], 10).classes)
chance = 1.0 / classes
long = ct.lesion_long(frames, ds_map, depth)
f = ct.lesion_findings(long, BIG_DROP)
m = metas["residual"]
st.caption(
    f"Checkpoints: {m['label']}, seed {m['seed']}, {m['epochs']} epochs (assets/checkpoints). "
    f"Tested on {int(n)} test images on **{settings['device_info']['detail']}**: "
    f"the studies took {secs['plain']:.1f} s (plain-{depth}) and {secs['residual']:.1f} s "
    f"(residual-{depth}) when first computed; results are cached per depth, device and image count.")

k1, k2, k3, k4 = st.columns(4)
k1.metric(f"plain-{depth}: accuracy", f"{f['plain']['base_accuracy_pct']:.1f} %")
k2.metric(f"residual-{depth}: accuracy", f"{f['residual']['base_accuracy_pct']:.1f} %")
k3.metric("plain: median drop", f"{f['plain'].get('median_drop', float('nan')):.1f} pts",
          help=f"over the {f['plain']['removable']} blocks that can be deleted")
k4.metric("residual: median drop", f"{f['residual'].get('median_drop', float('nan')):.1f} pts",
          help=f"over all {f['residual']['removable']} blocks")


def arch_sentence(arch: str, d: dict) -> str:
    net = f"{arch}-{depth}"
    if not d["removable"]:
        return f"No block of **{net}** can be deleted."
    s = (f"Deleting one block of **{net}** costs a median of **{d['median_drop']:.1f}** points "
         f"(mean {d['mean_drop']:.1f}); {d['n_small']} of {d['removable']} deletable blocks cost "
         f"at most {BIG_DROP:.0f} points each.")
    if d["not_removable"]:
        s += (f" {d['not_removable']} block{'s' if d['not_removable'] > 1 else ''} "
              f"({', '.join(d['not_removable_blocks'])}) cannot be deleted at all: "
              "they change the shape and have no path around them.")
    if d["big_blocks"]:
        where = ", ".join(f"{b} ({v:.0f})" for b, v in zip(d["big_blocks"][:4], d["big_drops"][:4]))
        more = f" and {len(d['big_blocks']) - 4} more" if len(d["big_blocks"]) > 4 else ""
        s += (f" Blocks costing more than {BIG_DROP:.0f} points: {where}{more}; "
              f"{d['big_downsampling']} of these {len(d['big_blocks'])} "
              f"{'is a downsampling block' if d['big_downsampling'] == 1 else 'are downsampling blocks'}.")
    return s


st.subheader("Accuracy lost when one block is deleted")
for arch in ("residual", "plain"):
    st.markdown(arch_sentence(arch, f[arch]))
for arch in ("plain", "residual"):
    base = f[arch]["base_accuracy_pct"] / 100
    if base < 2 * chance:
        st.warning(f"{arch.capitalize()}-{depth} barely learned (accuracy {base:.1%}, chance "
                   f"{chance:.0%}): deleting its blocks cannot cost much, so its small drops say "
                   "nothing about robustness. Compare the twins at a depth where both trained.",
                   icon=":material/warning:")
pr, rr = f["plain"], f["residual"]
both_measured = pr.get("median_drop") is not None and rr.get("median_drop") is not None
if both_measured and pr["base_accuracy_pct"] / 100 >= 2 * chance:
    pm, rm = pr["median_drop"], rr["median_drop"]
    if pm <= BIG_DROP:
        verdict = (f"neither net loses more than {BIG_DROP:.0f} points from a typical deletion: "
                   "not Veit et al.'s contrast")
    elif rm <= BIG_DROP:
        verdict = "as Veit et al. found: deleting a plain block hurts, the residual net barely moves"
    elif rm < pm / 2:
        verdict = ("in the direction Veit et al. found, but the residual net does not just "
                   f"\"barely move\": its typical block costs more than {BIG_DROP:.0f} points "
                   "(fewer, more essential blocks at this depth)")
    else:
        verdict = "not Veit et al.'s contrast: here the residual net is about as fragile as the plain one"
    st.markdown(f"**In short:** the typical (median) deletion costs the plain net {pm:.1f} points "
                f"and the residual net {rm:.1f} — {verdict}.")
ui.chart_with_export(ct.lesion_drop_chart(long, int(340 * H)), long, f"lesion_drop_{depth}", "ls_drop")
st.caption(f"Bars: accuracy of the whole network minus accuracy with that one block deleted, on "
           f"{int(n)} test images (percentage points). ✕: cannot be deleted. Grey bands: "
           "downsampling blocks (stride 2, more channels).")

st.subheader("How close is each residual block to the identity?")
st.markdown(
    "For each residual block, ‖F(x)‖ / ‖x‖: the size of what the branch adds relative to what "
    "flows past it on the shortcut (mean over the test images). Near 0 the block is almost the "
    "identity — and deleting it should cost little. Light bars: downsampling blocks, whose "
    "shortcut subsamples and zero-pads.")
ui.chart_with_export(ct.residual_ratio_chart(long, int(260 * H)), long[long["arch"] == "residual"],
                     f"residual_ratio_{depth}", "ls_ratio")
res = long[(long["arch"] == "residual")].dropna(subset=["residual_ratio"])
if len(res):
    top = res.loc[res["residual_ratio"].idxmax()]
    s = (f"The branch/input ratio runs from {res['residual_ratio'].min():.2f} to "
         f"{res['residual_ratio'].max():.2f} (median {res['residual_ratio'].median():.2f}); the "
         f"largest is at {top['block']}.")
    rho = rr.get("spearman_ratio_drop")
    if rho is not None:
        s += (f" Across residual blocks, the rank correlation between this ratio and the accuracy "
              f"drop is Spearman ρ = {rho:.2f}"
              + (" — the blocks that add most are the ones the network cannot lose." if rho > 0.5
                 else " — weak: the branch's size alone does not tell which blocks matter."
                 if abs(rho) < 0.3 else "."))
    st.markdown(s)

with st.expander("The numbers (per block)"):
    st.dataframe(long, hide_index=True, width="stretch")
ui.show_code(lesion.lesion_study, "Show the code: lesion_study")
