"""Training: He et al.'s degradation experiment, stored runs at once (beside the paper's numbers),
live runs on demand: a ``ui.LongJob`` of this session (never shared, models dropped at the end)."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.chance import chance_error
from resnet_explain.charts import training as training_charts
from resnet_explain.content import papers, training as training_text
from resnet_explain.experiments import degradation as dg
from resnet_explain.train.budgets import EXPERIMENTS, Control
from resnet_explain.ui import other_runs, training_panel as panel

PRESET = EXPERIMENTS["cpu-live"]
ARCHS = ("plain", "residual")
DEPTH_CHOICES = (8, 14, 20, 32, 44, 56)  # He et al.'s CIFAR nets have depth 6n + 2
MAX_KEPT_RUNS = 5

settings = ui.settings()
seed, device = settings.seed, settings.device
chance = chance_error()


@st.cache_data(show_spinner=False)
def stored_runs():  # once, not on every visit (~25 ms): the stored runs' table, convergence and claims
    return (s := dg.load_stored()), s.table, s.convergence, dg.check_hypothesis(s.table, chance)


stored, stored_table, stored_convergence, hyp = stored_runs()
st.title("Training: does depth help?")
ui.aside("tr_intro").markdown(
    "He et al. (2015, arXiv 1512.03385, sec. 4.2) trained *plain* networks of 20 to 56 layers on CIFAR-10: "
    "the deeper ones had the **higher training error** (their training curves: fig. 1, and fig. 6 left) — "
    "not overfitting, an optimisation difficulty; they called it *degradation*. With identity shortcuts the "
    "deeper ResNets trained at least as well (fig. 6 middle). Their table 6 lists only test errors, of "
    "ResNets and other methods, no plain nets. Here the same comparison runs on our generated shapes with "
    "one budget for every network, and the page checks, from the numbers, whether the data agree.")
st.info(
    "**Hypothesis (He et al. 2015, fig. 6, training-error curves):** (1) plain-56 has a higher "
    "training error than plain-20; (2) ResNet-56's training error is at most ResNet-20's; "
    "(3) ResNet-56's is below plain-56's.", icon=":material/science:")

# ---- 1. stored ----------------------------------------------------------------------------------
with ui.aside("tr_stored"):  # on stage the act is its title, the hypothesis and the two curves
    st.header("1 · Stored runs")
    st.caption(training_text.stored_caption(stored.meta))
panel.curves(stored.curves, chance, "", "stored", ("tr_s_train", "tr_s_test"))
st.caption(training_text.curves_caption(stored.n_seeds, chance))
st.subheader(f"Final errors and speed (mean over {stored.n_seeds} seeds), plain and residual, by depth")
panel.results(stored_table, stored.n_seeds, chance, stored_convergence)
st.subheader("Beside the paper: He et al. 2015 (arXiv 1512.03385)")
st.markdown("**Published (He et al. 2015, table 6; fig. 6 for the plain nets)**, at their full budget")
st.table(papers.cifar10_table())
st.markdown(f"**The paper's orderings, and ours.** {papers.ordering_sentence(hyp)}")
st.table(papers.ordering_table(hyp, stored.n_seeds))
st.caption(papers.budgets_caption(stored.meta))
with st.expander(papers.more_numbers_label()):
    st.table(papers.imagenet_table())
    st.table(papers.shortcut_table())
other_runs.show(chance)  # the gpu experiment and CIFAR-10 itself, when stored; else how to make them

# ---- 2. live ------------------------------------------------------------------------------------
st.header("2 · Run it live")
ss = st.session_state
DEFAULTS = {"tr_depths": list(PRESET.depths), "tr_archs": list(ARCHS),
            "tr_epochs": PRESET.config.epochs, "tr_ntrain": PRESET.n_train, "tr_ntest": PRESET.n_test}
ss.update({k: v for k, v in DEFAULTS.items() if k not in ss})  # the preset, where a widget has no value yet


def status(j) -> None:
    """The run's box; its curves so far while it runs, or when no network finished."""
    panel.live_run(j, chance, with_curves=j.running or (j.result is not None and j.result.runs.empty),
                   keys=None if j.running else ("tr_l_train", "tr_l_test"))
    if not j.running and j.result is not None and j.result.runs.empty:
        st.caption("No network finished, so there is no final table for this run.")


job = ui.LongJob("tr", "your training run", status,
                 stop_help="Ends the run at the next training step; finished networks are kept.")
running = job.running
st.caption(training_text.preset_caption(PRESET, seed))
c1, c2, c3 = ui.controls("tr_live").columns([2, 2, 1])
c1.multiselect("Depths", DEPTH_CHOICES, key="tr_depths", bind="query-params", disabled=running,
               help="He et al.'s CIFAR networks: 3 stages of (depth - 2) / 6 basic blocks each.")
