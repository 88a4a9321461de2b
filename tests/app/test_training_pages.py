"""AppTest for the Training page (stored runs, a tiny live run, Stop) and the Lesion page."""

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from resnet_explain.content import training as words
from resnet_explain.experiments import degradation as dg
from resnet_explain.experiments import lesion
from resnet_explain.experiments.convergence import pairs
from resnet_explain.train import shipped as zoo

from .chartdata import chart_frames
from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
TRAINING = str(ROOT / "app_pages" / "training.py")
LESION = str(ROOT / "app_pages" / "lesion.py")
TIMEOUT = 120


def training_page() -> AppTest:
    return AppTest.from_file(TRAINING, default_timeout=TIMEOUT).run()


def set_budget(at: AppTest, depths=(8, 14), archs=("plain", "residual"), epochs=2, n_train=96,
               n_test=64) -> AppTest:
    at.multiselect(key="tr_depths").set_value(list(depths))
    at.multiselect(key="tr_archs").set_value(list(archs))
    at.number_input(key="tr_epochs").set_value(epochs)
    at.number_input(key="tr_ntrain").set_value(n_train)
    at.number_input(key="tr_ntest").set_value(n_test)
    return at.run()


def wait_until_done(at: AppTest, limit: float = 90.0) -> AppTest:
    return wait_for_job(at, "tr_job", limit)


def status_labels(at: AppTest) -> list[str]:
    return [s.label for s in at.status]


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_training_shows_stored_runs_table_and_verdicts():
    at = training_page()
    assert not at.exception, [e.value for e in at.exception]
    runs = pd.read_csv(ROOT / "assets" / "degradation" / "runs.csv")
    table = at.table[0].value
    assert len(table) == 4 and list(table["architecture"]) == ["plain", "plain", "residual", "residual"]
    # The table's numbers are the runs' mean ± std (independently recomputed here).
    p56 = runs[(runs["arch"] == "plain") & (runs["depth"] == 56)]["train_error"] * 100
    assert table.iloc[1]["training error (%)"] == f"{p56.mean():.2f} ± {p56.std(ddof=1):.2f}"
    text = markdown(at)
    assert "plain-56 trains worse than plain-20" in text
    # the count is of the testable claims only (a claim on a network at chance is not testable)
    stored = dg.load_stored()
    vs = words.verdicts(dg.check_hypothesis(stored.table), stored.n_seeds)
    assert words.hypothesis_sentence(vs) in text
    for v in vs:
        assert ("not testable here" in v["verdict"]) == (not v["testable"])
    # convergence in numbers: the table, and one sentence per twin pair
    conv = stored.convergence
    shown = at.table[1].value
    assert list(shown["architecture"]) == list(conv["arch"]) and "steps to 20%" in shown.columns
    for r, p in pairs(conv):
        assert words.convergence_sentence(r, p, 0.2) in text
    # ... at the resolution its histories allow, said under the table
    assert words.convergence_caption(**conv.attrs) in [c.value for c in at.caption]
    assert "**resolution: " in words.convergence_caption(**conv.attrs)
    # The stored curves: mean over seeds of the last epoch, as in curves.csv.
    curves = pd.read_csv(ROOT / "assets" / "degradation" / "curves.csv")
    frames = chart_frames(at)
    long = max(frames[0], key=len)
    last = long[(long["net"] == "plain-56") & (long["metric"] == "training error")]
    last = last[last["epoch"] == last["epoch"].max()]
    want = curves[(curves["arch"] == "plain") & (curves["depth"] == 56)]
    want = want[want["epoch"] == want["epoch"].max()]["train_error"].mean() * 100
    assert np.isclose(float(last["mean"].iloc[0]), want)
    assert [b.label for b in at.button if b.key == "tr_stop"] and at.button(key="tr_stop").disabled
    # the cpu-live preset is the default budget, and labelled as such
    assert any("`cpu-live` preset" in c.value for c in at.caption)
    assert at.number_input(key="tr_epochs").value == 8


def test_training_live_tiny_budget_runs_to_the_final_table():
    at = set_budget(training_page())
    assert not at.button(key="tr_start").disabled
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert at.button(key="tr_start").disabled and not at.button(key="tr_stop").disabled
    if at.session_state["tr_job"].state != "done":
        assert at.status[0].state == "running"
    at = wait_until_done(at)
    assert at.status[0].state == "complete"
    assert not at.exception, [e.value for e in at.exception]
    kept = at.session_state["tr_runs"]
    assert len(kept) == 1 and len(kept[0]["runs"]) == 4
    assert any(label.startswith("Finished: 4 networks, 8 epochs") for label in status_labels(at))
    # stored: the errors (the first such table), the convergence, the papers'; then the live errors
    live = [t.value for t in at.table if "training error (%)" in t.value.columns][1]
    assert list(live["depth"]) == [8, 14, 8, 14] and (live["seeds"] == 1).all()
    text = markdown(at)
    assert "plain-14 trains worse than plain-8" in text
    assert "**residual-14** reached 20% training error" in text  # the live run's convergence
    # a live run keeps its per-step curve: its convergence is read per window of steps
    assert any(re.search(r"resolution: \d+ steps", c.value) for c in at.caption)
    assert "Stored and live, side by side" in [s.value for s in at.subheader][-1]
    assert not at.button(key="tr_start").disabled and at.button(key="tr_stop").disabled


