"""The Architectures page's training section: what is not stored yet, its estimate (a few
training steps timed here, scaled by FLOPs), the host's cap, Train / Stop and the job's status.
The numbers come from :mod:`resnet_explain.experiments.architectures`; here they are only laid out."""

from __future__ import annotations

import streamlit as st

from ..content.job_status import count_progress, job_status
from ..errors import UserError
from ..experiments import architectures as A
from ..spec.zoo import VARIANTS
from ..train.estimate import estimate_run_seconds
from .jobs import compute_slot, show_job
from .long_job import LongJob, host_cap, over_cap


@st.cache_data(max_entries=64, ttl=600, show_spinner="Timing a few training steps here…")
def measured_estimate(request) -> float:
    with compute_slot():
        return estimate_run_seconds(request)


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
    try:
        plan = [] if training else A.plan_training(depth, names, seed, store, reference_seconds=measured_estimate)
        cap = host_cap(device.type)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    total = sum(p.estimate for p in plan)
    if plan:
        st.caption(f"Not stored yet: {', '.join(VARIANTS[p.name].label for p in plan)} — roughly "
                   f"**{total:.0f} s** to train here with the quick budget (a few training steps "
                   "timed just now, scaled by FLOPs).")
    if refused := over_cap(total, cap):
        st.warning(f"Refused: {total:.0f} s is over this host's {cap:.0f} s cap for live training on a "
                   "CPU; pick fewer variants or a smaller depth.", icon=":material/timer_off:")
    work = lambda j: A.train_missing(plan, store, j.records.append, j.should_stop)
    TRAINING.buttons(lambda: TRAINING.start(work, meta={"runs": len(plan), "epochs": sum(
        r.request.config.epochs for r in plan)}), blocked=not plan or refused)
    TRAINING.follow()
    if not plan and not training:
        st.caption("Every chosen variant has a stored training result at this depth and seed.")
