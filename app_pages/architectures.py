"""Architectures: the family around ResNet at one depth, one row each — size, the gradient at
initialisation (network and twin), the published error where a paper has one, and the
training error after one budget. Stored results at once; the rest in background jobs with Stop."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import architectures as charts
from resnet_explain.content import architectures as arch_text
from resnet_explain.content.job_status import count_progress, job_status
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


@st.cache_resource(show_spinner=False)
def known() -> dict:
    """Probe rows by (spec query, seed, batch): the stored default view's, then each one this
    process computes (a row is a few numbers; a background job fills it without a script run)."""
    return dict(A.stored_probes())


@st.cache_data(max_entries=64, ttl=600, show_spinner="Timing small probes here…")
def seconds_per_flop(batch: int, name: str) -> float:
    with ui.compute_slot():
        return A.measure_seconds_per_flop(batch, name=name)


keys = {n: A.probe_key(n, depth, seed, int(batch)) for n in names}
missing = [n for n in names if keys[n] not in known()]


def probe_all(todo, job=None):  # in a job, the job holds the compute slot
    for i, n in enumerate(todo):
        if job is not None and job.should_stop():
            return
        known()[keys[n]] = A.probe_query(*keys[n])
        if job is not None:
            job.records.append({"done": i + 1, "total": len(todo), "variant": VARIANTS[n].label})


def probe_status(j):
    rec = j.records[-1] if j.records else {"done": 0, "total": j.meta["n"], "variant": "…"}
    label, state = job_status(state=j.state, elapsed=j.elapsed, error=j.error, stopping=j.stop.is_set(),
                              abandoned=j.abandoned, finished=bool(j.records) and rec["done"] == rec["total"],
                              running="Probing", done="Probed")
    ui.show_job(j, label, state, *count_progress(rec["done"], rec["total"], "probed (with twins)",
                                                 after=(f"last: {rec['variant']}",)))


if missing:
    est = A.probe_seconds_estimate(depth, missing, int(batch), lambda n: seconds_per_flop(int(batch), n))
    if est <= A.inline_seconds():
        try:
            with st.spinner(f"Probing {len(missing)} networks and their twins (about {est:.0f} s)…"), \
                    ui.compute_slot():
                probe_all(missing)
        except ui.ServerBusy as exc:
            st.warning(str(exc).capitalize())
            st.stop()
    else:
        probes = ui.LongJob("ar_probe", "the probes", probe_status, start_label="Probe them",
                            start_key="ar_probe")
        if not probes.running:
            st.caption(f"{len(missing)} of these networks and their twins are not probed yet: about "
                       f"**{est:.0f} s** on {settings.detail}, at the speed of each variant's depth-8 "
                       "probe timed here just now.")
        probes.buttons(lambda: probes.start(lambda j: probe_all(missing, j), shared=(
            "architectures-probe", tuple(keys.values())), meta={"keys": keys, "n": len(missing)}))
        probes.follow(show=lambda j: j.meta["keys"] == keys)
        st.stop()

df = A.compare(depth, names, seed, int(batch), store=store, probes=lambda n, d, s, b: known()[keys[n]])
view = charts.table(df)
st.subheader(f"{len(df)} variant{'s' * (len(df) != 1)} at depth {depth} (6n + 2 with n = {(depth - 2) // 6})")
st.dataframe(view, hide_index=True, width="stretch", height=35 * (len(view) + 1) + 3, column_config={
    "open in builder": st.column_config.LinkColumn("open in builder", display_text="open ↗",
                                                   help="This variant's network in the Network Builder"),
    "published error (%)": st.column_config.NumberColumn(help=arch_text.COLUMN_HELP["published error (%)"]),
    **{c: st.column_config.Column(help=h, width="medium" if "first" in c else None)
       for c, h in arch_text.COLUMN_HELP.items() if c != "published error (%)"}})
st.caption(arch_text.caption(seed, int(batch)))
for s in arch_text.sentences(df):
    st.markdown(f"- {s}")
ui.chart_with_export(ui.cached_chart(charts.chart, df), charts.chart_data(df), f"architectures_{depth}", "ar_chart")


ui_panel.training_section(depth, names, seed, store, device)
