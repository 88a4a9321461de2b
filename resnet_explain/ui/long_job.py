"""One long job on a page, the same way on every page: its estimate against the host's cap, a Start
button (refused over the cap), Stop, the progress box redrawn each second, then the result.

    job = ui.LongJob("ll", "the loss landscapes", status, start_label="Compute")
    ...widgets disabled while job.running...
    refused = ui.over_cap(estimate, ui.host_cap(device.type))
    job.buttons(lambda: job.start(work, meta={...}, shared=key), blocked=refused)
    result = job.follow()   # the finished result, once; None while it runs or after

The job lives in ``st.session_state[f"{prefix}_job"]``, so it survives every rerun of the page; its
buttons are ``f"{prefix}_start"`` and ``f"{prefix}_stop"``. Stop sets the job's Event; the work polls
``job.should_stop`` and may raise :class:`resnet_explain.errors.Stopped`, which the job reads as
"stopped by the user" (:meth:`.jobs.BackgroundJob.run`). ``shared``: a key under which visitors asking
for the same work at once watch one job (:func:`.jobs.start_shared_job`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from .jobs import BackgroundJob, start_job, start_shared_job, watch_job


def host_cap(device_type: str) -> float | None:
    """The most estimated seconds this host runs live work for one Start (None: no cap); raises
    UserError for a malformed RESNET_EXPLAIN_MAX_TRAIN_SECONDS."""
    # lazy: resnet_explain.train loads the training engine, kept out of start-up (test_lazy_imports)
    from ..train.budgets import cap_seconds  # THE host cap rule, its one import in ui

    return cap_seconds(device_type)


def over_cap(estimate_s: float, cap_s: float | None) -> bool:
    """The one refusal rule: an estimate over the cap (no cap: never refused)."""
    return cap_s is not None and estimate_s > cap_s


@dataclass
class LongJob:
    """A page's handle on its one long job. ``status(job)`` draws the job's box (with
    :func:`.jobs.show_job`, and anything else live, such as curves so far)."""

    prefix: str  # session key f"{prefix}_job"; buttons f"{prefix}_start" / f"{prefix}_stop"
    label: str  # what the queued note and the thread call the work ("the loss landscapes")
    status: Callable[[BackgroundJob], None]
    start_label: str = "Start"
    start_key: str | None = None  # when the Start button's key is not f"{prefix}_start"
    stop_help: str | None = None

    @property
    def key(self) -> str:
        return f"{self.prefix}_job"

    @property
    def job(self) -> BackgroundJob | None:
        return st.session_state.get(self.key)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def start(self, work: Callable[[BackgroundJob], Any], meta: dict | None = None,
              shared=None) -> BackgroundJob:
        """Start ``work(job)`` in the background (or, with ``shared``, watch the same work already
        running for another visitor) and keep the job in this session."""
        if shared is None:
            job = start_job(work, self.label, meta)
        else:
            job = start_shared_job(shared, work, self.label, meta)
        st.session_state[self.key] = job
        return job

    def stop(self) -> None:
        if (job := self.job) is not None:
            job.stop.set()

    def buttons(self, on_start: Callable[[], Any], *, blocked: bool = False,
                auto: bool = False) -> None:
        """Start and Stop side by side. Start is off while the job runs or when ``blocked`` (refused,
        or nothing to do); ``auto``: start now, without a click (short work a page runs by itself)."""
        if auto and not blocked and not self.running:
            on_start()
        running = self.running
        b1, b2, _ = st.columns([1, 1, 4])
        b1.button(self.start_label, type="primary", icon=":material/play_arrow:", on_click=on_start,
                  disabled=running or blocked, key=self.start_key or f"{self.prefix}_start")
        b2.button("Stop", icon=":material/stop:", on_click=self.stop, disabled=not running,
                  key=f"{self.prefix}_stop", help=self.stop_help)

    def follow(self, show: Callable[[BackgroundJob], bool] = lambda job: True) -> Any:
        """While the job runs, its box redrawn every second (the page reruns when it ends); after,
        its box once more where ``show(job)`` (e.g. the job was for the inputs shown now), and its
        result the first time the page asks (None while it runs, after that, or when stopped)."""
        job = self.job
        if job is None:
            return None
        if job.running:
            watch_job(job, self.status)
            return None
        result = job.take()
        if show(job):
            self.status(job)
        return result
