"""AppTest: the Transformers page shows the stored results at once, its sentences say the stored
numbers, a link restores the view, and a live pair trains with progress and shows its results."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.experiments import transformers as tfx
from resnet_explain.experiments import transformers_live as live
from resnet_explain.experiments.transformers_stored import load_stored
from resnet_explain.train import budgets

from .chartdata import chart_frames
from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "transformers.py")


def test_stored_results_show_at_once_and_the_sentences_say_their_numbers():
    stored = load_stored()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    frames = chart_frames(at)
    grad = max(frames[0], key=len)  # the first chart: ‖∂L/∂x‖ per sublayer at depth 6, GPT-2 init
    want = stored.streams[(stored.streams["depth"] == 6) & (stored.streams["init"] == "default")]
    assert sorted(grad["grad_norm"].round(9)) == sorted(want["grad_norm"].round(9))
    fl = tfx.first_last(stored.params)
    post = fl[(fl["variant"] == "post-LN") & (fl["depth"] == 6) & (fl["init"] == "default")]
    md = " ".join(m.value for m in at.markdown)
    assert f"**post-LN** {float(post['first_over_last'].iloc[0]):.2g}×" in md
    assert f"Stored: **{len(stored.finals)} of 28** cells" in " ".join(c.value for c in at.caption)
    assert "What a small character model can and cannot say" in md


def test_the_sorting_and_seed_sections_show_the_stored_numbers():
    stored = load_stored()
    if not len(stored.sort) or not len(stored.seeds):
        pytest.skip("no stored sorting results or seeds")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Sorting: does depth matter?" in [h.value for h in at.header]
    md = " ".join(m.value for m in at.markdown)
    for v, g in stored.sort.sort_values("depth").groupby("variant"):
        exact = " → ".join(f"{100 * x:.1f} %" for x in g["exact_acc"])
        assert f"**{v}**: exact sequences {exact}" in md
    for x in stored.seeds["val_loss"]:
        assert f"{x:.3f}" in md
    drawn = [f for frames in chart_frames(at) for f in frames if "accuracy" in f.columns]
    assert drawn and sorted(drawn[0].dropna(subset=["variant"])["accuracy"].round(9)) == sorted(
        pd.concat([stored.sort["token_acc"], stored.sort["exact_acc"]]).round(9))


def test_a_link_restores_depth_and_init():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tf_depth"] = "24"
    at.query_params["tf_init"] = "Xavier"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "At depth 24 with Xavier" in " ".join(m.value for m in at.markdown)


@pytest.fixture
def tiny_live(monkeypatch, tmp_path):
    """A tiny network and budget for the live pair (width 16, 4 steps), runs in a fresh cache."""
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv("RESNET_EXPLAIN_MAX_TRAIN_SECONDS", "off")  # a loaded test box must not refuse it
    b = budgets.LM_BUDGETS["lm-quick"]
    tiny = replace(b, name="lm-tiny", config=replace(b.config, max_steps=4, eval_every=2))
    monkeypatch.setitem(budgets.LM_BUDGETS, "lm-tiny", tiny)
    monkeypatch.setattr(live, "LIVE_BUDGET", "lm-tiny")
    monkeypatch.setattr(live, "LIVE_SIZES", {"width": 16, "heads": 2})
    monkeypatch.setattr(live, "LIVE_WINDOWS", 8)


def test_a_live_pair_trains_with_progress_and_shows_its_results(tiny_live):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    est = live.estimate_pair_seconds("cpu")  # the one estimator, at the host speed the page used
    assert any(f"About **{est:.0f} s**" in c.value and "this host's one timing" in c.value for c in at.caption)
    at.button(key="tf_start").click().run()
    at = wait_for_job(at, "tf_job", limit=240)
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["tf_job"]
    assert job.error is None and any(r.get("step") == 4 for r in job.records)
    md = " ".join(m.value for m in at.markdown)
    assert md.count("Deleting one whole layer") == 2  # the stored networks' and the live pair's
