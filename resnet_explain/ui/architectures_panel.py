"""The Architectures page's training section: what is not stored yet, its estimate (a few
training steps timed here, scaled by FLOPs), the host's cap, Train / Stop and the job's status.
The numbers come from :mod:`resnet_explain.experiments.architectures`; here they are only laid out."""

from __future__ import annotations

import streamlit as st

from ..errors import UserError
from ..experiments import architectures as A
from ..spec.zoo import VARIANTS
from ..train.budgets import cap_seconds
from ..train.estimate import estimate_run_seconds
from .jobs import compute_slot, show_job, start_job, watch_job


@st.cache_data(max_entries=64, ttl=600, show_spinner="Timing a few training steps here…")
def measured_estimate(request) -> float:
    with compute_slot():
        return estimate_run_seconds(request)


def _start_training(plan, store) -> None:
    st.session_state["ar_train_job"] = start_job(
        lambda j: A.train_missing(plan, store, j.records.append, j.should_stop), "the training runs",
        meta={"runs": len(plan), "epochs": sum(r.request.config.epochs for r in plan)})


def _train_status(j) -> None:
    recs, n = list(j.records), j.meta["epochs"]
    last = recs[-1] if recs else None
    text = (f"{last['variant']}: epoch {last['epoch']}, training error {last['train_error']:.1%}"
            if last else "starting…")
    label = (f"Failed: {j.error}" if j.error else f"Training, {j.elapsed:.0f} s" if j.running
             else f"Done in {j.elapsed:.0f} s" + (" (stopped)" if j.stop.is_set() else ""))
    show_job(j, label, "error" if j.error else "running" if j.running else "complete",
             len(recs) / max(1, n), f"{len(recs)} of {n} epochs · {text}")


def training_section(depth: int, names, seed: int, store, device) -> None:
    """Plan, estimate, Train / Stop and the status of the training job, under its subheader."""
    ss = st.session_state
    st.subheader("Training results")
    tjob = ss.get("ar_train_job")
    training = tjob is not None and tjob.running
    try:
        plan = [] if training else A.plan_training(depth, names, seed, store, reference_seconds=measured_estimate)
        cap = cap_seconds(device.type)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    total = sum(p.estimate for p in plan)
    refused = cap is not None and total > cap
    if plan:
        st.caption(f"Not stored yet: {', '.join(VARIANTS[p.name].label for p in plan)} — roughly "
                   f"**{total:.0f} s** to train here with the quick budget (a few training steps "
                   "timed just now, scaled by FLOPs).")
    if refused:
        st.warning(f"Refused: {total:.0f} s is over this host's {cap:.0f} s cap for live training on a "
                   "CPU; pick fewer variants or a smaller depth.", icon=":material/timer_off:")
    b1, b2, _ = st.columns([1, 1, 4])
    b1.button("Train", type="primary", icon=":material/play_arrow:", key="ar_train", on_click=_start_training,
              args=(plan, store), disabled=training or not plan or refused)
    b2.button("Stop", icon=":material/stop:", key="ar_train_stop", disabled=not training,
              on_click=lambda: ss["ar_train_job"].stop.set(), help="A stopped run is not stored.")
    if training:
        watch_job(tjob, _train_status)
    elif tjob is not None:
        _train_status(tjob)
    if not plan and not training:
        st.caption("Every chosen variant has a stored training result at this depth and seed.")
