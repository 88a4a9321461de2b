"""AppTest for the Learning rates page: the stored sweep with its numbers, a tiny live sweep that
finishes (and loads the second time), the time cap, and Stop."""

import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.content import training_lr as lr_text
from resnet_explain.experiments import lr_sweep as sw
from resnet_explain.spec import cifar_resnet

from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "learning_rates.py")
TIMEOUT = 120
TINY = cifar_resnet(8, width=2, in_size=16)  # ResNet-8 of width 2: a run takes about a second


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Live runs go to a fresh run cache (RESNET_EXPLAIN_CACHE), never the user's."""
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def page(spec=None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for k, v in (spec.to_params() if spec is not None else {}).items():
        at.query_params[k] = v
    return at.run()


def set_budget(at: AppTest, lrs=(0.05, 0.4), epochs=1, n_train=64) -> AppTest:
    at.multiselect(key="lrs_lrs").set_value(list(lrs))
    at.number_input(key="lrs_epochs").set_value(epochs)
    at.number_input(key="lrs_ntrain").set_value(n_train)
    return at.run()


def wait_until_done(at: AppTest, limit: float = 90.0) -> AppTest:
    return wait_for_job(at, "lrs_job", limit)


def live_warnings(at: AppTest) -> list[str]:
    """The live section's warnings (not the stored sweep's, which is missing until it is made)."""
    return [w.value for w in at.warning if not w.value.startswith("no readable stored sweep")]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_stored_sweep_renders_with_the_tables_numbers():
    if not (sw.STORED_DIR / "table.csv").is_file():
        pytest.skip("assets/lr_sweep not made yet (scripts/make_lr_sweep.py)")
    at = page()
    assert not at.exception, [e.value for e in at.exception]
    table = pd.read_csv(sw.STORED_DIR / "table.csv")
    shown = at.dataframe[0].value
    assert len(shown) == len(table)
    assert list(shown["network"]) == list(table["variant"]) and list(shown["lr"]) == list(table["lr"])
    assert list(shown["final train error %"]) == list((100 * table["train_error"]).round(2))
    assert list(shown["diverged"]) == list(table["diverged"])
    assert at.info[0].value == lr_text.state_result(table)
    stored = sw.load_stored()
    assert f"`{stored.meta['command']}`" in captions(at) and "assets/lr_sweep/README.md" in captions(at)
    assert at.button(key="lrs_stop").disabled and not at.button(key="lrs_start").disabled


def test_live_sweep_on_a_tiny_budget_finishes_then_loads(cache):
    at = set_budget(page(TINY))
    assert not at.exception, [e.value for e in at.exception]
    assert "4 runs (4 to train, 0 stored already)" in captions(at)
    assert not live_warnings(at) and not at.button(key="lrs_start").disabled
    at.button(key="lrs_start").click().run()
    at = wait_until_done(at)
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["lrs_job"]
    assert job.error is None and at.status[0].label.startswith("Finished: 4 runs")
    result = at.session_state["lrs_last"]
    assert list(zip(result["variant"], result["lr"])) == [("plain", 0.05), ("plain", 0.4),
                                                          ("residual", 0.05), ("residual", 0.4)]
    assert all((cache / "runs" / r / "model.pt").is_file() for r in result["run_id"])
    live = at.dataframe[-1].value
    assert list(live["final train error %"]) == list((100 * result["train_error"]).round(2))
    assert at.info[-1].value == lr_text.state_result(result)
    assert [s.value for s in at.subheader] == ["Your sweep"]
    # The same sweep again: every run is stored, so it loads (no training) and says so first.
    assert "4 runs (0 to train, 4 stored already): about **0 s**" in captions(at)
    at.button(key="lrs_start").click().run()
    at = wait_until_done(at)
    assert at.session_state["lrs_last"]["loaded"].all()


def test_a_sweep_over_the_cap_is_refused_with_its_estimate():
    at = set_budget(page(), lrs=sw.log_grid(0.0125, 6.4), epochs=30, n_train=5000)
    warnings = live_warnings(at)
    assert len(warnings) == 1 and warnings[0].startswith("Start is off: this would take about ")
    assert "limit of 120 s" in warnings[0] and warnings[0].count("**") == 2  # one control, named
    assert any(f"et **{label}** to" in warnings[0] for label in ("Learning rates", "Epochs", "Training images"))
    assert at.button(key="lrs_start").disabled
    at = set_budget(at, lrs=())
    assert live_warnings(at) == ["Choose at least one learning rate."]


def test_stop_ends_the_sweep_and_keeps_finished_runs(cache):
    at = set_budget(page(TINY), lrs=(0.05, 0.1, 0.2), epochs=10, n_train=500)
    assert not live_warnings(at), live_warnings(at)
    at.button(key="lrs_start").click().run()
    job = at.session_state["lrs_job"]
    time.sleep(0.5)
    at.button(key="lrs_stop").click().run()
    assert job.stop.is_set()
    at = wait_until_done(at, limit=60)
    assert not at.exception and job.error is None
    assert job.result.attrs["stopped"] and len(job.result) < 6
    assert at.status[0].label.startswith(f"Stopped after {len(job.result)} of 6 runs")


def test_a_network_too_large_to_time_is_refused_without_timing(monkeypatch):
    def no_timing(*a, **k):
        raise AssertionError("timed a network that should be refused first")

    from resnet_explain.train import estimate

    monkeypatch.setattr(estimate, "estimate_run_seconds", no_timing)
    at = page(cifar_resnet(110, width=64, in_size=16))
    assert not at.exception, [e.value for e in at.exception]
    warnings = live_warnings(at)
    assert len(warnings) == 1 and "This network cannot be trained here" in warnings[0] and "GFLOP" in warnings[0]
    assert at.button(key="lrs_start").disabled
