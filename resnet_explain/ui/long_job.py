"""One long job on a page, the same way on every page: its estimate against the host's cap, a Start
button (refused over the cap), Stop, the progress box redrawn each second, then the result.

    job = ui.LongJob("ll", "the loss landscapes", status, start_label="Compute")
    ...widgets disabled while job.running...
    speed = ui.host_speed(device.type)      # THE measurement of this host, once per host
    estimate = ...arithmetic on speed...     # every estimate: resnet_explain.train.estimate
    refused = ui.refuse(estimate, device.type, [Control("Grid (points per axis)", ...), ...])
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
from typing import Any, Callable, Sequence

import streamlit as st

from ..content.refusal import refusal
from .jobs import BackgroundJob, ServerBusy, compute_slot, start_job, start_shared_job, watch_job
from .warmup import HOLD


def host_cap(device_type: str) -> float | None:
    """The most estimated seconds this host runs live work for one Start (None: no cap); raises
    UserError for a malformed RESNET_EXPLAIN_MAX_TRAIN_SECONDS."""
    # lazy: resnet_explain.train loads the training engine, kept out of start-up (test_lazy_imports)
    from ..train.budgets import cap_seconds  # THE host cap rule, its one import in ui

    return cap_seconds(device_type)


def over_cap(estimate_s: float, cap_s: float | None) -> bool:
    """THE refusal rule (:func:`resnet_explain.train.budgets.over_cap`)."""
    from ..train.budgets import over_cap as rule  # lazy: see host_cap

    return rule(estimate_s, cap_s)


def host_speed(device_type: str):
    """THE measurement of this host that every page's estimate is arithmetic on
    (:func:`resnet_explain.train.estimate.host_speed`): made once per host (device type + threads)
    and kept for the process, on an idle compute slot — the warm-up yields (:data:`.warmup.HOLD`)
    and a running job finishes first. Never measured while the server is busy: when the slot
    stays taken, the page says so and stops."""
    # lazy: resnet_explain.train loads the training engine, kept out of start-up (test_lazy_imports)
    from ..train import estimate

    if (known := estimate.known_speed(device_type)) is not None:
        return known
    try:
        with st.spinner("Timing this server once (a few training steps of two small networks)…"), \
                HOLD.held(), compute_slot():
            return estimate.host_speed(device_type)
    except ServerBusy as exc:
        st.warning(f"{exc}. Estimates wait for an idle server: this page needs one first.",
                   icon=":material/hourglass_top:")
        st.stop()


def refuse(estimate_s: float, device_type: str, controls: Sequence = (), otherwise: str = "") -> bool:
    """THE cap rule on a page: True (and a warning that names the one control that fixes it, by its
    label on this page, or ``otherwise`` when none does) when ``estimate_s`` is over this host's cap
    (:func:`host_cap`). ``controls``: :class:`resnet_explain.train.budgets.Control`, the page's
    controls that shrink the job, in the page's order."""
    from ..train.budgets import CAP_ENV, fix, nearest  # lazy: see host_cap

    cap = host_cap(device_type)
    if not over_cap(estimate_s, cap):
        return False
    st.warning(refusal(estimate_s, cap, fix(cap, controls), otherwise, CAP_ENV, nearest(controls)),
               icon=":material/timer_off:")
    return True


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
