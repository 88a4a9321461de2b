"""Training: He et al.'s degradation experiment. Stored runs at once, live runs on demand.

A live run trains in a background thread of this session (never shared, models dropped at the
end): the script stays free, so the Stop button's callback can set the run's threading.Event,
which the trainer polls (``should_stop``) before every step. A fragment re-renders the progress
once a second while the run lasts, then reruns the page to show the final table.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from resnet_explain.charts import training as ct
from resnet_explain import ui
from resnet_explain.data import make_shapes
from resnet_explain.train import EXPERIMENTS, Experiment, run_degradation
from resnet_explain.train.degradation import check_hypothesis, summarise

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "assets" / "degradation"
PRESET = EXPERIMENTS["cpu-live"]
DEPTH_CHOICES = (8, 14, 20, 32, 44, 56)  # He et al.'s CIFAR nets have depth 6n + 2
MAX_LIVE_SECONDS = 300  # estimated, on a CPU: a shared 2-vCPU server must not be held longer
ABANDON_SECONDS = 60  # a run nobody has looked at for this long (tab closed) stops itself
MAX_KEPT_RUNS = 5

settings = ui.settings()
seed = settings["seed"]
device = settings["device"]
H = 1.35 if settings["presenter"] else 1.0


# ---- stored runs ---------------------------------------------------------------------------------
@st.cache_data(show_spinner=False)
def stored() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per-epoch curves, per-run results, meta) of the stored CPU-budget experiment."""
    curves = pd.read_csv(STORED / "curves.csv")
    runs = pd.read_csv(STORED / "runs.csv")
    meta = json.loads((STORED / "results.json").read_text())["meta"]
    return curves, runs, meta


@st.cache_data(show_spinner=False)
def chance_error(size: int) -> float:
    """1 - 1/classes of the generated data set the experiments train on."""
    return 1.0 - 1.0 / len(make_shapes(10, size=size).classes)


def estimate_seconds(exp: Experiment, archs, runs: pd.DataFrame) -> float:
    """Rough training time on a CPU: seconds per image per epoch, linear in depth, fitted to the
    stored runs' measured throughput (1 thread, batch 64), times the images and epochs asked."""
    per = runs.groupby("depth")["images_per_s"].mean()
    d0, d1 = float(per.index.min()), float(per.index.max())
    t0, t1 = 1.0 / per.loc[d0], 1.0 / per.loc[d1]
    slope = (t1 - t0) / (d1 - d0) if d1 > d0 else t0 / d0
    total = 0.0
    for d in exp.depths:
        t = max(t0 + slope * (d - d0), 1e-6)
        total += len(archs) * len(exp.seeds) * exp.n_train * exp.train.epochs * t
    return total


def he_and_verdicts(table: pd.DataFrame, n_seeds: int, source: str | None = None):
    return ct.he_table(table, source), ct.verdicts(check_hypothesis(table), n_seeds)


def chance_note(table: pd.DataFrame) -> None:
    """Say which networks ended at or near chance: they have not learned at this budget."""
    near = table[table["train_error"] >= chance - 0.05]
    if len(near):
        names_near = ", ".join(f"{a}-{d}" for a, d in zip(near["arch"], near["depth"]))
        st.warning(f"Within 5 points of chance ({chance:.0%} error) at the end: {names_near}. A "
                   "network there has barely learned at this budget — a stronger failure than He "
                   "et al.'s plain-56, which trains, only worse than plain-20 (fig. 6). A claim "
                   "comparing two such networks says nothing.", icon=":material/warning:")


def show_verdicts(vs: list[dict]) -> None:
    for v in vs:
        icon = ":material/check_circle:" if v["holds"] else ":material/cancel:"
        st.markdown(f"{icon} *{v['claim']}* — **{v['verdict']}**: {v['measured']}.")
    st.markdown(ct.hypothesis_sentence(vs))


curves_s, runs_s, meta_s = stored()
chance = chance_error(int(meta_s["size"]))

st.title("Training: does depth help?")
st.markdown(
    "He et al. (2015, arXiv 1512.03385, sec. 4.2, fig. 6) trained *plain* networks of 20 and 56 "
    "layers on CIFAR-10: the deeper one had the **higher training error** — not overfitting, an "
    "optimisation difficulty they called *degradation*. With identity shortcuts the 56-layer "
    "ResNet trained at least as well as the 20-layer one. Here the same comparison runs on our "
    "generated shapes with one budget for every network, and the page checks, from the numbers, "
    "whether the data agree."
)
st.info(
    "**Hypothesis (He et al. 2015, table 6 and fig. 6):** (1) plain-56 has a higher training "
    "error than plain-20; (2) ResNet-56's training error is at most ResNet-20's; (3) ResNet-56's "
    "is below plain-56's.", icon=":material/science:")

