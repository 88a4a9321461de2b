"""The Lesion Study page's Transformer pairs: pick one (the visitor's own from Train Your Network, a
link's, or the Transformers page's stored pair), study it as a background job with an estimate,
progress and Stop (stored: read at once), and lay out the chart and the sentences. The numbers:
:mod:`resnet_explain.experiments.lm_lesion`; the words: :mod:`resnet_explain.content.lesion`."""

from __future__ import annotations

from functools import partial

import streamlit as st

from ..charts import lesion as charts
from ..content import lesion as words
from ..experiments import lm_lesion as lml
from ..errors import UserError
from ..experiments.your_lm import reference_loss
from ..spec import NetSpec
from ..train import run_links
from .cached_chart import cached_chart
from .jobs import show_job
from .long_job import LongJob, host_speed, refuse
from .run_picker import (SESSION_KEY, choices, missing_notice, plain_first, private_model, remember_pair,
                         write_link)
from .widgets import chart_with_export, lazy_expander

STORED = "stored"
FAMILIES = ("CNN twins", "Transformers")


def family_default(store) -> str:
    """The Transformers side when the page's link names a Transformer run here, or carries a
    Transformer's network (a run this server lacks, to train again)."""
    url, net = st.query_params.get(run_links.URL_RUN), st.query_params.get(run_links.URL_NET)
    if url and store.has(url):
        return FAMILIES[1] if store.get(url).spec.family == "transformer" else FAMILIES[0]
    try:
        return FAMILIES[1] if net and NetSpec.from_query(net).family == "transformer" else FAMILIES[0]
    except UserError:  # a link's unreadable network: the image side, as before
        return FAMILIES[0]


@st.cache_resource(show_spinner=False)
def studies() -> dict:
    """Finished Transformer studies of this process by (run ids, device, windows); newest 16."""
    return {}


def _pick(store):
    """The selectbox of Transformer pairs: this session's (and a link's), then the stored one."""
    url, first = st.query_params.get(run_links.URL_RUN), "ls_tf_pair" not in st.session_state
    if url and first and (pair := run_links.linked_pair(url, store)):
        remember_pair(*pair)
    found = {c.key: c for c in choices(st.session_state.get(SESSION_KEY, []), store, "transformer")}
    opts = {k: (c.label, c.ids) for k, c in found.items()}
    stored = lml.stored_pair()
    if stored is not None:
        opts[STORED] = ("the Transformers page's stored pair: pre-LN vs no skips, "
                        f"{stored.depth} layers", stored.run_ids)
    if url and first:
        linked = next((k for k, (_, ids) in opts.items() if url in ids and k != STORED), None)
        if linked is not None:
            st.session_state["ls_tf_pair"] = linked
        elif url not in (stored.run_ids if stored else ()):
            missing_notice(url, store, "transformer")
    if not opts:
        st.error("No Transformer pair: none is stored on this installation and none was trained in "
                 "this session (Train Your Network, with a Transformer from the Network Builder).")
        st.stop()
    key = st.selectbox("Transformer pair", list(opts), format_func=lambda k: opts[k][0], key="ls_tf_pair",
                       help="Your own pairs come from Train Your Network and stay in this browser "
                            "session; the stored pair is the Transformers page's default pair.")
    if key in found:  # the picked pair rides in the URL (a link opens it for whoever holds it)
        write_link(found[key], store)
    return key, opts[key][1], stored


