"""Identical work asked for at once runs once (ui.jobs.start_shared_job)."""

import threading
import time

from resnet_explain.ui.jobs import start_shared_job


def test_a_second_request_for_running_work_watches_the_same_job():
    gate = threading.Event()
    calls = []

    def work(job):
        calls.append(1)
        gate.wait(10)
        return "result"

    a = start_shared_job(("k", 1), work, "test job")
    b = start_shared_job(("k", 1), work, "test job")
    other = start_shared_job(("k", 2), work, "test job")
    assert a is b and other is not a
    gate.set()
    t0 = time.monotonic()
    while (a.running or other.running) and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    assert a.result == "result" and len(calls) == 2  # key 1 once, key 2 once
    again = start_shared_job(("k", 1), lambda j: "fresh", "test job")  # finished: a new job
    assert again is not a
    t0 = time.monotonic()
    while again.running and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    assert again.result == "fresh"


def _wait(job, limit=10.0):
    t0 = time.monotonic()
    while job.running and time.monotonic() - t0 < limit:
        time.sleep(0.02)
    assert not job.running


def test_errors_stopped_reads_as_stopped_and_anything_else_as_a_failure():
    from resnet_explain.errors import Stopped
    from resnet_explain.ui.jobs import start_job

    def stops(job):
        raise Stopped()

    def fails(job):
        raise ValueError("bad")

    stopped, failed = start_job(stops, "test job"), start_job(fails, "test job")
    _wait(stopped)
    _wait(failed)
    assert stopped.stopped and stopped.error is None and stopped.result is None
    assert not failed.stopped and failed.error == "ValueError: bad"
    assert stopped.take() is None and stopped.collected  # taken once, nothing to keep


def test_one_refusal_rule_for_every_long_page(monkeypatch):
    from resnet_explain.ui.long_job import host_cap, over_cap

    assert over_cap(121.0, 120.0) and not over_cap(120.0, 120.0) and not over_cap(1e9, None)
    monkeypatch.setenv("RESNET_EXPLAIN_MAX_TRAIN_SECONDS", "30")
    assert host_cap("cpu") == 30.0 and host_cap("cuda") is None
    monkeypatch.setenv("RESNET_EXPLAIN_MAX_TRAIN_SECONDS", "off")
    assert host_cap("cpu") is None
