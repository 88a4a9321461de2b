"""Background warm-up: once per server process, open every page's default view (and the workshop
acts' links) in a headless session of this same server while nobody is waiting, so the first
visitor of a page finds its results in the caches.

Why a headless session and not a list of cached calls: a page's cached functions are keyed by
their module, name, source and arguments, and most pages define theirs in the page file. Running
the page itself — app.py, the sidebar, the page, exactly as a browser's first visit runs them —
fills exactly the entries a visitor's first visit asks for, and stays right when a page changes.
The session is Streamlit's own (``Runtime.connect_session``, the way its agent API runs pages
without a browser), marked non-resumable so no browser can take it over, and closed after each page.

Polite on a shared 2-vCPU box:
- it starts a page only when no visitor's script is running or has ended in the last
  ``QUIET_SECONDS``, and the compute slot (:func:`.jobs.compute_slot`) is free;
- when a visitor's script starts while a page is warming, that page's run is stopped (at its next
  Streamlit call: a computation already running finishes, and its result stays cached) and the
  page is tried again later;
- the computations take the compute slot inside the pages' cached functions, like any visitor's;
- work that must run on an idle server (timing this host for every estimate,
  :func:`.long_job.host_speed`) holds it back (:data:`HOLD`): the page it is warming yields, and
  no page starts until the hold ends.

``RESNET_EXPLAIN_WARMUP``: ``on`` (default), ``off``, or a comma-separated list of url paths
(``vanishing,lesion``) to warm only those pages' default views.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

import streamlit as st
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.session_manager import SessionClient

from ..content.story import STEPS, talk
from .jobs import MAX_JOBS, _job_slots

ENV = "RESNET_EXPLAIN_WARMUP"
QUIET_SECONDS = 2.0  # a visitor's script ended at least this long ago
VISIT_LIMIT = 600.0  # a page still running after this long is stopped and left cold
MAX_TRIES = 5  # a page interrupted by visitors this often is left cold
LOG_PREFIX = "resnet-explain warm-up:"


def setting(env=None) -> tuple[str, ...] | None:
    """None when the warm-up is off; () for every page; else the url paths to warm."""
    raw = (os.environ if env is None else env).get(ENV, "on").strip().lower()
    if raw in {"off", "0", "false", "no", "none"}:
        return None
    if raw in {"", "on", "1", "true", "yes", "all"}:
        return ()
    return tuple(p.strip().strip("/") for p in raw.split(",") if p.strip())


def targets(only: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(url path, query string) to open: every step's default view in story order, then the
    workshop acts' links (the presenter's URLs); ``only`` keeps those pages."""
    by_file = {s.file: s.url_path for s in STEPS}
    out = [(s.url_path, "") for s in STEPS]
    out += [(by_file[a.file], urlencode(a.query)) for a in talk() if a.file in by_file]
    out = list(dict.fromkeys(out))  # each (page, query) once, first place kept
    return [t for t in out if not only or t[0] in only]


# ---------------------------------------------------------------------------------------------
# Visitors' script runs (the warm-up's own sessions are not visitors)
# ---------------------------------------------------------------------------------------------
class Activity:
    """How many visitors' script runs are in progress, and when the last one ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.last_end = float("-inf")
        self.own_sessions: set[str] = set()

    @contextmanager
    def run(self, session_id: str | None):
        if session_id in self.own_sessions:
            yield
            return
        with self._lock:
            self.running += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
                self.last_end = time.monotonic()

    def busy(self, quiet: float = QUIET_SECONDS) -> bool:
        return self.running > 0 or time.monotonic() - self.last_end < quiet


ACTIVITY = Activity()  # one per process, like the server's sessions


class Hold:
    """Work that must see an idle server asks the warm-up to step aside: while anyone holds, the
    warm-up starts no page and the page it is warming yields; :meth:`held` returns once that page
    has stopped (or after ``wait`` seconds: a page run by the warm-up may itself be the holder)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.holders = 0
        self.visiting = False

    @property
    def on(self) -> bool:
        return self.holders > 0

    @contextmanager
    def visit(self):
        """Around one page the warm-up opens."""
        with self._cond:
            self.visiting = True
        try:
            yield
        finally:
            with self._cond:
                self.visiting = False
                self._cond.notify_all()

    @contextmanager
    def held(self, wait: float = 10.0):
        with self._cond:
            self.holders += 1
            self._cond.wait_for(lambda: not self.visiting, timeout=wait)
        try:
            yield
        finally:
            with self._cond:
                self.holders -= 1


HOLD = Hold()  # one per process, like ACTIVITY


@contextmanager
def visitor_run():
    """Around a visitor's page run (app.py): the warm-up holds back while it runs."""
    ctx = get_script_run_ctx()
    with ACTIVITY.run(ctx.session_id if ctx else None):
        yield


def slot_free() -> bool:
    """Every compute slot free (a peek, as :func:`.jobs.queued_note` does)."""
    return _job_slots()._value >= MAX_JOBS


