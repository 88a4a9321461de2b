"""One reading of a background job's state for every page (resnet_explain/content/job_status.py)."""

from resnet_explain.content.job_status import job_status


def test_each_state_reads_one_way():
    assert job_status(state="queued", elapsed=1) == ("Queued: waiting for the server…", "running")
    assert job_status(state="running", elapsed=3.2, running="Sweeping") == ("Sweeping… 3 s", "running")
    assert job_status(state="running", elapsed=3, stopping=True, stopping_text="Stopping now…") == (
        "Stopping now…", "running")
    assert job_status(state="done", elapsed=9, finished=True, done="Finished: 4 runs") == (
        "Finished: 4 runs in 9 s", "complete")
    assert job_status(state="done", elapsed=9, got="2 of 4 runs, ") == ("Stopped after 2 of 4 runs, 9 s", "complete")
    assert job_status(state="done", elapsed=9, abandoned=True)[0] == "Stopped (nobody was watching) after 9 s"
    assert job_status(state="done", elapsed=9, error="ServerBusy: busy", finished=True) == (
        "Failed: ServerBusy: busy", "error")


def test_counted_progress_is_one_text():
    from resnet_explain.content.job_status import count_progress

    assert count_progress(3, 12, "passes", before="plain-8: ", after=("4 s", "")) == (
        0.25, "plain-8: 3 of 12 passes · 4 s")
    assert count_progress(5, 4, "epochs")[0] == 1.0 and count_progress(0, 0, "runs") == (0.0, "0 of 0 runs")
