"""How a background job's state reads on a page: one rule for every page that runs long work
(the Lesion Study, the learning-rate sweep, the loss landscapes). Pure: no streamlit here; the
page passes the result to ``ui.show_job``."""

from __future__ import annotations


def job_status(*, state: str, elapsed: float, error: str | None = None, stopping: bool = False,
               abandoned: bool = False, finished: bool = False, running: str = "Running",
               done: str = "Finished", got: str = "",
               stopping_text: str = "Stopping at the next step…") -> tuple[str, str]:
    """(label, status state) for ``ui.show_job``. ``state``: the job's "queued", "running" or
    "done"; ``finished``: it ended with its whole result (else it was stopped); ``running`` and
    ``done``: what the work is called while it runs and once it finished; ``got``: how far a
    stopped job came (e.g. "3 of 8 runs, "); ``stopping_text``: where Stop takes effect."""
    if error:
        return f"Failed: {error}", "error"
    if state == "done":
        if finished:
            return f"{done} in {elapsed:.0f} s", "complete"
        why = " (nobody was watching)" if abandoned else ""
        return f"Stopped{why} after {got}{elapsed:.0f} s", "complete"
    if stopping:
        return stopping_text, "running"
    if state == "queued":
        return "Queued: waiting for the server…", "running"
    return f"{running}… {elapsed:.0f} s", "running"


def count_progress(done: int, total: int, unit: str, *, before: str = "",
                   after: tuple[str, ...] = ()) -> tuple[float, str]:
    """(fraction, text) of a job that counts its work in ``unit``s, for ``ui.show_job``'s bar:
    ``before`` + "3 of 12 passes", then each of ``after`` (elapsed time, the last item) after a "·"."""
    frac = min(1.0, max(0.0, done / total)) if total else 0.0
    return frac, " · ".join([f"{before}{done} of {total} {unit}", *(a for a in after if a)])
