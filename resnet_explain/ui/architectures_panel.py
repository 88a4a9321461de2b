"""The Architectures page's two jobs. The probes: rows the view needs and this process has not
measured, run in the script when short, else in a background job that a link's view starts by
itself when it costs at most :func:`auto_probe_seconds` (so a shared ``ar_depth=32`` link shows
its table, not an empty page), and otherwise waits for **Probe them** with a sentence saying what
that button will do. The training section: what is not stored yet, its estimate (a few training
steps timed here, scaled by FLOPs), the host's cap, Train / Stop and the job's status.
The numbers come from :mod:`resnet_explain.experiments.architectures`; here they are only laid out."""

from __future__ import annotations

import os

import streamlit as st

from ..content.job_status import count_progress, job_status
from ..errors import UserError
from ..experiments import architectures as A
from ..spec.zoo import VARIANTS
from ..train.estimate import estimate_run_seconds
from .jobs import ServerBusy, compute_slot, show_job
from .long_job import LongJob, host_cap, over_cap

AUTO_PROBE_ENV = "RESNET_EXPLAIN_AUTO_PROBE_SECONDS"


def auto_probe_seconds() -> float:
    """Probes estimated at most this long start by themselves in a background job (progress and
    Stop, shared by visitors asking for the same rows): a link restores its view without a click.
    Default 90 s, about what a visitor waits for a view without asking. Measured on the 2-core
    CPU box under load (one thread): the 14 default variants at depth 8 are estimated at 40 s
    (so a link starts them); at depth 32 estimated 230 s and measured 168 s, at depth 56
    estimated 264 s — minutes of a shared CPU, so those links wait for **Probe them** and say
    what it will cost. Depth 20 is stored. ``RESNET_EXPLAIN_AUTO_PROBE_SECONDS`` overrides."""
    return float(os.environ.get(AUTO_PROBE_ENV, "90"))


@st.cache_resource(show_spinner=False)
def known() -> dict:
    """Probe rows by (spec query, seed, batch): the stored default view's, then each one this
    process computes (a row is a few numbers; a background job fills it without a script run)."""
    return dict(A.stored_probes())


@st.cache_data(max_entries=64, ttl=600, show_spinner="Timing small probes here…")
def seconds_per_flop(batch: int, name: str) -> float:
    with compute_slot():
        return A.measure_seconds_per_flop(batch, name=name)


def _probe_all(keys: dict, todo, job=None) -> None:  # in a job, the job holds the compute slot
    for i, n in enumerate(todo):
        if job is not None and job.should_stop():
            return
        known()[keys[n]] = A.probe_query(*keys[n])
        if job is not None:
            job.records.append({"done": i + 1, "total": len(todo), "variant": VARIANTS[n].label})


def _probe_status(j) -> None:
    rec = j.records[-1] if j.records else {"done": 0, "total": j.meta["n"], "variant": "…"}
    label, state = job_status(state=j.state, elapsed=j.elapsed, error=j.error, stopping=j.stop.is_set(),
                              abandoned=j.abandoned, finished=bool(j.records) and rec["done"] == rec["total"],
                              running="Probing", done="Probed")
    show_job(j, label, state, *count_progress(rec["done"], rec["total"], "probed (with twins)",
                                              after=(f"last: {rec['variant']}",)))


PROBES = LongJob("ar_probe", "the probes", _probe_status, start_label="Probe them", start_key="ar_probe")


def probe_section(keys: dict, depth: int, batch: int, settings) -> dict:
    """The probe rows of ``keys`` (variant -> probe key), measured here when missing; stops the
    page (st.stop) while a background job measures them or waits for its button."""
    missing = [n for n in keys if keys[n] not in known()]
    if not missing:
        return known()
    est = A.probe_seconds_estimate(depth, missing, batch, lambda n: seconds_per_flop(batch, n))
    if est <= A.inline_seconds():
        try:
            with st.spinner(f"Probing {len(missing)} networks and their twins (about {est:.0f} s)…"), \
                    compute_slot():
                _probe_all(keys, missing)
        except ServerBusy as exc:
            st.warning(str(exc).capitalize())
            st.stop()
        return known()
    job = PROBES.job  # after a Stop of these very rows nothing restarts by itself
    auto = est <= auto_probe_seconds() and (job is None or job.meta["keys"] != keys)
    if not PROBES.running:
        what = (f"{len(missing)} of these networks and their twins are not probed on this server yet: "
                f"about **{est:.0f} s** on {settings.detail}, at the speed of each variant's depth-8 "
                "probe timed here just now. ")
        st.caption(what + ("They are probed now, by themselves; the table and the chart appear when "
                           "they are done." if auto else
                           "**Probe them** runs one forward and backward pass of each network and its "
                           "twin here, in the background (Stop ends it); the table and the chart "
                           "appear when they are done."))
    PROBES.buttons(lambda: PROBES.start(lambda j: _probe_all(keys, missing, j), shared=(
        "architectures-probe", tuple(keys.values())), meta={"keys": keys, "n": len(missing)}),
        auto=auto)
    PROBES.follow(show=lambda j: j.meta["keys"] == keys)
    st.stop()


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
