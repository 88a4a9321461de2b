"""The Architectures page's training section: what is not stored yet, its estimate (this host's
one measurement, :func:`.long_job.host_speed`), the host's cap, Train / Stop and the job's status.
The numbers come from :mod:`resnet_explain.experiments.architectures`; here they are only laid out."""

from __future__ import annotations

import streamlit as st

from ..content.job_status import count_progress, job_status
from ..content.refusal import estimate_basis
from ..errors import UserError
from ..experiments import architectures as A
from ..spec.zoo import VARIANTS
from ..train.budgets import Control
from ..train.estimate import estimate_run_seconds
from .jobs import show_job
from .long_job import LongJob, host_speed, refuse


def shrink(depth: int, names, chosen, seconds) -> list[Control]:
    """The page's two controls that shrink its work, for a refusal: a smaller **Depth (6n + 2)**,
    or fewer **Variants** (the last ones dropped); ``seconds(depth, names)`` prices each."""
    smaller = [d for d in A.DEPTHS[::-1] if d < depth]
    fewer = [list(names[:k]) for k in range(len(names) - 1, 0, -1)]
    return [Control("Depth (6n + 2)", smaller, lambda d: seconds(d, chosen)),
            Control("Variants", fewer, lambda v: seconds(depth, [n for n in chosen if n in v]),
                    lambda v: ", ".join(v))]


def _train_status(j) -> None:
    recs, n = list(j.records), j.meta["epochs"]
    last = recs[-1] if recs else None
    now = (f"{last['variant']}: epoch {last['epoch']}, training error {last['train_error']:.1%}"
           if last else "starting…")
    label, state = job_status(state=j.state, elapsed=j.elapsed, error=j.error, stopping=j.stop.is_set(),
                              abandoned=j.abandoned, finished=not (j.stop.is_set() or j.abandoned),
                              running="Training", done="Done",
                              stopping_text="Stopping at the next training step…")
    show_job(j, label, state, *count_progress(len(recs), n, "epochs", after=(now,)))


TRAINING = LongJob("ar_train", "the training runs", _train_status, start_label="Train",
                   start_key="ar_train", stop_help="A stopped run is not stored.")


def training_section(depth: int, names, seed: int, store, device) -> None:
    """Plan, estimate, Train / Stop and the status of the training job, under its subheader."""
    st.subheader("Training results")
    training = TRAINING.running
    price = lambda r: estimate_run_seconds(r, host_speed(device.type))  # timed only when needed

    def seconds(d, chosen) -> float:
        return sum(p.estimate for p in A.plan_training(d, chosen, seed, store, price))
    try:
        plan = [] if training else A.plan_training(depth, names, seed, store, price)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    total = sum(p.estimate for p in plan)
    if plan:
        st.caption(f"Not stored yet: {', '.join(VARIANTS[p.name].label for p in plan)} — roughly "
                   f"**{total:.0f} s** to train here with the quick budget ({estimate_basis()}).")
    refused = refuse(total, device.type, shrink(depth, names, names, seconds))
    work = lambda j: A.train_missing(plan, store, j.records.append, j.should_stop)
    TRAINING.buttons(lambda: TRAINING.start(work, meta={"runs": len(plan), "epochs": sum(
        r.request.config.epochs for r in plan)}), blocked=not plan or refused)
    TRAINING.follow()
    if not plan and not training:
        st.caption("Every chosen variant has a stored training result at this depth and seed.")
