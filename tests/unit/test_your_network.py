"""Train your network: budgets and the host's cap, the plan (stored runs, estimates, refusal), the
pair trained and stopped, the live estimate, and the table and sentences the page shows."""

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_explain.charts.training import curves_long
from resnet_explain.content import your_network as yn_text
from resnet_explain.experiments import your_network as yn
from resnet_explain.spec import NetSpec, cifar_resnet
from resnet_explain.train import budgets as B
from resnet_explain.train.config import SNAPSHOT_EVERY, TrainConfig
from resnet_explain.train.runs import DataRecipe, Run, RunStore
from resnet_explain.train.snapshots import GRAD_COLUMNS

TINY = B.Budget("tiny", "tiny", DataRecipe(n_train=64, n_test=32, size=8, difficulty=0.0),
              TrainConfig(epochs=2, batch_size=16, lr=0.05))
SPEC = cifar_resnet(8, width=2)  # residual, 32x32: the budget resizes it to 8x8
NOWHERE = Path("/nonexistent/resnet-explain-runs")


@pytest.fixture
def store(tmp_path):
    return RunStore(root=tmp_path / "runs", cap_bytes=10 * 2**20, shipped_root=tmp_path / "shipped")


def tiny_plan(store, cap=None, seconds=10.0, budget=TINY, spec=SPEC) -> yn.Plan:
    return yn.plan(spec, budget, seed=3, device="cpu", store=store, cap=cap,
                   estimate=lambda req: seconds)


# ---- settings ----------------------------------------------------------------------------------
def test_budgets_add_the_hosts_own_first(tmp_path):
    assert list(B.host_budgets({})) == list(B.BUDGETS) == ["quick", "full"]
    env = {B.BUDGET_ENV: json.dumps({"name": "tiny", "data": {"n_train": 96, "size": 8},
                                      "config": {"epochs": 3, "batch_size": 16}})}
    b = B.host_budgets(env)
    assert list(b) == ["tiny", "quick", "full"]
    assert (b["tiny"].data.n_train, b["tiny"].data.size, b["tiny"].data.n_test) == (96, 8, 500)
    assert (b["tiny"].config.epochs, b["tiny"].config.batch_size) == (3, 16)
    assert "96 training images, 3 epochs" in b["tiny"].label
    f = tmp_path / "budget.json"
    f.write_text(env[B.BUDGET_ENV])
    assert B.host_budgets({B.BUDGET_ENV: str(f)})["tiny"] == b["tiny"]
    for bad in ("{not json", '{"data": {"n_trian": 5}}', '{"config": {"epochs": 0}}', "/no/such/file"):
        with pytest.raises(B.BudgetError, match=B.BUDGET_ENV):
            B.host_budgets({B.BUDGET_ENV: bad})


def test_default_budget_by_device_and_host():
    assert B.default_budget(["quick", "full"], "cpu") == "quick"
    assert B.default_budget(["quick", "full"], "mps") == "quick"
    assert B.default_budget(["quick", "full"], "cuda") == "full"
    assert B.default_budget(["tiny", "quick", "full"], "cuda") == "tiny"


def test_cap_is_120_s_on_a_cpu_none_on_cuda_and_a_setting():
    assert B.cap_seconds("cpu", {}) == 120.0
    assert B.cap_seconds("cpu", {B.CAP_ENV: "30"}) == 30.0
    assert B.cap_seconds("cpu", {B.CAP_ENV: "off"}) is None
    assert B.cap_seconds("cuda", {B.CAP_ENV: "30"}) is None
    for bad in ("abc", "-1", "0", "nan"):
        with pytest.raises(B.BudgetError, match=B.CAP_ENV):
            B.cap_seconds("cpu", {B.CAP_ENV: bad})


def test_only_image_networks_for_the_shapes_are_trainable():
    assert yn_text.why_untrainable(SPEC) is None and yn.untrainable(SPEC) is None
    assert yn.untrainable(SPEC.with_globals(family="mlp")) == "family"
    assert yn.untrainable(SPEC.with_globals(in_channels=1)) == "in_channels"
    assert yn.untrainable(SPEC.with_globals(classes=5)) == "classes"
    assert "mlp" in yn_text.why_untrainable(SPEC.with_globals(family="mlp"))
    assert "1-channel" in yn_text.why_untrainable(SPEC.with_globals(in_channels=1))
    assert "10 classes" in yn_text.why_untrainable(SPEC.with_globals(classes=5))
    from resnet_explain.spec.transformer import transformer_spec

    tf = transformer_spec(depth=2, width=16, heads=2, context=8, vocab=256)
    assert yn.untrainable(tf) is None and yn_text.why_untrainable(tf) is None  # trains on bytes
    small = transformer_spec(depth=2, width=16, heads=2, context=8, vocab=100)
    said = yn_text.why_untrainable(small)
    assert yn.untrainable(small) == "vocab" and "256" in said and "100" in said and "flat" not in said