# ---- 1. stored ----------------------------------------------------------------------------------
st.header("1 · Stored runs")
tc = meta_s["train_config"]
st.caption(
    f"**{meta_s['label']}** — {meta_s['note']}. {meta_s['n_train']:,} training / "
    f"{meta_s['n_test']:,} test images, {meta_s['size']}×{meta_s['size']} px, first-stage width "
    f"{meta_s['width']} (He et al.: 16), {meta_s['epochs']} epochs, batch {tc['batch_size']}, "
    f"{tc['schedule']} lr (peak {tc['lr']}), seeds {', '.join(map(str, meta_s['seeds']))}. "
    f"Ran on {meta_s['detail']} ({meta_s['torch']}) in {meta_s['wall_seconds']:.0f} s "
    f"(`{meta_s['made_by']}`; see assets/degradation/README.md).")
long_s = ct.curves_long(curves_s)
c1, c2 = st.columns(2)
with c1:
    ui.chart_with_export(ct.error_curves_chart(long_s, "training error", chance, int(300 * H),
                                               "training error per epoch"),
                         long_s, "stored_training_error", "tr_s_train")
with c2:
    ui.chart_with_export(ct.error_curves_chart(long_s, "test error", chance, int(300 * H),
                                               "test error per epoch"),
                         long_s, "stored_test_error", "tr_s_test")
n_seeds_s = len(meta_s["seeds"])
st.caption(f"Lines: mean over {n_seeds_s} seeds; bands: lowest to highest seed; dotted: chance "
           f"({chance:.0%} error, {1 / (1 - chance):.0f} classes). The per-epoch "
           "training error is the running error of each epoch's own mini-batches in train mode "
           "(as He et al.'s curves); the table's is measured afterwards in eval mode on the whole "
           "training set.")
table_s = summarise(runs_s)
he_s, v_s = he_and_verdicts(table_s, n_seeds_s)
st.subheader(f"Final errors (mean ± std over {n_seeds_s} seeds), shaped like He et al.'s table 6")
st.dataframe(he_s, hide_index=True, width="stretch")
show_verdicts(v_s)
chance_note(table_s)

# ---- 2. live ------------------------------------------------------------------------------------
st.header("2 · Run it live")


@dataclass
class LiveJob:
    """One live experiment of this session; the thread writes, the page reads."""
    exp: Experiment
    archs: tuple
    stop: threading.Event = field(default_factory=threading.Event)
    records: list = field(default_factory=list)
    state: str = "queued"  # queued -> running -> done
    result: object = None
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    last_poll: float = field(default_factory=time.monotonic)
    abandoned: bool = False
    collected: bool = False

    def should_stop(self) -> bool:
        if self.stop.is_set():
            return True
        if time.monotonic() - self.last_poll > ABANDON_SECONDS:
            self.abandoned = True
            return True
        return False

    @property
    def planned_epochs(self) -> int:
        return len(self.archs) * len(self.exp.depths) * len(self.exp.seeds) * self.exp.train.epochs


def _work(job: LiveJob) -> None:
    try:
        with ui.compute_slot():  # one heavy job at a time across all visitors
            job.state, job.started = "running", time.monotonic()
            if not job.should_stop():
                job.result = run_degradation(job.exp, progress=job.records.append,
                                             should_stop=job.should_stop, archs=job.archs)
    except ui.ServerBusy as exc:
        job.error = str(exc).capitalize()
    except Exception as exc:  # shown on the page; the app keeps running
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.monotonic()
        job.state = "done"


DEFAULTS = {"tr_depths": list(PRESET.depths), "tr_archs": ["plain", "residual"],
            "tr_epochs": PRESET.train.epochs, "tr_ntrain": PRESET.n_train, "tr_ntest": PRESET.n_test}
for k, v in DEFAULTS.items():
    st.session_state.setdefault(k, v)


def _reset():
    for k, v in DEFAULTS.items():
        st.session_state[k] = v


def _experiment() -> Experiment:
    ss = st.session_state
    return PRESET.with_(depths=tuple(sorted(ss["tr_depths"])), seeds=(seed,), data_seed=seed,
                        epochs=int(ss["tr_epochs"]), n_train=int(ss["tr_ntrain"]),
                        n_test=int(ss["tr_ntest"]), device=device.type)


def _start():
    exp = _experiment()
    archs = tuple(a for a in ("plain", "residual") if a in st.session_state["tr_archs"])
    job = LiveJob(exp, archs)
    st.session_state["tr_job"] = job
    th = threading.Thread(target=_work, args=(job,), name="resnet-explain-train", daemon=True)
    add_script_run_ctx(th, get_script_run_ctx())
    th.start()


def _stop():
    job = st.session_state.get("tr_job")
    if job is not None:
        job.stop.set()


