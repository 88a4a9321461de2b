"""Heavy work on a shared host: compute slots all sessions take turns through, and background
jobs that a page can watch, stop, and that stop themselves when nobody watches.

One process serves every visitor (a Space runs them all in one Python process): heavy jobs take
turns through a semaphore, so one visitor's deep network cannot stall everybody's page.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from ..errors import Stopped

MAX_JOBS = max(1, int(os.environ.get("RESNET_EXPLAIN_MAX_JOBS", "1")))


JOB_WAIT_SECONDS = float(os.environ.get("RESNET_EXPLAIN_JOB_WAIT", "120"))


@st.cache_resource(show_spinner=False)  # a job's thread calls it: it must not draw anything
def _job_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(MAX_JOBS)


class ServerBusy(RuntimeError):
    pass


@contextmanager
def compute_slot():
    """Hold a compute slot for the duration (used *inside* cached functions, so a cache hit never
    waits). No streamlit calls here: cached functions replay their elements."""
    slots = _job_slots()
    if not slots.acquire(timeout=JOB_WAIT_SECONDS):
        raise ServerBusy(f"the server stayed busy for {JOB_WAIT_SECONDS:.0f} s; please try again")
    try:
        yield
    finally:
        slots.release()


@contextmanager
def queued_note(label: str):
    """Around a call that may wait for a slot: say "busy, queued" while every slot is taken."""
    note = st.empty()
    if _job_slots()._value == 0:  # peek only; the real wait happens in compute_slot
        note.info(f"The server is busy with another visitor's computation; {label} is queued…",
                  icon=":material/hourglass_top:")
    try:
        yield
    finally:
        note.empty()


ABANDON_SECONDS = 60  # a job nobody has looked at for this long (tab closed) stops itself


@dataclass
class BackgroundJob:
    """One long computation of one session, in a background thread: the thread writes, the page
    reads. ``work(job)`` gets the job itself, appends progress records to ``job.records`` and
    polls ``job.should_stop`` (the trainer's ``should_stop``); its return value is ``result``.
    Work that ends early on Stop raises :class:`resnet_explain.errors.Stopped` (then ``stopped``
    is True and ``result`` None) or returns what it finished.

    Nothing here is shared between sessions: the job lives in the session's state, and models
    it makes stay inside ``work`` unless ``work`` returns them.
    """

    work: Callable[["BackgroundJob"], Any]
    label: str = "this job"
    stop: threading.Event = field(default_factory=threading.Event)
    records: list = field(default_factory=list)
    state: str = "queued"  # queued -> running -> done
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    last_poll: float = field(default_factory=time.monotonic)
    abandoned: bool = False
    stopped: bool = False  # the work raised errors.Stopped: stopped by the user (or by nobody watching)
    collected: bool = False  # the page has taken the finished result
    meta: dict = field(default_factory=dict)  # what the page wants to remember (planned work...)

    def should_stop(self) -> bool:
        """True once Stop was pressed, or when no page has polled for ABANDON_SECONDS."""
        if self.stop.is_set():
            return True
        if time.monotonic() - self.last_poll > ABANDON_SECONDS:
            self.abandoned = True
            return True
        return False

    def poll(self) -> "BackgroundJob":
        """A page looked at the job: it is still wanted."""
        self.last_poll = time.monotonic()
        return self

    def take(self) -> Any:
        """The finished result the first time a page asks for it, else None (keep it once)."""
        if self.running or self.collected:
            return None
        self.collected = True
        return self.result

    @property
    def running(self) -> bool:
        return self.state != "done"

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - (self.started or self.created)

    def run(self) -> None:
        """The thread's body: take a compute slot (one heavy job at a time across all visitors),
        run ``work``, and keep any error as a message (the app keeps running). A queued job waits
        for its slot as long as someone watches it (its page shows "queued"); Stop, or nobody
        polling for ABANDON_SECONDS, ends the wait."""
        slots = _job_slots()
        try:
            while not slots.acquire(timeout=0.5):
                if self.should_stop():
                    return
            try:
                self.state, self.started = "running", time.monotonic()
                if not self.should_stop():
                    self.result = self.work(self)
            finally:
                slots.release()
        except Stopped:  # the one cancellation signal: stopped, not failed
            self.stopped = True
        except Exception as exc:  # shown on the page; the app keeps running
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = time.monotonic()
            self.state = "done"


def start_job(work: Callable[[BackgroundJob], Any], label: str = "this job",
              meta: dict | None = None) -> BackgroundJob:
    """Start ``work`` in a daemon thread attached to this session's script context (so it may
    read session state) and return its job; keep it in ``st.session_state`` to watch it.
    ``meta`` is kept on the job for the page (e.g. how many progress records a full run makes)."""
    job = BackgroundJob(work, label, meta=dict(meta or {}))
    th = threading.Thread(target=job.run, name=f"resnet-explain: {label}", daemon=True)
    add_script_run_ctx(th, get_script_run_ctx())
    th.start()
    return job


@st.cache_resource(show_spinner=False)
def _shared_jobs() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


def start_shared_job(key, work: Callable[[BackgroundJob], Any], label: str = "this job",
                     meta: dict | None = None) -> BackgroundJob:
    """:func:`start_job`, unless a job with the same ``key`` is already running in this process
    (another visitor asked for exactly the same work): then that job, to watch. For work whose
    result is shared anyway (kept per process or on disk by ``key``), so ten visitors asking at
    once cost one computation, not ten in a row through the compute slot. Its Stop stops it for
    every visitor watching it; each can start it again."""
    jobs, lock = _shared_jobs()
    with lock:
        for k in [k for k, j in jobs.items() if not j.running]:
            del jobs[k]
        job = jobs.get(key)
        if job is None:
            job = jobs[key] = start_job(work, label, meta)
        return job


def show_job(job: BackgroundJob, label: str, state: str, fraction: float, text: str,
             lines=()) -> None:
    """A job's status box: a note while it waits for a compute slot, then ``label`` with
    ``state`` ("running", "complete", "error"), a progress bar and the latest ``lines``."""
    if job.state == "queued":
        st.info(f"The server is busy with another visitor's computation; {job.label} is queued…",
                icon=":material/hourglass_top:")
    # Not a `with` block: st.status' __exit__ would mark a running status "complete" at once.
    box = st.status(label, state=state, expanded=job.running)
    box.progress(min(1.0, max(0.0, fraction)), text=text)
    for line in lines:
        box.caption(line)


def watch_job(job: BackgroundJob, render: Callable[[BackgroundJob], None], every: float = 1.0) -> None:
    """While ``job`` runs, draw ``render(job)`` again every ``every`` seconds (a fragment, so the
    rest of the page stays still). Each redraw polls the job, so it is not abandoned; once it has
    ended, the whole page reruns (buttons enabled again, final results drawn)."""

    @st.fragment(run_every=every)
    def panel() -> None:
        job.poll()
        render(job)
        if not job.running:
            st.rerun()

    panel()
