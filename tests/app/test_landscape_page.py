"""AppTest for the Loss Landscape page: a session's tiny pair computed live on a small grid (the
numbers on the page are the library's), loaded the second time; Stop; the time cap; the stored
default view of the shipped twins."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.content import landscape as words
from resnet_explain.experiments import landscape as L
from resnet_explain.experiments import landscape_store as store
from resnet_explain.train import shipped

from .chartdata import chart_frames
from .jobs import REMEMBERED_PAIR_SCRIPT, wait_for_job

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "landscape.py")


@pytest.fixture
def no_landscapes(pair):
    """Each test starts with no cached landscapes (the runs stay)."""
    shutil.rmtree(store.cache_root(), ignore_errors=True)


def session_page(yours, twin, **params) -> AppTest:
    at = AppTest.from_string(REMEMBERED_PAIR_SCRIPT.format(yours=yours.run_id, twin=twin.run_id, page=PAGE),
                             default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


SMALL = {"ll_grid": "11", "ll_span": "0.5", "ll_images": "128"}


def test_a_session_pair_is_computed_live_and_shows_the_librarys_numbers(pair, no_landscapes):
    yours, twin = pair
    at = session_page(yours, twin, **SMALL)
    assert not at.exception, [e.value for e in at.exception]
    caps = " ".join(c.value for c in at.caption)
    assert "about" in caps and "passes over the sample each" in caps  # the estimate before Start
    assert not at.table, "nothing is shown before it is computed"
    at.button(key="ll_start").click().run()
    at = wait_for_job(at, "ll_job", 120)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["ll_job"].error is None, at.session_state["ll_job"].error
    s = L.LandscapeSettings(grid=11, span=0.5, images=128, seed=0)
    want = {r.run_id: store.find(r.run_id, s) for r in (yours, twin)}
    assert all(v is not None for v in want.values()), "both results are in the cache"
    table = at.table[0].value.set_index("measure")
    assert len(table.columns) == 2
    for col in table.columns:
        rid = yours.run_id if col.startswith("Residual") else twin.run_id
        assert table.loc["λmax, the top Hessian eigenvalue", col] == format(want[rid].numbers["lambda_max"], ".3g")
        assert table.loc["slice: share of points curving down", col] == f"{want[rid].numbers['nonconvex_share']:.0%}"
        assert table.loc["init→trained line: rise above the start", col] == format(
            want[rid].numbers["path_barrier"], ".3g")
    frames = chart_frames(at)
    cells = [f for f in frames[0] if "log10_loss" in f]
    assert [len(f) for f in cells] == [121, 121] and all(np.isfinite(f["log10_loss"]).all() for f in cells)
    assert any("level" in f and len(f) for f in frames[0]), "iso-loss lines are drawn"
    # a fair pair is compared; one whose twin never left chance or trained far worse is flagged
    unfair = words.pair_warning(want[twin.run_id], want[yours.run_id])
    assert any("sharpest curvature" in m.value for m in at.markdown) == (unfair is None)
    assert (unfair is not None) == any(w.value == unfair for w in at.warning)
    # the same settings again: loaded, no Compute needed
    again = session_page(yours, twin, **SMALL)
    assert again.button(key="ll_start").disabled and len(again.table) == 1
    computed = again.table[0].value.set_index("measure").loc["computed on"]
    assert all(c.endswith("this server's cache") for c in computed)


def test_stop_ends_the_job_and_stores_nothing(pair, no_landscapes, monkeypatch):
    from resnet_explain.train import estimate as E  # a fast host, installed as this host's one timing:

    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), E.HostSpeed(("cpu", 2), E.Line(1e-5, 1e-11),
                                                                   E.Line(1e-5, 1e-11), 1e-8))  # not refused
    yours, twin = pair
    at = session_page(yours, twin, ll_grid="51", ll_span="0.5", ll_images="128")
    at.button(key="ll_start").click().run()
    at.button(key="ll_stop").click().run()
    at = wait_for_job(at, "ll_job", 120)
    assert not at.exception
    s = L.LandscapeSettings(grid=51, span=0.5, images=128, seed=0)
    assert store.find(yours.run_id, s) is None or store.find(twin.run_id, s) is None
    assert not at.table


def test_work_over_the_cpu_cap_is_refused(pair, no_landscapes, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_MAX_TRAIN_SECONDS", "0.001")
    yours, twin = pair
    at = session_page(yours, twin, **SMALL)
    refusal = [w.value for w in at.warning if w.value.startswith("Start is off")]
    assert refusal and "limit of 0 s" in refusal[0] and "Set **" not in refusal[0]  # the smallest grid and
    assert at.button(key="ll_start").disabled  # sample are chosen already: no control fits 1 ms


def test_the_shipped_twins_default_view_is_stored_and_instant():
    runs = [shipped.run(n) for n in shipped.pairs()[20]]
    if any(store.find(r.run_id, L.LandscapeSettings(), roots=(store.STORED_DIR,)) is None for r in runs):
        pytest.skip("assets/landscapes not made yet (scripts/make_landscapes.py)")
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="ll_start").disabled  # nothing to compute
    table = at.table[0].value.set_index("measure")
    assert set(table.columns) == {"Plain-20", "Residual-20"}
    assert all(c.endswith("stored with the app") for c in table.loc["computed on"])