job = st.session_state.get("tr_job")
running = job is not None and job.state != "done"

pc = PRESET.train
st.caption(
    f"Default budget: the **`{PRESET.name}` preset** — {PRESET.label}: {PRESET.n_train:,} training / "
    f"{PRESET.n_test:,} test images, {PRESET.size}×{PRESET.size} px, first-stage width "
    f"{PRESET.width}, {pc.epochs} epochs, batch {pc.batch_size}, {pc.schedule} lr (peak {pc.lr}), "
    f"one seed (the sidebar's: {seed}, for the weights, the batch order and the data); "
    f"{PRESET.note}.")
c1, c2, c3 = st.columns([2, 2, 1])
c1.multiselect("Depths", DEPTH_CHOICES, key="tr_depths", disabled=running,
               help="He et al.'s CIFAR networks: 3 stages of (depth - 2) / 6 basic blocks each.")
c2.multiselect("Architectures", ["plain", "residual"], key="tr_archs", disabled=running,
               help="residual: identity shortcuts (option A); plain: the same network without them.")
c3.number_input("Epochs", 1, 30, key="tr_epochs", disabled=running)
c4, c5, c6 = st.columns([2, 2, 1], vertical_alignment="bottom")
c4.number_input("Training images", 32, 5000, step=250, key="tr_ntrain", disabled=running)
c5.number_input("Test images", 32, 2000, step=250, key="tr_ntest", disabled=running)
c6.button("Reset to preset", on_click=_reset, disabled=running, key="tr_reset")

problems = []
if not st.session_state["tr_depths"]:
    problems.append("choose at least one depth")
if not st.session_state["tr_archs"]:
    problems.append("choose at least one architecture")
exp_now = _experiment() if not problems else None
archs_now = tuple(a for a in ("plain", "residual") if a in st.session_state["tr_archs"])
est = estimate_seconds(exp_now, archs_now, runs_s) if exp_now else 0.0
if exp_now and device.type == "cpu" and est > MAX_LIVE_SECONDS:
    problems.append(f"this budget would take roughly {est:.0f} s on a CPU, over this page's limit of "
                    f"{MAX_LIVE_SECONDS} s: use fewer images, epochs or depths")
if exp_now and not problems:
    n_runs = len(archs_now) * len(exp_now.depths)
    what = (f"{n_runs} network{'s' if n_runs > 1 else ''} × {exp_now.n_train:,} images × "
            f"{exp_now.train.epochs} epochs on **{settings['device_info']['detail']}**.")
    if device.type == "cpu":
        what += (f" Rough estimate on a CPU: {f'{est:.0f} s' if est >= 1 else 'under 1 s'} (from the "
                 "stored runs' measured speed, 1 thread; a busy server is slower).")
    st.caption(what)
for p in problems:
    st.warning(p.capitalize() + ".")
b1, b2, _ = st.columns([1, 1, 4])
b1.button("Start", type="primary", icon=":material/play_arrow:", on_click=_start,
          disabled=running or bool(problems), key="tr_start")
b2.button("Stop", icon=":material/stop:", on_click=_stop, disabled=not running, key="tr_stop",
          help="Ends the run at the next training step; finished networks are kept.")


def _records_frame(job: LiveJob) -> pd.DataFrame:
    return pd.DataFrame(list(job.records))


def show_progress(job: LiveJob) -> None:
    recs = list(job.records)
    done_epochs = len(recs)
    total = max(1, job.planned_epochs)
    elapsed = ((job.finished or time.monotonic()) - (job.started or job.created))
    if job.state == "queued":
        st.info("The server is busy with another visitor's computation; your training run is "
                "queued…", icon=":material/hourglass_top:")
    if job.error:
        label, state = f"Failed: {job.error}", "error"
    elif job.state == "done":
        stopped = job.result is not None and job.result.meta.get("stopped")
        n_ok = 0 if job.result is None else len(job.result.runs)
        why = (" (nobody was watching)" if job.abandoned else "")
        label = (f"Stopped{why} after {done_epochs} of {total} epochs, {elapsed:.0f} s: "
                 f"{n_ok} network{'s' if n_ok != 1 else ''} finished" if stopped else
                 f"Finished: {n_ok} networks, {done_epochs} epochs in {elapsed:.0f} s")
        state = "complete"
    elif job.stop.is_set():
        label, state = "Stopping at the next training step…", "running"
    elif job.state == "queued":
        label, state = "Queued: waiting for the server…", "running"
    elif recs:
        r = recs[-1]
        label = (f"Training {r['arch']}-{r['depth']} (network {r['run']} of {r['runs']}): epoch "
                 f"{r['epoch']} of {job.exp.train.epochs} done · {elapsed:.0f} s")
        state = "running"
    else:
        label, state = f"Training the first network… {elapsed:.0f} s", "running"
    # Not a `with` block: st.status' __exit__ would mark a running status "complete" at once.
    box = st.status(label, state=state, expanded=job.state != "done")
    box.progress(min(1.0, done_epochs / total), text=f"{done_epochs} / {total} epochs")
    for r in recs[-4:]:
        box.caption(f"{r['arch']}-{r['depth']} epoch {r['epoch']}: training error "
                    f"{r['train_error']:.1%}, test error {r['test_error']:.1%}, "
                    f"{r['images_per_s']:.0f} images/s")