def _study(runs, dev: str, speed, auto_s: float):
    """(tables, seconds) of a pair of runs: a finished study, or the job that makes it (None)."""
    key, done = (tuple(r.run_id for r in runs), dev, lml.WINDOWS), studies()
    job = LongJob("ls_tf", "this lesion study", lambda j: show_job(j, *words.live_status(
        j.records[-1] if j.records else 0, j.meta["planned"], j.elapsed, lml.WINDOWS, state=j.state,
        error=j.error, stopping=j.stop.is_set(), finished=j.meta["key"] in studies(),
        abandoned=j.abandoned, items="validation windows", units="layer and sublayer")),
        stop_help="Ends the study before the next network.")
    if key not in done:
        planned = sum(lml.lesion_passes(r.spec) for r in runs)
        est = sum(lml.estimate_seconds(r.spec, lml.WINDOWS, speed) for r in runs)
        st.caption(f"Not yet computed on this server: {planned} forward passes over {lml.WINDOWS} "
                   f"validation windows (each network whole, then without each layer and each "
                   f"sublayer), about **{est:.0f} s** here (this server's one timing).")

        def work(j):
            twins = {r.spec.arch: (partial(private_model, r.run_id, dev), r.request.data.load()[1])
                     for r in runs}
            done[key] = lml.study_pair(twins, lml.WINDOWS, progress=j.records.append,
                                       should_stop=j.should_stop)
            while len(done) > 16:
                done.pop(next(iter(done)))
        job.buttons(lambda: job.start(work, shared=key, meta={"key": key, "planned": planned}),
                    blocked=refuse(est, dev, (), "Pick a pair with fewer layers or a narrower width."),
                    auto=est <= auto_s and job.job is None)
    job.follow(show=lambda j: j.meta["key"] == key and key not in done)
    return done.get(key)


def transformer_study(store, dev: str, height: float = 1.0, auto_s: float = 10.0) -> None:
    """The page's Transformer side, whole: picker, study (started by itself when its estimate is
    at most ``auto_s`` seconds), numbers, sentences, chart."""
    key, ids, stored = _pick(store)
    if key == STORED:
        tables, depth, ref = stored.tables, stored.depth, stored.reference
        st.caption(f"Stored (assets/transformers/README.md): runs `{stored.run_ids[1]}` (pre-LN) and "
                   f"`{stored.run_ids[0]}` (no skips), {lml.WINDOWS} validation windows, measured by the "
                   f"Transformers page's script on Python {stored.meta.get('python')}, one CPU thread.")
    else:
        runs = plain_first(*(store.get(i) for i in ids))
        found = _study(runs, dev, host_speed(dev), auto_s)
        if found is None:
            st.stop()
        tables, depth = found[0], runs[1].spec.depth
        ref = reference_loss(runs[0].request.data, lml.WINDOWS)
        st.caption(f"Runs `{runs[1].run_id}` (residual) and `{runs[0].run_id}` (no skips), "
                   f"{lml.WINDOWS} validation windows; the studies took "
                   + ", ".join(f"{s:.1f} s ({a})" for a, s in found[1].items()) + ".")
    show_findings(lml.lesion_long(tables, depth), ref, height)


def show_findings(long, ref: float, height: float = 1.0) -> None:
    """Metrics, sentences (the one fair-pair rule), the chart of one unit, the numbers."""
    unit = st.segmented_control("Delete one", ["layer", "sublayer"], default="layer", key="ls_unit",
                                bind="query-params") or "layer"
    f = lml.findings(long, ref, unit)
    cols = st.columns(len(f) + 1)
    for col, d in zip(cols, f.values()):
        col.metric(f"{d['net']}: validation loss", f"{d['base_loss']:.3f}", help="nats per byte, whole network")
    cols[-1].metric("byte frequencies only", f"{ref:.3f}", help="data/text.py unigram_loss on the same "
                    "windows: a model that knows how often each byte occurs and no context")
    st.subheader(f"Validation loss added when one {unit} is deleted")
    for d in f.values():
        st.markdown(words.lm_side_sentence(d, unit))
    if warning := words.lm_pair_warning(f, ref):
        st.warning(warning, icon=":material/warning:")
    if verdict := words.lm_verdict(f):
        st.markdown(verdict)
    chart_with_export(cached_chart(charts.lm_lesion_chart, long, unit, int(320 * height)),
                      long[long["unit"] == unit], f"lm_lesion_{unit}", "ls_tf_chart")
    st.caption(f"Bars: validation loss with that one {unit} deleted minus the whole network's (nats "
               "per byte). A deleted sublayer with a skip drops its branch and keeps the skip; without "
               "a skip its input is passed on, a path the network never trained with.")
    numbers = lazy_expander("The numbers (per layer and sublayer)", "ls_tf_numbers")
    if numbers.open:
        numbers.dataframe(long, hide_index=True, width="stretch")
