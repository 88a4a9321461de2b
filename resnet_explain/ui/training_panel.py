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
from .cached_chart import cached_chart, cached_view
from .jobs import BackgroundJob, show_job
from .stage import chart_height, columns
from .widgets import chart_with_export


def curves(frame: pd.DataFrame, chance: float, title: str = "", name: str = "live",
           keys: tuple[str, str] | None = None) -> None:
    """Training and test error per epoch, side by side; with downloads when ``keys`` are given."""
    long = cached_view(ct.curves_long)(frame)  # made once per data, not on every visit
    height = chart_height(300, 405, 370)
    for col, metric, key in zip(columns(2), ("training error", "test error"), keys or (None, None)):
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
    st.dataframe(cached_view(ct.he_table)(table), hide_index=True, width="stretch")
    if convergence is not None and len(convergence):
        st.dataframe(cached_view(ct.convergence_display)(convergence), hide_index=True, width="stretch")
        t = min(convergence.attrs["thresholds"])
        for r, p in pairs(convergence):
            st.markdown(words.convergence_sentence(r, p, t))
        st.caption(words.convergence_caption(convergence.attrs["thresholds"],
                                             convergence.attrs["steps_per_epoch"]))
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
