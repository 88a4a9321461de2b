"""AppTest: the Lesion Study on a pair trained in this session (a tiny network and its twin)."""

import time
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit.testing.v1 import AppTest

from resnet_explain.chance import near_chance
from resnet_explain.experiments import lesion
from resnet_explain.ui import run_picker

from .chartdata import chart_frames
from .jobs import REMEMBERED_PAIR_SCRIPT, wait_for_job

ROOT = Path(__file__).resolve().parents[2]
LESION = str(ROOT / "app_pages" / "lesion.py")
def session_page(page: str, yours, twin) -> AppTest:
    return AppTest.from_string(REMEMBERED_PAIR_SCRIPT.format(yours=yours.run_id, twin=twin.run_id, page=page),
                               default_timeout=120)


def test_lesion_on_a_session_pair_matches_the_library(pair):
    yours, twin = pair
    at = session_page(LESION, yours, twin).run()
    assert not at.exception, [e.value for e in at.exception]
    if "ls_job" in at.session_state:  # short: it started by itself, as a background job
        at = wait_for_job(at, "ls_job")
        assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["run_pairs"] == [(yours.run_id, twin.run_id)]
    assert at.selectbox(key="ls_depth").value == yours.run_id  # the session's pair comes first
    metrics = {m.label: m.value for m in at.metric}
    test = yours.test_images(48)
    for run, arch in ((twin, "plain"), (yours, "residual")):
        model, normalizer, _ = run.load_model()
        want = lesion.lesion_study(model, test, normalizer)
        assert metrics[f"{arch}-8: accuracy"] == f"{want.attrs['base_accuracy'] * 100:.1f} %"
        flagged = any(f"**{arch}-8 never left chance**" in w.value for w in at.warning)
        assert flagged == near_chance(want.attrs["base_accuracy"], 0.1), arch
        bars = max(chart_frames(at)[0], key=len)
        mine = bars[bars["arch"] == arch].set_index("block")
        for block, drop in zip(want["block"], want["accuracy_drop"]):
            if np.isfinite(drop):
                assert np.isclose(mine.loc[block, "drop_pct"], drop * 100), (arch, block)
    caps = " ".join(c.value for c in at.caption)
    assert f"run `{yours.run_id}`, trained here" in caps and f"run `{twin.run_id}`" in caps
    assert "256 training and 48 test images" in caps and "Tested on 48 test images" in caps
    # the numbers are drawn when their expander opens (a table on the default view costs every
    # new browser Streamlit's table code: scripts/bench_pages.py --cpu)
    assert "The numbers (per block)" in [e.label for e in at.main.expander] and not at.dataframe
    at.session_state["ls_numbers"] = True  # what a click on the expander sends
    # a rerun keeps one entry for the pair (remember_pair does not duplicate it)
    at.run()
    assert at.session_state["run_pairs"] == [(yours.run_id, twin.run_id)]
    (table,) = at.dataframe
    assert set(table.value["arch"]) == {"plain", "residual"}


def test_a_link_selects_the_sessions_pair_and_ignores_other_runs(pair):
    yours, twin = pair
    at = session_page(LESION, yours, twin)
    at.query_params["run"] = twin.run_id  # either run of the pair names it
    at.run()
    assert not at.exception and at.selectbox(key="ls_depth").value == yours.run_id
    other = session_page(LESION, yours, twin)
    other.query_params["run"] = "0123456789abcdef"  # a run this server does not have
    other.run()
    assert not other.exception
    assert any("this server has no such run" in w.value for w in other.warning)  # said visibly
    labels = other.selectbox(key="ls_depth").options  # this session's pair, then the shipped ones
    assert labels[0] == run_picker.pair_label(yours) and not any("0123456789" in o for o in labels)
    assert all(o.startswith("shipped twins, depth ") for o in labels[1:])


def test_a_long_study_shows_its_estimate_and_waits_for_start(pair, monkeypatch):
    """Issue: depth 56 on 2000 images blocked the page for 96 s with no warning. A study longer
    than the auto-start limit shows its measured estimate and waits for Start."""
    monkeypatch.setenv("RESNET_EXPLAIN_LESION_AUTO_S", "0")  # every study counts as long here
    st.cache_resource.clear()  # the process keeps finished studies: start from none
    yours, twin = pair
    at = session_page(LESION, yours, twin).run()
    assert not at.exception, [e.value for e in at.exception]
    planned = lesion.lesion_passes(twin.spec) + lesion.lesion_passes(yours.spec)
    estimate = [c.value for c in at.caption if f"{planned} forward passes over 48 test images" in c.value]
    assert estimate and "about **" in estimate[0] and "timed once when it was idle" in estimate[0]
    assert "ls_job" not in at.session_state and not at.metric  # nothing runs before Start
    start, stop = (next(b for b in at.button if b.label == label) for label in ("Start", "Stop"))
    assert not start.disabled and stop.disabled
    start.click().run()
    at = wait_for_job(at, "ls_job")
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["ls_job"].records[-1] == planned  # one progress count per forward pass
    assert {m.label for m in at.metric} >= {"plain-8: accuracy", "residual-8: accuracy"}
    assert not [c for c in at.caption if "Not yet computed" in c.value]


def test_stop_ends_a_running_study_and_keeps_nothing(pair, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_LESION_AUTO_S", "0")
    st.cache_resource.clear()
    real = lesion.lesion_study

    def slow(*args, should_stop=None, **kw):  # a study that takes until it is stopped
        deadline = time.monotonic() + 60
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.05)
        return real(*args, should_stop=should_stop, **kw)

    monkeypatch.setattr(lesion, "lesion_study", slow)
    yours, twin = pair
    at = session_page(LESION, yours, twin).run()
    next(b for b in at.button if b.label == "Start").click().run()
    job = at.session_state["ls_job"]
    assert job.running and next(b for b in at.button if b.label == "Stop").disabled is False
    next(b for b in at.button if b.label == "Stop").click().run()
    at = wait_for_job(at, "ls_job")
    assert not at.exception, [e.value for e in at.exception]
    assert job.stop.is_set() and job.elapsed < 30
    assert any(s.label.startswith("Stopped after") for s in at.status)
    assert not at.metric  # a stopped study shows no numbers
    assert not next(b for b in at.button if b.label == "Start").disabled  # it can be started again