def live_curves(job: LiveJob, export: bool) -> None:
    recs = _records_frame(job)
    if recs.empty:
        return
    long_l = ct.curves_long(recs)
    charts = [("training error", "tr_l_train"), ("test error", "tr_l_test")]
    for col, (metric, key) in zip(st.columns(2), charts):
        with col:
            ch = ct.error_curves_chart(long_l, metric, chance, int(300 * H), f"live: {metric} per epoch")
            if export:
                ui.chart_with_export(ch, long_l, f"live_{metric.replace(' ', '_')}", key)
            else:
                st.altair_chart(ch, width="stretch")


def collect(job: LiveJob) -> None:
    """Keep a finished run's numbers (not its models) in this session."""
    if job.collected:
        return
    job.collected = True
    res = job.result
    if res is None or res.runs.empty:
        return
    kept = st.session_state.setdefault("tr_runs", [])
    kept.append({"curves": res.curves, "runs": res.runs, "meta": res.meta,
                 "n": len(kept) + 1 + st.session_state.get("tr_dropped", 0)})
    if len(kept) > MAX_KEPT_RUNS:
        kept.pop(0)
        st.session_state["tr_dropped"] = st.session_state.get("tr_dropped", 0) + 1


def live_panel() -> None:
    job = st.session_state.get("tr_job")
    if job is None:
        return
    job.last_poll = time.monotonic()
    show_progress(job)
    if job.state == "done":
        collect(job)
        st.rerun()  # the whole page: buttons enabled again, final table drawn
    live_curves(job, export=False)


if running:
    st.fragment(run_every=1.0)(live_panel)()
elif job is not None:
    collect(job)
    show_progress(job)

kept = st.session_state.get("tr_runs", [])
if job is not None and job.state == "done" and job.result is not None and job.result.runs.empty:
    live_curves(job, export=True)
    st.caption("No network finished, so there is no final table for this run.")
if kept and not running:
    last = kept[-1]
    m = last["meta"]
    live_long = ct.curves_long(last["curves"])
    st.subheader(f"Live run #{last['n']}: curves")
    for col, metric in zip(st.columns(2), ("training error", "test error")):
        with col:
            ui.chart_with_export(ct.error_curves_chart(live_long, metric, chance, int(300 * H),
                                                       f"live: {metric} per epoch"),
                                 live_long, f"live_{metric.replace(' ', '_')}", f"tr_k_{metric[:4]}")
    st.caption(f"{m['label']} with this budget: {m['n_train']:,} training / {m['n_test']:,} test "
               f"images, {m['epochs']} epochs, seed {m['seeds'][0]}, on {m.get('detail', '?')} "
               f"(torch {m.get('torch', '?')}, {m.get('threads', '?')} threads): "
               f"{m['wall_seconds']:.1f} s wall." + (" Stopped early: only finished networks "
                                                      "are in the table." if m.get("stopped") else ""))
    table_l = summarise(last["runs"])
    he_l, v_l = he_and_verdicts(table_l, 1)
    st.subheader(f"Live run #{last['n']}: final errors (one seed) and the hypothesis")
    st.dataframe(he_l, hide_index=True, width="stretch")
    show_verdicts(v_l)
    chance_note(table_l)
    if v_l and not all(v["holds"] for v in v_l):
        st.caption("A live run is one seed on a small budget: a deep network that starts slower can "
                   "still be behind when the budget ends (compare with the stored 12-epoch runs above).")

    st.subheader("Stored and live, side by side")
    parts = [ct.he_table(table_s, f"stored ({n_seeds_s} seeds, {meta_s['epochs']} epochs)")]
    for k in kept:
        parts.append(ct.he_table(summarise(k["runs"]), f"live #{k['n']} ({k['meta']['epochs']} epochs)"))
    st.dataframe(pd.concat(parts, ignore_index=True), hide_index=True, width="stretch")
    st.caption("Each live run uses its own budget; compare within a source first. Live results live "
               f"in this browser session only (the last {MAX_KEPT_RUNS} runs); trained models are "
               "discarded after each run.")
elif not kept and job is None:
    st.caption("Press **Start** to train the networks here. The curves draw as each epoch finishes.")

ui.show_code(run_degradation, "Show the code: the experiment loop")
