"""Helpers the page tests share: wait for a page's background job, and a tiny trained pair."""

import time

from streamlit.testing.v1 import AppTest


def wait_for_job(at: AppTest, key: str, limit: float = 90.0) -> AppTest:
    """Poll the page (as the fragment's timer does in a browser) until the job kept in
    ``session_state[key]`` is done and the page has collected it."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        time.sleep(0.3)
        at.run()
        job = at.session_state[key]
        if job.state == "done" and job.collected:
            return at.run()
    raise AssertionError(f"the job in {key!r} did not finish in {limit:.0f} s")


def tiny_pair_request(skip: bool):
    """A network small enough to train in seconds, the same for every module that needs a trained
    pair (a module loads what another trained, when they share the cache)."""
    from resnet_explain.spec import cifar_resnet
    from resnet_explain.train.config import TrainConfig
    from resnet_explain.train.runs import DataRecipe, RunRequest

    spec = cifar_resnet(8, skip=skip, width=4, in_size=8)
    return RunRequest(spec=spec.to_query(), data=DataRecipe(n_train=256, n_test=48, size=8, difficulty=0.0),
                      config=TrainConfig(epochs=4, batch_size=16, lr=0.05, seed=0, device="cpu"))


# A page as the "Train your network" page leaves the session: the pair remembered, then the page.
REMEMBERED_PAIR_SCRIPT = """
import runpy
from resnet_explain import ui
ui.remember_pair({yours!r}, {twin!r})
runpy.run_path({page!r}, run_name="__main__")
"""


def train_tiny_pair(cache_dir):
    """(yours, twin): the tiny residual network and its plain twin as runs in ``cache_dir``
    (trained once; a second module with the same cache loads them)."""
    import pytest

    from resnet_explain.train.runs import RunStore, train_run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(cache_dir))
        yours, _ = train_run(tiny_pair_request(True), RunStore())
        twin, _ = train_run(tiny_pair_request(False), RunStore())
    return yours, twin
