"""THE estimator (train/estimate.py) and THE cap rule with its one-control remedy (train/budgets.py):
one measurement per host, every estimate arithmetic on it, the same rule on every page."""

import threading
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explain.spec import cifar_resnet, estimate_cost
from resnet_explain.train import budgets as B
from resnet_explain.train import estimate as E
from resnet_explain.train.budgets import EXPERIMENTS, Control, fix, over_cap
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import DataRecipe, RunRequest

# A host: 1 ms per layer per training step + 1 ns per FLOP; eval half that; 1 µs per pixel made.
SPEED = E.HostSpeed(("cpu", 2), E.Line(1e-3, 1e-9), E.Line(5e-4, 5e-10), 1e-6)
NET = cifar_resnet(20, width=8, in_size=16)
RECIPE = DataRecipe(n_train=320, n_test=64, size=16, difficulty=0.0)


def request(n_train=320, epochs=2, batch=32, **cfg) -> RunRequest:
    return RunRequest(NET.to_query(), replace(RECIPE, n_train=n_train),
                      TrainConfig(epochs=epochs, batch_size=batch, device="cpu", **cfg))


def test_a_run_is_its_steps_its_evaluations_and_its_images():
    flops = estimate_cost(NET).flops
    step = 20 * 1e-3 + flops * 32 * 1e-9
    evals = 20 * 5e-4 * 1 + flops * (64 * 2 + 320) * 5e-10  # one call: under the eval batch of 1024
    data = (320 + 64) * 16 * 16 * 1e-6
    assert SPEED.run_seconds(request()) == pytest.approx(10 * 2 * step + evals + data)


def test_snapshots_max_steps_and_cifar_change_the_estimate_the_way_they_change_the_run():
    base = SPEED.run_seconds(request())
    assert SPEED.run_seconds(request(snapshot_every=8)) > base  # hooks on every 8th step
    assert SPEED.run_seconds(request(max_steps=5)) < base  # the run stops at step 5
    cifar = replace(request(), data=replace(RECIPE, kind="cifar"))  # read from disk, not made
    assert SPEED.run_seconds(cifar) == pytest.approx(base - (320 + 64) * 256 * 1e-6)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(2, 6), epochs=st.integers(1, 6))
def test_more_work_never_costs_less_and_epochs_add_up(k, epochs):
    one = SPEED.run_seconds(request(epochs=epochs))
    assert SPEED.run_seconds(request(n_train=320 * k, epochs=epochs)) > one
    per_epoch = SPEED.run_seconds(request(epochs=2)) - SPEED.run_seconds(request(epochs=1))
    assert SPEED.run_seconds(request(epochs=epochs + 1)) == pytest.approx(one + per_epoch)


def test_a_deeper_or_wider_network_costs_more_in_layers_and_flops():
    wide, deep = cifar_resnet(20, width=16, in_size=16), cifar_resnet(56, width=8, in_size=16)
    assert SPEED.train_step(wide, 32) - SPEED.train_step(NET, 32) == pytest.approx(
        (estimate_cost(wide).flops - estimate_cost(NET).flops) * 32 * 1e-9)  # same layers
    assert SPEED.train_step(deep, 32) > SPEED.train_step(NET, 32) + 36 * 1e-3
    assert SPEED.forward_seconds(NET, 2048, 1024) == pytest.approx(
        2 * 20 * 5e-4 + estimate_cost(NET).flops * 2048 * 5e-10)  # two calls of 1024


@given(f1=st.floats(1e6, 1e9), ratio=st.floats(1.5, 20), per_layer=st.floats(0, 1e-2),
       per_flop=st.floats(1e-12, 1e-8), layers=st.integers(2, 200))
def test_the_line_through_two_timings_gives_back_the_costs_that_made_them(f1, ratio, per_layer, per_flop,
                                                                         layers):
    f2 = f1 * ratio
    t = lambda f: layers * per_layer + f * per_flop  # noqa: E731
    line = E.Line.through(layers, (f1, t(f1)), (f2, t(f2)))
    assert line.seconds(layers, f1) == pytest.approx(t(f1), rel=1e-6)
    assert line.seconds(layers, f2) == pytest.approx(t(f2), rel=1e-6)


@given(t1=st.floats(1e-4, 1.0), t2=st.floats(1e-4, 1.0))
def test_noisy_timings_never_give_a_negative_cost_and_never_under_estimate_them(t1, t2):
    line = E.Line.through(20, (1e6, t1), (4e6, t2))
    assert line.per_layer >= 0 and line.per_flop > 0
    assert line.seconds(20, 1e6) >= t1 * (1 - 1e-9) or line.seconds(20, 4e6) >= t2 * (1 - 1e-9)