# ---- the plan ----------------------------------------------------------------------------------
def test_plan_is_your_network_and_its_twin_with_snapshots(store):
    p = tiny_plan(store)
    mine, twin = p.runs
    assert (mine.role, mine.arch, twin.role, twin.arch) == ("your network", "residual", "its twin", "plain")
    assert NetSpec.from_query(mine.request.spec) == SPEC.with_globals(in_size=8)
    assert NetSpec.from_query(twin.request.spec) == SPEC.with_globals(in_size=8).twin()
    for r in p.runs:
        assert r.request.config.snapshot_every == SNAPSHOT_EVERY and r.request.config.seed == 3
        assert r.request.data == TINY.data and not r.stored and r.estimate == 10.0
    assert (p.estimate, p.planned_epochs, len(p.to_train)) == (20.0, 4, 2)
    caption = yn_text.plan_caption(p)
    assert "roughly 10 s" in caption and "Together roughly 20 s" in caption
    # A plain network is "yours" too; its twin is then the residual one.
    assert [r.arch for r in tiny_plan(store, spec=SPEC.twin()).runs] == ["plain", "residual"]


def test_a_plan_over_the_cap_is_refused_with_its_estimate(store):
    assert not tiny_plan(store, cap=None).refused and not tiny_plan(store, cap=25).refused
    assert tiny_plan(store, cap=15).refused  # the one rule: budgets.over_cap


def test_training_the_pair_stores_both_then_loads_them(store):
    p = tiny_plan(store)
    records = []
    res = yn.train_pair(p, store, progress=records.append)
    assert res.stopped is None and [loaded for _, _, loaded in res.runs] == [False, False]
    assert [(r["run"], r["epoch"], r["arch"]) for r in records] == [
        (1, 1, "residual"), (1, 2, "residual"), (2, 1, "plain"), (2, 2, "plain")]
    assert all(r["net"] == f"{r['arch']}-8" for r in records)
    for planned, run, _ in res.runs:
        assert run.run_id == planned.request.run_id and store.has(run.run_id)
        assert list(run.grads.columns) == GRAD_COLUMNS and (run.grads["step"] == 0).any()
        assert run.meta["label"] == planned.role
    # The same inputs again: nothing to train, both load, no epoch is reported.
    again = tiny_plan(store)
    assert all(r.stored for r in again.runs) and again.estimate == 0 and again.planned_epochs == 0
    assert again.run_ids == p.run_ids == tuple(run.run_id for _, run, _ in res.runs)
    assert "Your network (residual-8): stored, loads at once (0 s); its twin" in yn_text.plan_caption(again)
    assert "Together" not in yn_text.plan_caption(again) and "Nothing to train" in yn_text.plan_caption(again)
    records.clear()
    res2 = yn.train_pair(again, store, progress=records.append)
    assert [loaded for _, _, loaded in res2.runs] == [True, True] and records == []
    pair = yn.stored_pair(again, store)
    table = yn.pair_table(pair, trained_here={res.runs[0][1].run_id})
    assert list(table["source"]) == ["trained now", "loaded (stored)"]
    for row, (_, run) in zip(table.to_dict("records"), pair):
        assert row["training error (%)"] == round(100 * run.meta["train_error"], 2)
        assert row["test error (%)"] == round(100 * run.meta["test_error"], 2)
        assert row["run id"] == run.run_id and row["depth"] == 8
    long = curves_long(yn.curves_frame(pair))
    assert set(long["net"]) == {"plain-8", "residual-8"} and long["epoch"].max() == 2


def test_a_stop_ends_the_pair_and_stores_nothing_of_the_stopped_run(store):
    p = tiny_plan(store)
    res = yn.train_pair(p, store, should_stop=lambda: True)
    assert res.runs == [] and res.stopped is p.runs[0]
    assert not any(store.has(r.request.run_id) for r in p.runs) and yn.stored_pair(p, store) is None
    # Stopped during the twin: yours is stored, the twin is not.
    records = []
    res = yn.train_pair(p, store, progress=records.append, should_stop=lambda: len(records) >= 2)
    assert [r.role for r, _, _ in res.runs] == ["your network"] and res.stopped is p.runs[1]
    assert store.has(p.runs[0].request.run_id) and not store.has(p.runs[1].request.run_id)
    line = yn_text.progress_line(p, records, 3.0, state="done", result=res)
    assert line[0].startswith("Stopped after 2 of 4 epochs")
    assert line[0].endswith("plain-8 (its twin) was not stored")


# ---- live progress -----------------------------------------------------------------------------
def rec(run, epoch, seconds, arch="residual"):
    return {"run": run, "epoch": epoch, "seconds": seconds, "arch": arch, "net": f"{arch}-8",
            "role": yn.ROLES[run - 1], "train_error": 0.5, "test_error": 0.625}


