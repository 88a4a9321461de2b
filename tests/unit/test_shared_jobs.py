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
