"""Train your network: the Network Builder's network and its twin (every skip toggled), one budget,
side by side; then gradient flow *during* training, read from the snapshots the runs record.

A run is fixed by its inputs (network, data, training config, seed): runs already stored load at
once. Training is one ``ui.LongJob`` of this session that trains the pair in turn."""

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from resnet_explain import ui
from resnet_explain.chance import chance_error
from resnet_explain.charts import grad_history as gh
from resnet_explain.content import your_network as yn_text
from resnet_explain.content.refusal import SMALLER_NETWORK
from resnet_explain.errors import UserError
from resnet_explain.experiments import your_lm
from resnet_explain.experiments import your_network as yn
from resnet_explain.train.budgets import Control, default_budget, host_budgets
from resnet_explain.train.estimate import estimate_run_seconds
from resnet_explain.train.runs import RunStore, train_run
from resnet_explain.ui import training_panel as panel

settings = ui.settings()
seed, device = settings.seed, settings.device
ss = st.session_state
spec = ui.current_spec()
store, chance, lm = RunStore(), chance_error(), spec.family == "transformer"

st.title("Train your network")
st.markdown(
    "The network from the **Network Builder** and its **twin** — the same network with every skip "
    "toggled — trained with one budget and one seed, side by side. He et al. (2015, arXiv "
    "1512.03385, fig. 6) saw deep plain networks train *worse* than their residual twins; here "
    "you see whether yours does, and where the gradient went while it trained: per block, every "
    f"{yn.SNAPSHOT_EVERY} steps, from the training steps themselves.")
st.caption(f"Your network: `{spec.to_query()}` · seed {seed} (sidebar)." + (yn_text.LM_NOTE if lm else ""))

if reason := yn_text.why_untrainable(spec):
    st.warning(reason, icon=":material/block:")
    st.stop()


def live(j) -> None:
    """The run's box; its curves so far unless a finished pair is drawn below."""
    recs, p = list(j.records), j.meta["plan"]
    ui.show_job(j, *yn_text.progress_line(p, recs, j.elapsed, state=j.state, error=j.error,
                                     stopping=j.stop.is_set(), result=j.result,
                                     abandoned=j.abandoned),
                lines=[yn_text.epoch_line(r) for r in recs[-4:]])
    if recs and (j.result is None or j.result.stopped is not None) and p.language:
        panel.lm_curves(your_lm.records_curves(recs), p.runs[0].request.data, "live: ")
    elif recs and (j.result is None or j.result.stopped is not None):
        panel.curves(pd.DataFrame(recs), chance, "live: ")


try:
    budgets, cap, speed = host_budgets(family=spec.family), ui.host_cap(device.type), ui.host_speed(device.type)
except UserError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
job = ui.LongJob("yn", "your training run", live, stop_help="Ends the run at the next training step; "
                 "a stopped run is not stored.")
running = job.running
names = list(budgets)
choice = st.radio("Budget", names, index=names.index(default_budget(names, device.type)),
                  format_func=lambda n: budgets[n].label, key="yn_budget", disabled=running,
                  bind="query-params",
                  help=yn_text.budget_help(budgets, lm))
try:
    plan = yn.plan(spec, budgets[choice], seed, device.type, store, cap,
                   lambda r: estimate_run_seconds(r, speed))
except UserError as exc:
    st.warning(f"This network cannot take this budget's images: {exc}", icon=":material/block:")
    st.stop()
st.caption(yn_text.plan_caption(plan))
if not lm:
    st.caption(yn_text.depth_offer(yn.depth_offer(budgets[choice], cap, speed)))
secs = {n: yn.budget_seconds(spec, budgets[n], seed, store, speed) for n in names if n != choice}
ui.refuse(plan.estimate, device.type, [Control("Budget", sorted(secs, key=lambda n: -secs[n]), secs.get,
                                               lambda n: budgets[n].label)], SMALLER_NETWORK)


def work(j, p: yn.Plan):
    return yn.train_pair(p, store, progress=j.records.append, should_stop=j.should_stop)


job.buttons(lambda p=plan: job.start(lambda j: work(j, p), meta={"plan": p}),
            blocked=plan.refused or not plan.to_train)
# its box while these inputs are shown (or it failed)
res = job.follow(show=lambda j: j.meta["plan"].run_ids == plan.run_ids or j.error is not None)
if res is not None:
    ss["yn_trained"] = ss.get("yn_trained", set()) | {r.run_id for _, r, loaded in res.runs if not loaded}

pair = None if running else yn.stored_pair(plan, store)
if pair is None:
    if not running:
        st.caption("Press **Start** to train the two networks here; the curves draw as each "
                   "epoch finishes. Runs already stored for these inputs load at once.")
    ui.show_code(train_run, "Show the code: train a run, or load it when it is stored")
    st.stop()

st.header("1 · Final losses" if lm else "1 · Final errors")
if lm:
    panel.lm_results(pair, ss.get("yn_trained", ()), yn_text.lm_pair_sentences, yn_text.LM_TABLE_CAPTION)
else:
    st.dataframe(yn.pair_table(pair, ss.get("yn_trained", ())), hide_index=True, width="stretch")
    st.caption(yn_text.TABLE_CAPTION)
    panel.curves(yn.curves_frame(pair), chance, "", "your_network", ("yn_c_train", "yn_c_test"))

st.header("2 · Gradient flow during training")
frames = {} if lm else yn.grad_frames(pair)
steps_all = sorted({int(s) for f in frames.values() if len(f) for s in f["step"]})
if steps_all:
    q = st.selectbox("Quantity", ["grad_norm", "weight_grad_norm", "update_ratio"], key="yn_q",
                     bind="query-params",
                     format_func=gh.QUANTITIES.get)
    st.caption("log10 of the quantity per block (rows, input at the top) and snapshot step; one "
               "colour scale for both networks. Grey cells are exactly 0 (float32 underflow) or "
               "not finite, marked, never dropped.")
    ui.chart_with_export(ui.cached_chart(gh.heatmap, frames, q), gh.history_long(frames, q), f"heatmap_{q}", "yn_heat")
    ids = "_".join(run.run_id[:6] for _, run in pair)
    steps = st.multiselect("Profile at steps", steps_all, default=gh.pick_steps(steps_all),
                           key=f"yn_steps_{ids}", max_selections=4)
    ui.chart_with_export(ui.cached_chart(gh.profile_chart, frames, q, steps), gh.profile_long(frames, q, steps),
                         f"profile_{q}", "yn_prof")
    st.subheader("Do the first blocks learn at all?")
else:
    st.caption(yn_text.LM_NO_SNAPSHOTS if lm else "These runs have no gradient snapshots stored.")
for sentence in [] if lm else yn_text.pace_sentences(pair):
    st.markdown(sentence)

yours_id = pair[0][1].run_id
ui.remember_pair(yours_id, pair[1][1].run_id)  # (yours, twin): the run pickers offer it
st.header("3 · Look inside the trained pair")
for file, label in yn_text.look_inside(lm):
    try:
        st.page_link(file, label=label, icon=":material/arrow_forward:", query_params={"run": yours_id})
    except StreamlitAPIException:  # the page run on its own, outside the app's navigation
        st.caption(f"{label} (open it from the app's navigation).")
