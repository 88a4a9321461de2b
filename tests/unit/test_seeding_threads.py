"""The same seed gives the same numbers while other threads seed torch's global generator too.

On a Streamlit server every session's script, the warm-up's headless session and the host-speed
measurement are threads of one process, and torch has one global generator for all of them: a
model's constructor draws its default init from it, and ``torch.random.fork_rng`` saves and restores
it with no lock. Before :func:`resnet_explain.seeding.global_rng`, a probe beside another thread's
model build measured other numbers (plain-56 at seed 0: 12,741 instead of 12,060 — workshop act 3's
"1.0 × 10⁴-fold / 18-fold" in a browser, where AppTest and content.story.ACT_RATIOS said 1.21 × 10⁴),
and the page's cache then kept the wrong one for everyone."""

import threading

import numpy as np
import torch

from resnet_explain.model import build_model
from resnet_explain.probe import probe_spec
from resnet_explain.seeding import global_rng
from resnet_explain.spec import preset


def _weights(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def _beside_other_builds(fn, rounds: int = 3):
    """``fn()`` ``rounds`` times while another thread builds (and so seeds) models non-stop."""
    stop, out = threading.Event(), []

    def other():
        while not stop.is_set():
            build_model(preset("plain20"), seed=5)
            with global_rng():  # what the library's other seeded sections do (Captum's noise, timing)
                torch.manual_seed(123)
                torch.rand(64)

    t = threading.Thread(target=other, daemon=True)
    t.start()
    try:
        out = [fn() for _ in range(rounds)]
    finally:
        stop.set()
        t.join(timeout=60)
    return out


def test_a_build_beside_other_threads_builds_the_same_weights():
    spec = preset("resnet20")
    alone = _weights(build_model(spec, seed=0))
    for got in _beside_other_builds(lambda: _weights(build_model(spec, seed=0))):
        assert len(got) == len(alone)
        for a, b in zip(alone, got):
            np.testing.assert_array_equal(a, b)


def test_a_probe_beside_other_threads_measures_the_same_gradients():
    spec = preset("plain20")
    alone = probe_spec(spec, seed=0, batch=8).blocks["grad_norm"].to_numpy()
    for got in _beside_other_builds(lambda: probe_spec(spec, seed=0, batch=8).blocks["grad_norm"].to_numpy()):
        np.testing.assert_array_equal(alone, got)


def test_the_callers_generator_is_left_as_it_was():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    build_model(preset("resnet20"), seed=0)
    probe_spec(preset("plain20"), seed=1, batch=4)
    assert torch.equal(torch.rand(3), expected)


def test_the_library_seeds_the_global_generator_only_through_global_rng():
    """Every ``fork_rng`` in the library is :func:`global_rng`'s, but the trainer's: its noise
    generator is held for a whole run (minutes), which must not stop other sessions' builds; a run
    holds the compute slot, which probes also take, and only DropPath or a dropout shortcut draw
    from it (say so where that changes)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "resnet_explain"
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "fork_rng(" in p.read_text())
    assert found == ["seeding.py", "train/trainer.py"], found
