"""The background warm-up (issue 16): switchable off, once per process, holds back for visitors and
for the compute slot, yields a page when a visitor starts, and warms through real headless sessions
of a real server."""

import threading
import time

import pytest

from resnet_explain.content.story import STEPS, talk
from resnet_explain.ui import warmup


@pytest.mark.parametrize("raw, expected", [
    (None, ()), ("on", ()), ("", ()), ("ON", ()), ("off", None), ("0", None), ("false", None),
    ("vanishing, /lesion", ("vanishing", "lesion")),
])
def test_setting_reads_the_env_var(raw, expected):
    env = {} if raw is None else {warmup.ENV: raw}
    assert warmup.setting(env) == expected


def test_start_does_nothing_when_off_or_outside_a_server(monkeypatch):
    monkeypatch.setenv(warmup.ENV, "off")
    assert warmup.start() is None
    monkeypatch.setenv(warmup.ENV, "on")
    assert warmup.start() is None  # no real Runtime here (bare mode, as under AppTest)


def test_targets_are_every_default_view_in_story_order_then_the_acts():
    t = warmup.targets()
    assert t[:len(STEPS)] == [(s.url_path, "") for s in STEPS]
    assert len(t) == len(set(t))
    acts = t[len(STEPS):]
    assert acts and all(q for _, q in acts)  # each act opens with its URL state
    assert {p for p, _ in acts} <= {s.url_path for s in STEPS}
    assert len(acts) == len({(a.file, a.query) for a in talk()})
    assert warmup.targets(("lesion",)) == [("lesion", "")]


class Recorder:
    def __init__(self, results=None):
        self.calls, self.results = [], list(results or [])

    def __call__(self, path, query, should_yield):
        self.calls.append((path, query, time.monotonic()))
        return self.results.pop(0) if self.results else "finished"


def _run(w):
    th = threading.Thread(target=w.run, daemon=True)
    th.start()
    return th


def test_it_waits_for_the_compute_slot():
    slot = threading.BoundedSemaphore(1)
    visit = Recorder()
    w = warmup.Warmup([("vanishing", "")], visit, busy=lambda quiet: False,
                      slot_free=lambda: slot._value >= 1, poll=0.01, log=lambda line: None)
    slot.acquire()  # a visitor's computation holds the slot
    th = _run(w)
    time.sleep(0.3)
    assert visit.calls == [] and w.state == "waiting"
    released = time.monotonic()
    slot.release()
    th.join(5)
    assert [c[:2] for c in visit.calls] == [("vanishing", "")] and visit.calls[0][2] >= released
    assert w.state == "done" and w.done[0][2] == "finished"


def test_it_holds_back_while_a_visitor_runs_and_never_counts_its_own_sessions():
    act = warmup.Activity()
    visit = Recorder()
    w = warmup.Warmup([("highway", "")], visit, busy=lambda quiet: act.busy(min(quiet, 0.05)),
                      slot_free=lambda: True, poll=0.01, log=lambda line: None)
    act.own_sessions.add("warm")
    with act.run("warm"):  # the warm-up's own page run is not a visitor
        assert not act.busy(0)
    with act.run("visitor"):
        th = _run(w)
        time.sleep(0.3)
        assert visit.calls == []
    th.join(5)
    assert len(visit.calls) == 1


def test_a_page_yields_to_a_visitor_and_is_warmed_again_later():
    act = warmup.Activity()
    seen = []

    def visit(path, query, should_yield):
        seen.append(path)
        if len(seen) == 1:  # a visitor's script starts while the first try runs
            with act.run("visitor"):
                assert should_yield()
                return "yielded"
        assert not should_yield()
        return "finished"

    lines = []
    w = warmup.Warmup([("lesion", "")], visit, busy=lambda quiet: act.busy(min(quiet, 0.05)),
                      slot_free=lambda: True, poll=0.01, log=lines.append)
    w.run()
    assert seen == ["lesion", "lesion"]
    assert w.done == [("lesion", "", "finished", pytest.approx(w.done[0][3]))]
    assert lines[-1].startswith("done, 1 of 1 views warm")


def test_a_failing_visit_stops_the_warmup_without_raising():
    def visit(path, query, should_yield):
        raise RuntimeError("boom")

    lines = []
    w = warmup.Warmup([("a", ""), ("b", "")], visit, busy=lambda quiet: False,
                      slot_free=lambda: True, poll=0.01, log=lines.append)
    w.run()
    assert w.state == "done" and any("RuntimeError: boom" in line for line in lines)


def test_the_app_under_apptest_starts_no_warmup_thread(monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(warmup.ENV, "on")  # even when asked: AppTest has no real server to warm
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert not [t for t in threading.enumerate() if t.name == "resnet-explain: warm-up"]
    assert warmup.ACTIVITY.running == 0  # the run was counted and ended


def test_timing_the_host_holds_the_warmup_back_and_waits_for_its_page_to_yield():
    """Issue 24: the estimate was timed while the warm-up ran. A holder (the host's one timing)
    stops the page being warmed, waits until it has stopped, and no page starts while it holds."""
    hold = warmup.Hold()
    events = []
    visiting = threading.Event()

    def visit(path, query, should_yield):
        events.append(f"open {path}")
        if visiting.is_set():  # the second try, after the hold: it finishes
            return "finished"
        visiting.set()
        while not should_yield():
            time.sleep(0.01)
        time.sleep(0.1)  # the page takes a moment to stop
        events.append(f"yielded {path}")
        return "yielded"

    w = warmup.Warmup([("your-network", "")], visit, busy=lambda quiet: False, slot_free=lambda: True,
                      hold=hold, poll=0.01, log=lambda line: None)
    th = _run(w)
    assert visiting.wait(5)
    with hold.held(wait=5):
        events.append("timing")  # the warm-up's page has stopped before this
        time.sleep(0.3)
        events.append("timed")
    th.join(5)
    assert events == ["open your-network", "yielded your-network", "timing", "timed", "open your-network"]
    assert not th.is_alive() and w.done[0][2] == "finished" and not hold.on  # tried again after the hold