def test_remaining_time_scales_the_estimate_by_the_measured_epochs(store):
    p = tiny_plan(store)  # 2 runs x 2 epochs, 10 s each: 5 s an epoch estimated
    assert yn.remaining_seconds(p, []) == 20.0
    assert yn.remaining_seconds(p, [], elapsed=5.0) == 15.0  # before any epoch: estimate - elapsed
    assert yn.remaining_seconds(p, [], elapsed=25.0) == 0.0
    assert yn.remaining_seconds(p, [rec(1, 1, 10.0)]) == pytest.approx(30.0)  # twice as slow
    assert yn.remaining_seconds(p, [rec(1, 1, 2.5), rec(1, 2, 2.5)]) == pytest.approx(5.0)
    line = yn_text.progress_line(p, [rec(1, 1, 10.0)], 12.0, state="running")
    assert line[0] == "Training residual-8 (your network): epoch 1 of 2 done · 12 s · about 30 s left"
    assert line[1:] == ("running", 0.25, "1 / 4 epochs")


@given(st.lists(st.floats(0.1, 100.0), min_size=1, max_size=4), st.floats(0.1, 10.0))
def test_remaining_time_is_the_rest_of_the_estimate_times_the_measured_pace(est, pace):
    base = tiny_plan(RunStore(root=NOWHERE, shipped_root=NOWHERE)).runs[0]
    one_epoch = replace(base.request, config=replace(base.request.config, epochs=1))
    p = yn.Plan(TINY, tuple(replace(base, estimate=e, request=one_epoch) for e in est), None)
    # The first run's one epoch took ``pace`` times its estimate: the rest will too.
    assert yn.remaining_seconds(p, [rec(1, 1, est[0] * pace)]) == pytest.approx(pace * sum(est[1:]))


def test_progress_line_in_every_state(store):
    p = tiny_plan(store)
    assert yn_text.progress_line(p, [], 1.0, state="queued")[0] == "Queued: waiting for the server…"
    assert yn_text.progress_line(p, [], 4.0, state="running")[0] == (
        "Training residual-8 (your network)… 4 s · about 16 s left")
    late = yn_text.progress_line(p, [], 25.0, state="running")[0]
    assert late.startswith("Training residual-8 (your network)… 25 s") and "estimate of 20 s" in late
    assert yn_text.progress_line(p, [], 4.0, state="running", stopping=True)[0].startswith("Stopping")
    assert yn_text.progress_line(p, [], 4.0, state="done", error="ServerBusy: x")[:2] == (
        "Failed: ServerBusy: x", "error")
    fin = yn.PairResult(runs=[(r, None, loaded) for r, loaded in zip(p.runs, (True, False))])
    assert yn_text.progress_line(p, [rec(2, 1, 1), rec(2, 2, 1)], 9.0, state="done", result=fin)[:3] == (
        "Finished: 1 trained, 1 loaded, in 9 s", "complete", 1.0)
    never = yn_text.progress_line(p, [], 61.0, state="done", result=None, abandoned=True)[0]
    assert never.startswith("Stopped (nobody was watching)") and "0 of 4 epochs, 61 s" in never
    assert never.endswith("residual-8 (your network) was not stored")
    gone = yn.PairResult(stopped=p.runs[0])
    assert "Stopped (nobody was watching) after 0 of 4" in yn_text.progress_line(
        p, [], 61.0, state="done", result=gone, abandoned=True)[0]
    assert yn_text.epoch_line(rec(1, 2, 1.25)) == ("residual-8 (your network) epoch 2: training error "
                                              "50.0%, test error 62.5%, 1.2 s")


# ---- what the numbers say ----------------------------------------------------------------------
def fake_run(planned, first_ratio, last_ratio=1e-2, snapshots=3) -> Run:
    rows = [{"step": 8 * s, "epoch": 1, "block": b, "position": pos, "kind": "block",
             "grad_norm": 1.0, "weight_grad_norm": 1.0, "weight_norm": 1.0, "update_ratio": u}
            for s in range(snapshots)
            for b, pos, u in (("stage1.block0", 0, first_ratio), ("stage3.block0", 1, last_ratio))]
    grads = pd.DataFrame(rows, columns=GRAD_COLUMNS) if snapshots else pd.DataFrame()
    return Run(planned.request.run_id, planned.request, pd.DataFrame(), grads,
               {"train_error": 0.1, "test_error": 0.2, "seconds": 1.0}, None)


def test_pace_sentences_say_whether_the_first_blocks_learn(store):
    mine, twin = tiny_plan(store).runs  # residual, plain
    pair = [(mine, fake_run(mine, 1e-2)), (twin, fake_run(twin, 1e-6))]
    s = yn_text.pace_sentences(pair)
    assert len(s) == 3
    assert s[0].startswith("In the plain net") and "10,000× slower than the last, hardly at all" in s[0]
    assert s[1].startswith("In the residual net") and "about the same pace" in s[1]
    assert "plain 1.0 × 10⁻⁶, residual 0.01" in s[2] and "residual net's first block moves 10,000×" in s[2]
    none = yn_text.pace_sentences([(mine, fake_run(mine, 1e-2)), (twin, fake_run(twin, 0, snapshots=0))])
    assert none[0].startswith("The plain net (its twin) has no gradient snapshots") and len(none) == 2
