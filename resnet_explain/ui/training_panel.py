"""The Training page's repeated widgets: error curves, the final table with He et al.'s claims,
and a live degradation run's status. Everything they say is computed in
:mod:`resnet_explain.charts.training`; here it is only laid out."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..charts import training as ct
from ..content import training as words
from ..experiments.convergence import pairs
from ..experiments.degradation import check_hypothesis
from ..experiments import your_lm
from ..train.lm_trainer import EVAL_WINDOWS
from .cached_chart import cached_chart, cached_view
from .jobs import BackgroundJob, show_job
from .stage import chart_height, columns, stage_share
from .widgets import chart_with_export


def curves(frame: pd.DataFrame, chance: float, title: str = "", name: str = "live",
           keys: tuple[str, str] | None = None) -> None:
    """Training and test error per epoch, side by side; with downloads when ``keys`` are given."""
    long = cached_view(ct.curves_long)(frame)  # made once per data, not on every visit
    # On stage both curves share the first screen (act 5), side by side: they start below the title
    # and the hypothesis, 262 px down at 1280×720 in presenter type (tests/e2e/test_e2e_presenter.py).
    height = chart_height(300, 405, stage_share(1, 262))
    cols = columns(2, stage_side_by_side=True)
    for col, metric, key in zip(cols, ("training error", "test error"), keys or (None, None)):
        chart = cached_chart(ct.error_curves_chart, long, metric, chance, height, f"{title}{metric} per epoch")
        with col:
            if key:
                chart_with_export(chart, long, f"{name}_{metric.replace(' ', '_')}", key)
            else:
                st.vega_lite_chart(chart.spec(), width="stretch")


def results(table: pd.DataFrame, n_seeds: int, chance: float,
            convergence: pd.DataFrame | None = None) -> list[dict]:
    """He et al.'s table 6 shape, how fast each network trained (``convergence``: a
    :func:`~..experiments.degradation.convergence` table), the three claims checked (a claim on a
    network that never left chance: not testable here), and which networks never learned."""
    # Static tables of text (st.table): read whole, and no data-grid code for a new browser.
    st.table(cached_view(ct.he_table)(table), hide_index=True)
    if convergence is not None and len(convergence):
        st.table(cached_view(ct.convergence_display)(convergence), hide_index=True)
        t = min(convergence.attrs["thresholds"])
        for r, p in pairs(convergence):
            st.markdown(words.convergence_sentence(r, p, t))
        st.caption(words.convergence_caption(**convergence.attrs))
    vs = words.verdicts(check_hypothesis(table, chance), n_seeds)
    for v in vs:
        st.markdown(words.verdict_line(v))
    st.markdown(words.hypothesis_sentence(vs))
    if warning := words.chance_warning(table, chance):
        st.warning(warning, icon=":material/warning:")
    return vs


def live_run(job: BackgroundJob, chance: float, with_curves: bool = True,
             keys: tuple[str, str] | None = None) -> None:
    """A live ``run_degradation`` job: its status box, then (``with_curves``) its curves so far.
    The job's meta holds ``epochs`` (per network) and ``planned_epochs`` (the whole run)."""
    recs, res = list(job.records), job.result
    p = words.live_progress(recs, job.meta["planned_epochs"], job.meta["epochs"], job.elapsed,
                         state=job.state, error=job.error, stopping=job.stop.is_set(),
                         stopped=res is None or bool(res.meta.get("stopped")),
                         finished=0 if res is None else len(res.runs), abandoned=job.abandoned)
    show_job(job, *p, lines=[words.epoch_line(r) for r in recs[-4:]])
    if with_curves and recs:
        curves(pd.DataFrame(recs), chance, "live: ", "live", keys)


def lm_curves(curves: pd.DataFrame, data, title: str = "", key: str | None = None) -> None:
    """A Transformer pair's validation loss per recorded step beside the byte-frequency loss on the
    same windows (the first EVAL_WINDOWS of the validation split of ``data``, the runs' recipe)."""
    reference = your_lm.reference_loss(data, EVAL_WINDOWS)
    chart = cached_chart(ct.lm_loss_chart, curves, reference, chart_height(300, 405, 370),
                         f"{title}validation loss (nats per byte)")
    if key:
        chart_with_export(chart, curves, "your_network_val_loss", key)
    else:
        st.vega_lite_chart(chart.spec(), width="stretch")


def lm_results(pair, trained_here, pair_sentences, caption: str) -> None:
    """A trained Transformer pair: its table, its curves beside the byte-frequency loss (computed
    from the runs' own data recipe), and the sentences ``pair_sentences(findings)`` makes of it."""
    data = pair[0][1].request.data
    ref = your_lm.reference_loss(data)  # the whole validation split, as the table's final losses
    st.dataframe(your_lm.lm_table(pair, ref, trained_here), hide_index=True, width="stretch")
    st.caption(caption)
    lm_curves(your_lm.lm_curves(pair), data, "", "yn_c_val")
    st.caption(f"Curves: validation loss on the first {min(EVAL_WINDOWS, data.n_val)} validation windows "
               "every few steps (the trainer's record), beside the byte-frequency loss on the same windows.")
    for sentence in pair_sentences(your_lm.lm_findings(pair, ref)):
        st.markdown(sentence)