def test_training_stop_button_ends_the_run_and_frees_the_server():
    at = set_budget(training_page(), depths=(14, 20), epochs=30, n_train=1000, n_test=64)
    at.button(key="tr_start").click().run()
    job = at.session_state["tr_job"]
    time.sleep(0.5)
    at.button(key="tr_stop").click().run()  # its on_click sets the run's threading.Event
    assert job.stop.is_set()
    at = wait_until_done(at, limit=60)
    assert not at.exception
    assert job.error is None and job.result.meta["stopped"]
    assert len(job.records) < job.meta["planned_epochs"] == 2 * 2 * 30
    assert any(label.startswith("Stopped after") for label in status_labels(at))
    # The compute slot was released: a next (tiny) run gets it and finishes.
    at = set_budget(at, depths=(8,), archs=("residual",), epochs=1, n_train=64, n_test=32)
    at.button(key="tr_start").click().run()
    at = wait_until_done(at, limit=60)
    assert at.session_state["tr_job"].result.meta["stopped"] is False
    assert not at.exception


def test_training_run_nobody_watches_stops_itself():
    at = set_budget(training_page(), depths=(14, 20), epochs=30, n_train=1000, n_test=64)
    at.button(key="tr_start").click().run()
    job = at.session_state["tr_job"]
    job.last_poll -= 3600  # as if the tab had been closed an hour ago: no page polls it any more
    t0 = time.monotonic()
    while job.running and time.monotonic() - t0 < 60:
        time.sleep(0.2)
    assert not job.running and job.abandoned and job.error is None
    assert job.result is None or job.result.meta["stopped"]  # None: it stopped before its first step
    at = wait_until_done(at, limit=30)
    assert any(label.startswith("Stopped (nobody was watching) after") for label in status_labels(at))


def test_training_refuses_a_budget_over_the_cap_and_names_the_one_control_that_fits(monkeypatch):
    """The estimate is the library's, on a host of known speed installed as this host's one
    measurement; the cap is THE cap (120 s), not a page's own."""
    from resnet_explain.content.refusal import seconds
    from resnet_explain.train import estimate as E
    from resnet_explain.train.budgets import EXPERIMENTS

    speed = E.HostSpeed(("cpu", 1), E.Line(1e-3, 1e-10), E.Line(5e-4, 5e-11), 1e-7)
    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), speed)
    at = set_budget(training_page(), depths=(20, 56), epochs=30, n_train=5000)
    exp = EXPERIMENTS["cpu-live"].with_(depths=(20, 56), seeds=(0,), data_seed=0, epochs=30, n_train=5000,
                                        n_test=at.session_state["tr_ntest"], device="cpu")
    est = dg.estimate_experiment_seconds(exp, ("plain", "residual"), speed)
    warning = [w.value for w in at.warning if w.value.startswith("Start is off")]
    assert est > 120 and warning and f"about {seconds(est)} here" in warning[0], [w.value for w in at.warning]
    assert "limit of 120 s" in warning[0] and warning[0].count("Set **") == 1
    assert any(f"Set **{c}** to" in warning[0] for c in ("Depths", "Epochs", "Training images"))
    assert at.button(key="tr_start").disabled


def test_training_refuses_an_empty_choice():
    at = training_page()
    at.multiselect(key="tr_archs").set_value([]).run()
    assert at.button(key="tr_start").disabled
    assert any("at least one architecture" in w.value for w in at.warning)


def lesion_page(depth: int, n: int = 100) -> AppTest:
    at = AppTest.from_file(LESION, default_timeout=TIMEOUT)
    at.session_state["ls_n"] = n
    at.session_state["ls_depth"] = depth
    at.run()  # the study runs as a background job (unless this process has it already)
    return wait_for_job(at, "ls_job") if "ls_job" in at.session_state else at


def test_lesion_page_depth20_charts_every_block_and_marks_not_removable():
    at = lesion_page(20)
    assert not at.exception, [e.value for e in at.exception]
    frames = chart_frames(at)[0]
    long = max(frames, key=len)  # the bars: every deletable block of both twins
    assert len(long) == 16 and long["removable"].all()
    bad = next(f for f in frames if "status" in f and (f["status"] == "not removable").any())
    assert len(long) + len(bad) == 18  # 9 blocks x 2 twins: none dropped
    assert set(bad["arch"]) == {"plain"} and set(bad["block"]) == {"stage2.block0", "stage3.block0"}
    assert (bad["status"] == "not removable").all()
    assert set(long.loc[long["downsampling"], "block"]) == {"stage2.block0", "stage3.block0"}
    # One drop, recomputed independently with the library on a fresh checkpoint.
    model, norm, meta = zoo.load("residual20")
    data = zoo.test_images(meta, 100)
    x, y = norm(data.x), data.y
    base = lesion.accuracy(model, x, y)
    acc = lesion.accuracy(model, x, y, lesion=["stage3.block1"])
    row = long[(long["arch"] == "residual") & (long["block"] == "stage3.block1")].iloc[0]
    assert np.isclose(row["drop_pct"], (base - acc) * 100)
    assert len(model._forward_hooks) == 0 and all(len(m._forward_hooks) == 0 for m in model.modules())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["residual-20: accuracy"] == f"{base * 100:.1f} %"
    text = markdown(at)
    assert "Deleting one block of **plain-20**" in text and "cannot be deleted at all" in text
    assert "In short" in text
    # the ||F(x)||/||x|| chart: residual blocks only
    ratio = max(chart_frames(at)[1], key=len)
    assert set(ratio["arch"]) == {"residual"} and ratio["residual_ratio"].notna().all()


def test_lesion_page_depth56_warns_that_plain56_never_learned():
    at = lesion_page(56)
    assert not at.exception
    assert any("**plain-56 never left chance**" in w.value and "GPU" in w.value for w in at.warning)
    assert "In short" not in markdown(at)  # no plain-vs-residual verdict from an untrained twin
