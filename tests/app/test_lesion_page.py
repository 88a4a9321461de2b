"""AppTest: the Lesion Study on a pair trained in this session (a tiny network and its twin)."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from .jobs import REMEMBERED_PAIR_SCRIPT, train_tiny_pair

from resnet_explain.train.degradation import near_chance
from resnet_explain.lab import lesion
from resnet_explain.ui import run_picker

from .chartdata import chart_frames

ROOT = Path(__file__).resolve().parents[2]
LESION = str(ROOT / "app_pages" / "lesion.py")
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "tiny-pair-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(cache))  # the pages find the pair in this cache
        yield train_tiny_pair(cache)


def session_page(page: str, yours, twin) -> AppTest:
    return AppTest.from_string(REMEMBERED_PAIR_SCRIPT.format(yours=yours.run_id, twin=twin.run_id, page=page),
                               default_timeout=120)


def test_lesion_on_a_session_pair_matches_the_library(pair):
    yours, twin = pair
    at = session_page(LESION, yours, twin).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["run_pairs"] == [(yours.run_id, twin.run_id)]
    assert at.selectbox(key="ls_depth").value == yours.run_id  # the session's pair comes first
    metrics = {m.label: m.value for m in at.metric}
    test = yours.test_images(48)
    for run, arch in ((twin, "plain"), (yours, "residual")):
        model, normalizer, _ = run.load_model()
        want = lesion.lesion_study(model, test, normalizer)
        assert metrics[f"{arch}-8: accuracy"] == f"{want.attrs['base_accuracy'] * 100:.1f} %"
        flagged = any(w.value.startswith(f"{arch.capitalize()}-8 barely learned") for w in at.warning)
        assert flagged == near_chance(want.attrs["base_accuracy"], 0.1), arch
        bars = max(chart_frames(at)[0], key=len)
        mine = bars[bars["arch"] == arch].set_index("block")
        for block, drop in zip(want["block"], want["accuracy_drop"]):
            if np.isfinite(drop):
                assert np.isclose(mine.loc[block, "drop_pct"], drop * 100), (arch, block)
    caps = " ".join(c.value for c in at.caption)
    assert f"run `{yours.run_id}`, trained here" in caps and f"run `{twin.run_id}`" in caps
    assert "256 training and 48 test images" in caps and "Tested on 48 test images" in caps
    # a rerun keeps one entry for the pair (remember_pair does not duplicate it)
    at.run()
    assert at.session_state["run_pairs"] == [(yours.run_id, twin.run_id)]


def test_a_link_selects_the_sessions_pair_and_ignores_other_runs(pair):
    yours, twin = pair
    at = session_page(LESION, yours, twin)
    at.query_params["run"] = twin.run_id  # either run of the pair names it
    at.run()
    assert not at.exception and at.selectbox(key="ls_depth").value == yours.run_id
    other = session_page(LESION, yours, twin)
    other.query_params["run"] = "0123456789abcdef"  # not one of this session's runs
    other.run()
    assert not other.exception
    assert any("is not one of this session's runs" in c.value for c in other.caption)
    labels = other.selectbox(key="ls_depth").options  # this session's pair, then the shipped ones
    assert labels[0] == run_picker.pair_label(yours) and not any("0123456789" in o for o in labels)
    assert all(o.startswith("shipped twins, depth ") for o in labels[1:])
