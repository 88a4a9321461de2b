"""AppTest: the Lesion Study on a pair trained in this session (a tiny network and its twin)."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.train.degradation import near_chance
from resnet_explain.lab import lesion
from resnet_explain.spec import cifar_resnet
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import DataRecipe, RunRequest, RunStore, train_run
from resnet_explain.ui import run_picker

from .chartdata import chart_frames

ROOT = Path(__file__).resolve().parents[2]
LESION = str(ROOT / "app_pages" / "lesion.py")
# The page as the "Train your network" page leaves the session: the pair remembered, then the page.
SCRIPT = """
import runpy
from resnet_explain import ui
ui.remember_pair({yours!r}, {twin!r})
runpy.run_path({page!r}, run_name="__main__")
"""


def tiny_pair_request(skip: bool) -> RunRequest:
    """A network small enough to train in seconds (the same in test_attribution_page.py: the
    second module loads the runs the first trained)."""
    spec = cifar_resnet(8, skip=skip, width=4, in_size=8)
    return RunRequest(spec=spec.to_query(), data=DataRecipe(n_train=256, n_test=48, size=8, difficulty=0.0),
                      config=TrainConfig(epochs=4, batch_size=16, lr=0.05, seed=0, device="cpu"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path_factory.getbasetemp() / "tiny-pair-cache"))
        yours, _ = train_run(tiny_pair_request(True), RunStore())
        twin, _ = train_run(tiny_pair_request(False), RunStore())
        yield yours, twin


def session_page(page: str, yours, twin) -> AppTest:
    return AppTest.from_string(SCRIPT.format(yours=yours.run_id, twin=twin.run_id, page=page),
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
