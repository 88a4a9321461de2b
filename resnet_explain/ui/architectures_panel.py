"""The Architectures page's two jobs. The probes: rows the view needs and this process has not
measured, run in the script when short, else in a background job that a link's view starts by
itself when it costs at most :func:`auto_probe_seconds` (so a shared ``ar_depth=32`` link shows
its table, not an empty page), and otherwise waits for **Probe them** with a sentence saying what
that button will do. The training section: what is not stored yet, its estimate (this host's one
measurement, :func:`.long_job.host_speed`), the host's cap, Train / Stop and the job's status.
The numbers come from :mod:`resnet_explain.experiments.architectures`; here they are only laid out."""

from __future__ import annotations

import os

import streamlit as st

from ..content.job_status import count_progress, job_status
from ..content.refusal import estimate_basis
from ..errors import UserError
from ..experiments import architectures as A
from ..spec.zoo import VARIANTS
from ..train.budgets import Control
from ..train.estimate import estimate_run_seconds
from .jobs import ServerBusy, compute_slot, show_job
from .long_job import LongJob, host_speed, refuse

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


def probe_section(keys: dict, depth: int, batch: int, settings, device_type: str, names) -> dict:
    """The probe rows of ``keys`` (variant -> probe key), measured here when missing; stops the
    page (st.stop) while a background job measures them or waits for its button (or is refused by
    the host's cap, naming the control that fixes it)."""
    missing = [n for n in keys if keys[n] not in known()]
    if not missing:
        return known()
    speed = host_speed(device_type)
    est = A.probe_seconds_estimate(depth, missing, batch, speed)
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
                f"about **{est:.0f} s** on {settings.detail} ({estimate_basis()}). ")
        st.caption(what + ("They are probed now, by themselves; the table and the chart appear when "
                           "they are done." if auto else
                           "**Probe them** runs one forward and backward pass of each network and its "
                           "twin here, in the background (Stop ends it); the table and the chart "
                           "appear when they are done."))
    refused = refuse(est, device_type, shrink(depth, names, missing, lambda d, m: (
        A.probe_seconds_estimate(d, m, batch, speed))))
    PROBES.buttons(lambda: PROBES.start(lambda j: _probe_all(keys, missing, j), shared=(
        "architectures-probe", tuple(keys.values())), meta={"keys": keys, "n": len(missing)}),
        auto=auto, blocked=refused)
    PROBES.follow(show=lambda j: j.meta["keys"] == keys)
    st.stop()


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
