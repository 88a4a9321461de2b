"""The loop of issue "Your network, end to end", through the app's navigation: build a network in
the builder, train it and its twin (tiny budget), then explain the pair in the Attribution Lab and
delete its blocks in the Lesion Study — no exception, and the pages show that pair's runs."""

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_explain.train import budgets
from resnet_explain.train.runs import RunStore

from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
TINY = {"name": "tiny", "data": {"n_train": 96, "n_test": 32, "size": 8, "difficulty": 0.0},
        "config": {"epochs": 2, "batch_size": 16, "lr": 0.05}}


def test_build_train_then_explain_and_lesion_the_same_pair(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv(budgets.BUDGET_ENV, json.dumps(TINY))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"fam": "cnn", "net": "b2~b4/2~b8/2", "act": "relu", "norm": "batch",
                            "stem": "2"})
    at.run()
    # Build: switch every skip off in the builder (the network the visitor made is plain).
    at.switch_page("app_pages/builder.py").run()
    [b for b in at.button if b.label == "All skips off"][0].click().run()
    assert not at.exception and at.session_state["spec"].n_skips == 0
    # Train it and its twin.
    at.switch_page("app_pages/your_network.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="yn_start").click().run()
    at = wait_for_job(at, "yn_job", limit=120)
    assert not at.exception, [e.value for e in at.exception]
    yours, twin = at.session_state["run_pairs"][-1]
    store = RunStore(root=tmp_path / "runs")
    assert not store.get(yours).spec.any_skip and store.get(twin).spec.any_skip
    # Explain the pair: the Attribution Lab offers it first and shows both twins.
    at.switch_page("app_pages/attribution.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(c.value for c in at.caption)
    assert yours in shown and twin in shown
    assert len([s for s in at.subheader if s.value.startswith(("Plain", "Residual"))]) == 2
    # Delete its blocks: the Lesion Study runs on the same pair.
    at.switch_page("app_pages/lesion.py").run()
    at = wait_for_job(at, "ls_job")  # a short study starts by itself, as a background job
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(c.value for c in at.caption)
    assert yours in shown and twin in shown
    assert any(m.label.startswith("plain") for m in at.metric)
