"""Learning rates: do residual nets tolerate higher ones? The stored sweep at once; a live sweep
of the network in the URL and its twin on demand (a background job with progress and Stop, as on
the Training page). Every run goes through the run store, so a repeated sweep loads."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.charts import lr_sweep as charts
from resnet_explain.content import training_lr as lr_text
from resnet_explain.content.refusal import estimate_basis
from resnet_explain.errors import UserError
from resnet_explain.experiments import lr_sweep as sw
from resnet_explain.train.budgets import BUDGETS, Control
from resnet_explain.train.estimate import estimate_run_seconds
from resnet_explain.train.runs import RunStore

BUDGET = BUDGETS["quick"]
LR_CHOICES = sw.log_grid(0.0125, 6.4)  # factor 2
DEFAULT_LRS = [BUDGET.config.lr, 0.8]  # the budget's own lr (its runs are Train your network's) and 16x

settings = ui.settings()
seed, device = settings.seed, settings.device
spec = ui.current_spec()
ss = st.session_state

st.title("Learning rates: how large a step can each network take?")
st.markdown(
    "A common claim: **residual networks tolerate higher learning rates** than plain ones, because "
    "the identity path keeps activations and gradients well scaled, so one large step is less "
    "likely to throw the weights where the loss blows up. Here a network and its twin (the same "
    "network with every skip toggled) train at each learning rate of a grid, everything else "
    f"fixed. A run *trains* when its final training error is below {sw.TRAINS_BELOW:.0%}; it "
    f"*diverged* when its loss was not finite or its error is at chance ({sw.CHANCE:.0%}).")

# ---- 1. stored ----------------------------------------------------------------------------------
st.header("1 · Stored sweep")


@st.cache_data(show_spinner=False)
def stored_views():  # the stored sweep and what the page shows of it: made once, not on every visit
    got = sw.load_stored()
    return (got, charts.sweep_points(got.table), lr_text.stored_statement(got),
            lr_text.warmup_counterexample(got), charts.display_table(got.table))


try:
    stored, points, statement, counterexample, shown = stored_views()
except sw.SweepError as exc:
    stored = None
    st.warning(str(exc), icon=":material/warning:")
if stored is not None:
    st.caption(lr_text.stored_caption(stored.meta))
    ui.chart_with_export(ui.cached_chart(charts.lr_sweep_chart, stored.table, sw.CHANCE, stored.meta["trains_below"]),
                         points, "lr_sweep_stored", "lrs_stored")
    st.info(statement, icon=":material/science:")
    st.markdown(counterexample)
    st.dataframe(shown, hide_index=True, width="stretch", height="content")

# ---- 2. live ------------------------------------------------------------------------------------
st.header("2 · Your network, live")


def status(j) -> None:
    res = j.result
    label, state, frac, text = lr_text.live_status(
        list(j.records), j.meta["runs"], j.elapsed, state=j.state, error=j.error,
        stopping=j.stop.is_set(), finished=None if res is None else len(res), abandoned=j.abandoned)
    ui.show_job(j, label, state, frac, text)


job = ui.LongJob("lrs", "your learning-rate sweep", status,
                 stop_help="Ends the sweep at the next training step; finished runs are kept.")
running = job.running
st.caption(f"Your network (from the URL): {spec.summary()}; and its twin. Budget: {BUDGET.label} "
           f"— here with the epochs and images set below; seed {seed}.")
c1, c2, c3 = st.columns([3, 1, 1])
c1.multiselect("Learning rates", LR_CHOICES, default=DEFAULT_LRS, key="lrs_lrs", disabled=running,
               bind="query-params",
               help="Peak learning rate of the one-cycle schedule (the only input varied).")
c2.number_input("Epochs", 1, 30, BUDGET.config.epochs, key="lrs_epochs", disabled=running,
                bind="query-params")
c3.number_input("Training images", 64, 5000, BUDGET.data.n_train, step=250, key="lrs_ntrain",
                bind="query-params",
                disabled=running)


def chosen():
    """(base request, lrs, problems) from the widgets now (Start's callback reads them again)."""
    if not ss["lrs_lrs"]:
        return None, (), ["choose at least one learning rate"]
    try:
        base = sw.base_request(spec, BUDGET, seed=seed, device=device.type,
                               epochs=int(ss["lrs_epochs"]), n_train=int(ss["lrs_ntrain"]))
        sw.check_size(base, ui.MAX_PROBE_MEMORY)
    except UserError as exc:
        return None, (), [f"this network cannot be trained here: {exc}"]
    return base, sw.check_lrs(ss["lrs_lrs"]), []


def start() -> None:
    base, lrs, problems = chosen()
    if problems:
        return
    work = lambda j: sw.lr_sweep(None, base, lrs, store=RunStore(), progress=j.records.append,
                                 should_stop=j.should_stop)
    job.start(work, meta={"runs": 2 * len(lrs)})


base, lrs, problems = chosen()
refused = False
if not problems:
    reqs, store, speed = sw.sweep_requests(base, lrs), RunStore(), ui.host_speed(device.type)
    todo = sum(not store.has(r.run_id) for r in reqs)

    def est(lrs=lrs, **kw) -> float:  # the sweep's estimate with one widget changed
        b = sw.base_request(spec, BUDGET, seed=seed, device=device.type, **{
            "epochs": int(ss["lrs_epochs"]), "n_train": int(ss["lrs_ntrain"]), **kw})
        return sw.estimate_sweep_seconds(sw.sweep_requests(b, lrs), estimate_run_seconds(b, speed), store)

    st.caption(f"{len(reqs)} runs ({todo} to train, {len(reqs) - todo} stored already): about "
               f"**{est():.0f} s** on {settings.detail} ({estimate_basis()}).")
    refused = ui.refuse(est(), device.type, [
        Control("Learning rates", [lrs[:k] for k in range(len(lrs) - 1, 0, -1)], est,
                lambda v: ", ".join(f"{x:g}" for x in v)),
        Control("Epochs", range(int(ss["lrs_epochs"]) - 1, 0, -1), lambda e: est(epochs=e)),
        Control("Training images", range(int(ss["lrs_ntrain"]) - 250, 63, -250), lambda n: est(n_train=n))])
for p in problems:
    st.warning(p[0].upper() + p[1:] + ".")
job.buttons(start, blocked=bool(problems) or refused)
if (res := job.follow()) is not None:
    ss["lrs_last"] = res
last = ss.get("lrs_last")
if last is not None and not running and len(last):
    st.subheader("Your sweep")
    ui.chart_with_export(ui.cached_chart(charts.lr_sweep_chart, last, sw.CHANCE, sw.TRAINS_BELOW),
                         charts.sweep_points(last), "lr_sweep_live", "lrs_live")
    st.info(lr_text.state_result(last), icon=":material/science:")
    st.dataframe(charts.display_table(last), hide_index=True, width="stretch", height="content")
    st.caption("Runs are kept in this server's run cache (least recently used go first): the same "
               "sweep again loads instead of training.")
elif job.job is None:
    st.caption("Press **Start** to train your network and its twin at each learning rate.")

ui.show_code(sw.lr_sweep, "Show the code: the sweep")