c2.multiselect("Architectures", list(ARCHS), key="tr_archs", bind="query-params", disabled=running,
               help="residual: identity shortcuts (option A); plain: the same network without them.")
c3.number_input("Epochs", 1, 30, key="tr_epochs", bind="query-params", disabled=running)
c4, c5, c6 = ui.controls("tr_live").columns([2, 2, 1], vertical_alignment="bottom")
c4.number_input("Training images", 32, 5000, step=250, key="tr_ntrain", bind="query-params", disabled=running)
c5.number_input("Test images", 32, 2000, step=250, key="tr_ntest", bind="query-params", disabled=running)
c6.button("Reset to preset", on_click=ss.update, args=(DEFAULTS,), disabled=running, key="tr_reset")


def chosen():
    """The budget and architectures in the widgets now (Start's callback reads them again)."""
    exp = PRESET.with_(depths=tuple(sorted(ss["tr_depths"])), seeds=(seed,), data_seed=seed,
                       epochs=int(ss["tr_epochs"]), n_train=int(ss["tr_ntrain"]),
                       n_test=int(ss["tr_ntest"]), device=device.type)
    return exp, tuple(a for a in ARCHS if a in ss["tr_archs"])


def start() -> None:
    exp, archs = chosen()
    work = lambda j: dg.run_degradation(exp, progress=j.records.append, should_stop=j.should_stop,
                                        archs=archs)
    job.start(work, meta={"epochs": exp.config.epochs, "planned_epochs": dg.planned_epochs(exp, archs)})


exp, archs = chosen()
problems = [f"choose at least one {what}" for what, picked in
            (("depth", exp.depths), ("architecture", archs)) if not picked]
speed = ui.host_speed(device.type)
est = lambda **kw: dg.estimate_experiment_seconds(exp.with_(**kw), archs, speed)  # one widget changed
refused = not problems and ui.refuse(est(), device.type, [
    Control("Depths", [exp.depths[:k] for k in range(len(exp.depths) - 1, 0, -1)],
            lambda d: est(depths=d), lambda d: ", ".join(map(str, d))),
    Control("Epochs", range(exp.config.epochs - 1, 0, -1), lambda e: est(epochs=e)),
    Control("Training images", range(exp.n_train - 250, 31, -250), lambda n: est(n_train=n))])
if not problems and not refused:
    st.caption(training_text.plan_caption(len(archs) * len(exp.depths), exp.n_train, exp.config.epochs,
                                            settings.detail, est() if device.type == "cpu" else None))
for p in problems:
    st.warning(p[0].upper() + p[1:] + ".")  # not str.capitalize: it would write "cpu"
job.buttons(start, blocked=bool(problems) or refused)
if (res := job.follow()) is not None and not res.runs.empty:  # keep its numbers, not its models
    ss["tr_count"] = ss.get("tr_count", 0) + 1
    ss["tr_runs"] = (ss.get("tr_runs", []) + [{"curves": res.curves, "runs": res.runs, "steps": res.steps,
                                               "meta": res.meta, "n": ss["tr_count"]}])[-MAX_KEPT_RUNS:]

kept = ss.get("tr_runs", [])
if kept and not running:
    last = kept[-1]
    st.subheader(f"Live run #{last['n']}: curves")
    panel.curves(last["curves"], chance, "live: ", "live", ("tr_k_trai", "tr_k_test"))
    st.caption(training_text.live_caption(last["meta"]))
    st.subheader(f"Live run #{last['n']}: final errors (one seed) and the hypothesis")
    conv = dg.convergence(last["curves"], last["meta"], steps=last.get("steps"))  # per step
    if (vs := panel.results(dg.summarise(last["runs"]), 1, chance, conv)) and not all(v["holds"] for v in vs):
        st.caption("A live run is one seed on a small budget: a deep network that starts slower can "
                   "still be behind when the budget ends (compare with the stored 12-epoch runs above).")
    st.subheader("Stored and live, side by side")
    parts = [(stored_table, f"stored ({stored.n_seeds} seeds, {stored.meta['epochs']} epochs)")] + [
        (dg.summarise(k["runs"]), f"live #{k['n']} ({k['meta']['epochs']} epochs)") for k in kept]
    st.table(training_charts.he_tables(parts), hide_index=True)
    st.caption("Each live run uses its own budget; compare within a source first. Live results live in this "
               f"browser session only (the last {MAX_KEPT_RUNS} runs); models are discarded after each run.")
elif not kept and job.job is None:
    st.caption("Press **Start** to train the networks here. The curves draw as each epoch finishes.")

ui.show_code(dg.run_degradation, "Show the code: the experiment loop")
