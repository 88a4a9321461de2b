"""Architectures: the family around ResNet at one depth, one row each — size, the gradient at
initialisation (network and twin), the published error where a paper has one, and the
training error after one budget. Stored results at once; the rest in background jobs with Stop."""

from pathlib import Path

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import architectures as charts
from resnet_explain.content import architectures as arch_text
from resnet_explain.experiments import architectures as A
from resnet_explain.spec.zoo import DEFAULT_VARIANTS, VARIANTS
from resnet_explain.train.runs import RunStore
from resnet_explain.ui import architectures_panel as ui_panel

settings = ui.settings()
seed, device, ss = settings.seed, settings.device, st.session_state
store = RunStore()

st.title("Architectures: the family around ResNet")
st.markdown(
    "Each row is He et al.'s CIFAR ResNet with **one idea changed** — the shortcut variants of He "
    "et al. 2016 (fig. 2), pre-activation, Highway, ResNeXt, Wide ResNet, DenseNet, stochastic "
    "depth, and two ways to train without BatchNorm. For each: its size, counted from the spec; the "
    "**first/last block gradient ratio** at initialisation for the network and its **twin** (every "
    "skip off), measured on one seeded batch; and its training error after one budget.")
c1, c2, c3 = st.columns([1.2, 4, 1])
depth = c1.select_slider("Depth (6n + 2)", A.DEPTHS, value=A.DEFAULT_DEPTH, key="ar_depth", bind="query-params")
names = c2.multiselect("Variants", list(VARIANTS), default=list(DEFAULT_VARIANTS), key="ar_variants",
                       bind="query-params", help="Short names, as in the URL: " + "; ".join(
                           f"{n} = {v.label}" for n, v in VARIANTS.items()))
batch = c3.selectbox("Probe batch", (4, 8, 16, 32), index=3, key="ar_batch", bind="query-params")
names = [n for n in VARIANTS if n in names]
if not names:
    st.info("Pick at least one variant.")
    st.stop()


keys = {n: A.probe_key(n, depth, seed, int(batch)) for n in names}
known = ui_panel.probe_section(keys, depth, int(batch), settings, device.type, names)  # stops here until probed



@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def compared(depth: int, names: tuple, seed: int, batch: int, probed: dict, runs_now: tuple):
    """The table, its view, sentences and chart data, made once per input (~40 ms of spec checks,
    run ids and pandas on every visit before): the probe rows and the runs in the store (``runs_now``,
    the store's folder names: a finished run adds one) are part of the key."""
    df = A.compare(depth, list(names), seed, batch, store=store, probes=lambda n, d, s, b: probed[n])
    return df, charts.table(df), arch_text.sentences(df), charts.chart_data(df)


runs_now = tuple(sorted(p.name for p in Path(store.root).iterdir())) if Path(store.root).is_dir() else ()
df, view, said, chart_data = compared(depth, tuple(names), seed, int(batch), {n: known[keys[n]] for n in names},
                                      runs_now)
st.subheader(f"{len(df)} variant{'s' * (len(df) != 1)} at depth {depth} (6n + 2 with n = {(depth - 2) // 6})")
st.dataframe(view, hide_index=True, width="stretch", height=35 * (len(view) + 1) + 3, column_config={
    "variant": st.column_config.TextColumn("variant", width="medium", pinned=True),  # stays while scrolling
    "open in builder": st.column_config.LinkColumn("open in builder", display_text="open ↗",
                                                   help="This variant's network in the Network Builder"),
    "published error (%)": st.column_config.NumberColumn(help=arch_text.COLUMN_HELP["published error (%)"]),
    **{c: st.column_config.Column(help=h, width="medium" if "first" in c else None)
       for c, h in arch_text.COLUMN_HELP.items() if c != "published error (%)"}})
st.caption(arch_text.caption(seed, int(batch)))
for s in said:
    st.markdown(f"- {s}")
ui.chart_with_export(ui.cached_chart(charts.chart, df), chart_data, f"architectures_{depth}", "ar_chart")


ui_panel.training_section(depth, names, seed, store, device)