def test_the_host_is_measured_once_per_device_type_and_thread_count(monkeypatch):
    monkeypatch.setattr(E, "_SPEEDS", {})
    calls = []

    def measure(device):
        calls.append(device)
        return SPEED

    threads = [threading.Thread(target=E.host_speed, args=("cpu", measure)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["cpu"] and E.known_speed("cpu") is SPEED  # the others waited and shared it
    assert E.estimate_run_seconds(request()) == SPEED.run_seconds(request())  # no new timing
    monkeypatch.setattr(E.torch, "get_num_threads", lambda: 7)
    assert E.known_speed("cpu") is None  # another thread count is another host
    E.host_speed("cpu", measure)
    assert calls == ["cpu", "cpu"]


def test_a_real_measurement_is_positive_and_leaves_the_random_state_alone():
    import torch

    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    got = E.measure_host("cpu", steps=1)
    assert torch.rand(1) == before
    assert got.key == ("cpu", torch.get_num_threads())
    assert got.train.per_flop > 0 and got.forward.per_flop > 0 and got.data_per_pixel > 0
    assert got.train_step(NET, 32) > 0


def test_an_experiment_is_every_run_of_it_at_the_host_speed():
    from resnet_explain.experiments.degradation import estimate_experiment_seconds, requests

    exp = EXPERIMENTS["cpu-live"].with_(depths=(8, 14), seeds=(0, 1), epochs=2, n_train=100, n_test=40)
    reqs = requests(exp, ("plain", "residual"))
    assert len(reqs) == 8
    assert estimate_experiment_seconds(exp, ("plain", "residual"), SPEED) == pytest.approx(
        sum(SPEED.run_seconds(r) for r in reqs))


# ---- THE cap rule and its remedy ------------------------------------------------------------------
def test_the_cap_rule():
    assert over_cap(121.0, 120.0) and not over_cap(120.0, 120.0) and not over_cap(1e9, None)
    assert B.cap_seconds("cpu", {}) == B.CPU_CAP_SECONDS and B.cap_seconds("cuda", {}) is None


def test_the_fix_is_the_smallest_change_of_the_control_that_keeps_the_most_work():
    epochs = Control("Epochs", [7, 6, 5, 4, 3, 2, 1], lambda e: 25.0 * e)  # 200 s at 8 epochs
    images = Control("Training images", [1250, 1000, 750, 500], lambda n: 0.11 * n)  # 165 s at 1500
    got = fix(120.0, [epochs, images])  # 4 epochs: 100 s; 1000 images: 110 s, more of the work
    assert (got.label, got.value, got.seconds) == ("Training images", 1000, pytest.approx(110.0))
    assert fix(100.0, [epochs, images]).value == 4  # 4 epochs: 100 s; 750 images: 82.5 s
    tie = Control("Training images", [1000], lambda n: 100.0)
    assert fix(100.0, [epochs, tie]).label == "Epochs"  # a tie: the page's first control
    assert fix(1.0, [epochs, images]) is None  # no single control brings it under


@given(cap=st.floats(1, 500), est=st.lists(st.floats(0, 1000), min_size=1, max_size=8))
def test_a_fix_always_fits_the_cap_and_none_means_nothing_fits(cap, est):
    c = Control("Knob", list(range(len(est))), lambda i: est[i], show=lambda i: f"#{i}")
    got = fix(cap, [c])
    if got is None:
        assert all(e > cap for e in est)
    else:
        assert got.seconds <= cap and got.value == next(i for i, e in enumerate(est) if e <= cap)
        assert got.shown == f"#{got.value}"


def test_the_refusal_names_the_estimate_the_limit_and_the_one_control():
    from resnet_explain.content.refusal import refusal, seconds

    said = refusal(154.2, 120.0, fix(120.0, [Control("Epochs", [4], lambda e: 77.0)]), setting=B.CAP_ENV)
    assert "about 154 s" in said and "limit of 120 s" in said and B.CAP_ENV in said
    assert said.endswith("Set **Epochs** to 4 (about 77 s).")
    assert refusal(200, 120, None, "Make it smaller in the **Network Builder**.").endswith("**Network Builder**.")
    assert [seconds(s) for s in (0.4, 154, 250, 7300)] == ["0 s", "154 s", "4 min 10 s", "2 h 02 min"]


def test_when_no_control_is_enough_the_one_that_does_the_most_is_named_first():
    from resnet_explain.content.refusal import refusal
    from resnet_explain.train.budgets import nearest

    epochs = Control("Epochs", [3, 2, 1], lambda e: 100.0 * e)
    images = Control("Training images", [1000, 500], lambda n: 0.3 * n)
    assert fix(90.0, [epochs, images]) is None
    first = nearest([epochs, images])
    assert (first.label, first.value) == ("Epochs", 1)  # 100 s beats 500 images' 150 s
    said = refusal(400.0, 90.0, None, first=first)
    assert said.endswith("set **Epochs** to 1 first (about 100 s), then make another smaller.")
    assert nearest([]) is None
