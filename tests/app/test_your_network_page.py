"""AppTest for "Train your network": a tiny network and its twin trained to the end under a tiny
host budget (RESNET_EXPLAIN_TRAIN_BUDGET), loaded at once the second time; Stop; a refused
budget; a network that cannot be trained here."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.charts.grad_history import HISTORY_LONG_COLUMNS
from resnet_explain.spec import NetSpec
from resnet_explain.train import budgets
from resnet_explain.train.budgets import BUDGETS
from resnet_explain.train.runs import RunStore

from .chartdata import chart_frames
from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "your_network.py")
TIMEOUT = 90
NET = {"fam": "cnn", "net": "b2~b4/2~b8/2", "act": "relu", "norm": "batch", "stem": "2"}
BUILDER_DEFAULT = {"fam": "cnn", "net": "b8*3~b16/2,b16*2~b32/2,b32*2", "act": "relu",
                   "norm": "batch", "stem": "8"}
TINY = {"name": "tiny", "data": {"n_train": 96, "n_test": 32, "size": 8, "difficulty": 0.0},
        "config": {"epochs": 2, "batch_size": 16, "lr": 0.05}}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv(budgets.BUDGET_ENV, json.dumps(TINY))
    monkeypatch.delenv(budgets.CAP_ENV, raising=False)
    return tmp_path


def page(net=NET) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(net)
    return at.run()


def wait_until_done(at: AppTest, limit: float = 90.0) -> AppTest:
    return wait_for_job(at, "yn_job", limit)


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_tiny_network_and_its_twin_train_to_the_end_then_load(cache):
    at = page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="yn_budget").value == "tiny"  # the host's budget is the default
    assert any("Your network (residual-8): train, roughly" in c.value for c in at.caption)
    assert not at.button(key="yn_start").disabled and at.button(key="yn_stop").disabled
    at.button(key="yn_start").click().run()
    assert not at.exception
    at = wait_until_done(at)
    assert not at.exception, [e.value for e in at.exception]
    assert next(s.label for s in at.status).startswith("Finished: 2 trained, 0 loaded")
    job = at.session_state["yn_job"]
    assert [(r["run"], r["epoch"]) for r in job.records] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # The table's numbers are the stored runs' meta.
    store = RunStore(root=cache / "runs")
    table = at.dataframe[0].value
    assert list(table["network"]) == ["your network", "its twin"]
    assert list(table["architecture"]) == ["residual", "plain"]
    for row in table.to_dict("records"):
        meta = store.get(row["run id"]).meta
        assert row["training error (%)"] == round(100 * meta["train_error"], 2)
        assert row["test error (%)"] == round(100 * meta["test_error"], 2)
        assert row["seconds"] == round(meta["seconds"], 1) and row["source"] == "trained now"
    ids = tuple(table["run id"])
    assert at.session_state["run_pairs"] == [ids]
    # The heatmap: every snapshot of both nets, on one long table.
    # (the chart's data adds the readable block name for its tooltip: charts.axes.with_readable)
    frames = [f for fs in chart_frames(at) for f in fs if list(f.columns)[:len(HISTORY_LONG_COLUMNS)]
              == HISTORY_LONG_COLUMNS]
    heat = max(frames, key=len)
    assert set(heat["variant"]) == {"plain", "residual"}
    want = sum(len(store.get(i).grads) for i in ids)
    assert len(heat) == want > 0
    assert at.selectbox(key="yn_q").value == "grad_norm"
    at.selectbox(key="yn_q").set_value("update_ratio").run()
    assert not at.exception
    assert "In the plain net the first block" in text(at) and "First blocks side by side" in text(at)
    # Another network: the finished job's box and the results go; Start is offered for it.
    at.query_params["net"] = "b4~b8/2"
    at.run()
    assert not at.exception and not at.status and not at.dataframe
    assert not at.button(key="yn_start").disabled
    # A new visit with the same inputs: both load at once, nothing to start.
    again = page()
    assert not again.exception
    assert again.button(key="yn_start").disabled
    assert list(again.dataframe[0].value["source"]) == ["loaded (stored)"] * 2
    assert again.session_state["run_pairs"] == [ids]


def test_stop_ends_the_run_and_it_is_not_stored(cache, monkeypatch):
    big = {**TINY, "data": {**TINY["data"], "n_train": 1000}, "config": {**TINY["config"], "epochs": 200}}
    monkeypatch.setenv(budgets.BUDGET_ENV, json.dumps(big))
    monkeypatch.setenv(budgets.CAP_ENV, "off")
    at = page()
    at.button(key="yn_start").click().run()
    job = at.session_state["yn_job"]
    time.sleep(0.5)
    at.button(key="yn_stop").click().run()
    assert job.stop.is_set()
    at = wait_until_done(at, limit=60)
    assert not at.exception and job.error is None
    assert job.result.runs == [] and job.result.stopped.role == "your network"
    assert len(job.records) < 200
    label = next(s.label for s in at.status)
    assert label.startswith("Stopped after") and "(your network) was not stored" in label
    plan = job.meta["plan"]
    store = RunStore(root=cache / "runs")
    assert not any(store.has(r.request.run_id) for r in plan.runs)
    assert not at.dataframe and "run_pairs" not in at.session_state
    assert not at.button(key="yn_start").disabled


def test_a_budget_over_the_cap_names_the_budget_that_fits_and_disables_start(cache, monkeypatch):
    monkeypatch.setenv(budgets.CAP_ENV, "1e-6")  # the tiny pair's estimate is about 5e-4 s
    at = page()
    assert not at.exception
    warning = next(w.value for w in at.warning if w.value.startswith("Start is off"))
    assert "limit of 0 s" in warning and budgets.CAP_ENV in warning and "**Network Builder**" in warning
    assert at.button(key="yn_start").disabled
    # The builder's default network on the full budget, on a host of known speed (installed as
    # this host's one measurement, so the figures are the library's whatever this machine does):
    # over the default cap of 120 s; the warning names the budget that fits.
    from resnet_explain.content.refusal import seconds
    from resnet_explain.experiments import your_network as yn
    from resnet_explain.train import estimate as E

    speed = E.HostSpeed(("cpu", 1), E.Line(1e-3, 1e-10), E.Line(5e-4, 5e-11), 1e-7)
    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), speed)
    monkeypatch.delenv(budgets.CAP_ENV)
    at = page(BUILDER_DEFAULT)
    at.radio(key="yn_budget").set_value("full").run()
    warning = next(w.value for w in at.warning if w.value.startswith("Start is off"))
    spec, store = NetSpec.from_query(BUILDER_DEFAULT), RunStore()
    full = yn.budget_seconds(spec, BUDGETS["full"], 0, store, speed)
    quick = yn.budget_seconds(spec, BUDGETS["quick"], 0, store, speed)
    assert full > 120 and f"about {seconds(full)} here" in warning and "limit of 120 s" in warning
    assert quick <= 120 and f"Set **Budget** to {BUDGETS['quick'].label} (about {seconds(quick)})" in warning
    assert at.button(key="yn_start").disabled


def test_a_network_that_cannot_be_trained_here_says_why(cache):
    at = page({"fam": "mlp", "net": "r64!*9", "act": "sigmoid", "norm": "none"})
    assert not at.exception, [e.value for e in at.exception]
    assert any("mlp" in w.value and "cnn" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "yn_start"]