# ---------------------------------------------------------------------------------------------
# The warm-up loop (pure: what to open, when; ``visit`` does the opening)
# ---------------------------------------------------------------------------------------------
@dataclass
class Warmup:
    """Open each target once, one at a time, only while the server is idle.

    ``visit(path, query, should_yield)`` runs one page and returns "finished", "yielded" (it
    stopped because ``should_yield()`` became true), "timeout" or "error: ...".
    """

    targets: list[tuple[str, str]]
    visit: Callable[[str, str, Callable[[], bool]], str]
    busy: Callable[[float], bool] = ACTIVITY.busy  # busy(quiet seconds)
    slot_free: Callable[[], bool] = slot_free
    hold: Hold = HOLD
    poll: float = 0.2
    log: Callable[[str], None] = lambda line: print(f"{LOG_PREFIX} {line}", file=sys.stderr, flush=True)
    done: list = field(default_factory=list)  # (path, query, status, seconds)
    state: str = "waiting"  # waiting -> running -> done
    seconds: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def idle(self) -> bool:
        return not self.busy(QUIET_SECONDS) and self.slot_free() and not self.hold.on

    def wait_idle(self) -> bool:
        """Block until the server is idle (True) or the warm-up was stopped (False)."""
        while not self.stop.is_set():
            if self.idle():
                return True
            self.stop.wait(self.poll)
        return False

    def _should_yield(self) -> bool:
        return self.busy(0.0) or self.hold.on or self.stop.is_set()

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            for path, query in self.targets:
                status, secs = "not run", 0.0
                for _ in range(MAX_TRIES):
                    if not self.wait_idle():
                        return
                    self.state = "running"
                    t = time.monotonic()
                    with self.hold.visit():
                        status = self.visit(path, query, self._should_yield)
                    secs = time.monotonic() - t
                    if status != "yielded":
                        break
                self.done.append((path, query, status, secs))
                self.log(f"/{path}{'?' + query if query else ''} {status} in {secs:.1f} s")
        except Exception as exc:  # never take the server down; say why it stopped
            self.log(f"stopped: {type(exc).__name__}: {exc}")
        finally:
            self.state, self.seconds = "done", time.monotonic() - t0
            self.log(f"done, {sum(d[2] == 'finished' for d in self.done)} of {len(self.targets)} "
                     f"views warm in {self.seconds:.1f} s")


# ---------------------------------------------------------------------------------------------
# One page in a headless session of this server
# ---------------------------------------------------------------------------------------------
def _finished_statuses():
    return {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


class _Client:
    """A session client that keeps nothing: it notes when a full run ended and any exception."""

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.errors: list[str] = []
        self._done = _finished_statuses()

    def write_forward_msg(self, msg) -> None:  # called on the event loop: must never raise
        try:
            kind = msg.WhichOneof("type")
            if kind == "script_finished" and msg.script_finished in self._done:
                self.finished.set()
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element" \
                    and msg.delta.new_element.WhichOneof("type") == "exception":
                self.errors.append(msg.delta.new_element.exception.message[:200])
        except Exception:
            pass

    @property
    def client_context(self):
        return None


def _on_loop(runtime, fn, timeout: float = 30.0):
    """Call ``fn`` on the runtime's event loop thread (session calls must run there)."""
    fut: concurrent.futures.Future = concurrent.futures.Future()

    def call():
        try:
            fut.set_result(fn())
        except BaseException as exc:  # handed back to the warm-up thread
            fut.set_exception(exc)

    runtime._get_async_objs().eventloop.call_soon_threadsafe(call)
    return fut.result(timeout)


def session_visit(runtime, activity: Activity = ACTIVITY, limit: float = VISIT_LIMIT):
    """A ``visit`` for :class:`Warmup` that runs the page in a headless session of ``runtime``."""
    client_cls = type("WarmupClient", (_Client, SessionClient), {})

    def visit(path: str, query: str, should_yield: Callable[[], bool]) -> str:
        client = client_cls()
        sid = _on_loop(runtime, lambda: runtime.connect_session(client=client, user_info={}))
        activity.own_sessions.add(sid)
        try:
            runtime.mark_session_nonresumable(sid)
            session = runtime.get_app_session(sid)
            if session is None:
                return "error: the session closed at once"
            _on_loop(runtime, lambda: session.set_run_on_save(False))
            state = ClientState(query_string=query, page_name=path)
            _on_loop(runtime, lambda: session.request_rerun(state))
            t0 = time.monotonic()
            while not client.finished.wait(0.1):
                if should_yield():
                    return "yielded"
                if time.monotonic() - t0 > limit:
                    return "timeout"
            return f"error: {client.errors[0]}" if client.errors else "finished"
        finally:
            try:  # stops the run if it is still going (at its next Streamlit call)
                _on_loop(runtime, lambda: runtime.close_session(sid))
            finally:
                activity.own_sessions.discard(sid)

    return visit


def _server_runtime():
    """The real server's Runtime, or None (bare mode, or AppTest's stand-in)."""
    if not Runtime.exists():
        return None
    rt = Runtime.instance()
    return rt if type(rt) is Runtime else None


@st.cache_resource(show_spinner=False)
def _start_once(only: tuple[str, ...]) -> Warmup | None:
    runtime = _server_runtime()
    if runtime is None:
        return None
    w = Warmup(targets(only), session_visit(runtime))
    threading.Thread(target=w.run, name="resnet-explain: warm-up", daemon=True).start()
    return w


def start() -> Warmup | None:
    """Start the warm-up once per server process (app.py calls this on every run; it never
    waits). None when it is off, or outside a real server (AppTest, bare mode)."""
    only = setting()
    return None if only is None else _start_once(only)
