"""The time estimate made before a training run starts (train/estimate.py)."""

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_explain.experiments.degradation import load_stored, planned_epochs
from resnet_explain.train.budgets import EXPERIMENTS
from resnet_explain.train.estimate import Throughput, estimate_seconds

LIVE = EXPERIMENTS["cpu-live"]


def _runs(speeds: dict[int, list[float]]) -> pd.DataFrame:
    """Measured runs: per depth, the images/s of each seed."""
    return pd.DataFrame([{"arch": "plain", "depth": d, "seed": s, "images_per_s": v}
                         for d, vs in speeds.items() for s, v in enumerate(vs)])


RUNS = _runs({20: [2000.0, 2000.0], 56: [500.0, 1000.0]})  # 1/2000 s and 1/750 s per image


def test_fit_returns_the_measured_time_per_image_at_the_measured_depths():
    fit = Throughput.fit(RUNS)
    assert math.isclose(fit.seconds_per_image(20), 1 / 2000)
    assert math.isclose(fit.seconds_per_image(56), 1 / 750)  # mean speed of the seeds: 750 images/s
    # linear in between: halfway in depth is halfway in time
    assert math.isclose(fit.seconds_per_image(38), (1 / 2000 + 1 / 750) / 2)


def test_one_depth_is_proportional_to_depth_and_the_line_never_reaches_zero():
    fit = Throughput.fit(_runs({20: [1000.0]}))
    assert math.isclose(fit.seconds_per_image(40), 2 / 1000)
    falling = Throughput.fit(_runs({8: [100.0], 56: [1000.0]}))  # deeper measured faster: odd data
    assert falling.seconds_per_image(200) == pytest.approx(1e-6)


def test_estimate_is_the_sum_over_networks_of_images_times_epochs_times_time_per_image():
    exp = LIVE.with_(depths=(20, 56), seeds=(0,), n_train=1000, epochs=3)
    want = 2 * 1000 * 3 * (1 / 2000 + 1 / 750)  # two architectures
    assert math.isclose(estimate_seconds(exp, ("plain", "residual"), RUNS), want)
    assert math.isclose(estimate_seconds(exp, ("residual",), RUNS), want / 2)
    three = exp.with_(seeds=(0, 1, 2))
    assert math.isclose(estimate_seconds(three, ("plain",), RUNS), 3 * want / 2)


@given(n=st.integers(32, 5000), epochs=st.integers(1, 30), k=st.integers(2, 5))
def test_estimate_is_linear_in_images_and_epochs(n, epochs, k):
    exp = LIVE.with_(n_train=n, epochs=epochs)
    base = estimate_seconds(exp, ("plain", "residual"), RUNS)
    assert math.isclose(estimate_seconds(exp.with_(n_train=k * n), ("plain", "residual"), RUNS), k * base)
    assert math.isclose(estimate_seconds(exp.with_(epochs=k * epochs), ("plain", "residual"), RUNS),
                        k * base)


def test_planned_epochs_counts_every_network_seed_and_epoch():
    exp = LIVE.with_(depths=(8, 14, 20), seeds=(0, 1), epochs=4)
    assert planned_epochs(exp, ("plain", "residual")) == 3 * 2 * 2 * 4
    assert planned_epochs(exp, ("plain",)) == 24


def test_estimate_of_the_stored_experiment_is_close_to_its_measured_time():
    """The fit on the stored runs, asked for the stored budget, gives back most of the measured
    training time (it leaves out evaluation after each epoch, so it comes out a little lower)."""
    stored = load_stored()
    est = estimate_seconds(EXPERIMENTS["cpu-budget"], ("plain", "residual"), stored.runs)
    measured = stored.runs["seconds"].sum()
    assert 0.7 * measured < est < measured


def test_fit_refuses_missing_or_impossible_speeds():
    with pytest.raises(ValueError):
        Throughput.fit(RUNS.iloc[:0])
    with pytest.raises(ValueError):
        Throughput.fit(_runs({20: [0.0]}))


def test_run_estimate_scales_with_flops_images_and_epochs_and_matches_the_stored_runs():
    from dataclasses import replace

    from resnet_explain.spec import cifar_resnet
    from resnet_explain.train.estimate import estimate_run_seconds as estimate
    from resnet_explain.train.runs import RunRequest

    stored = load_stored()
    exp = EXPERIMENTS["cpu-budget"]
    recipe = exp.data

    def estimate_run_seconds(req):  # scaled by FLOPs from the stored runs: nothing runs
        return estimate(req, stored.runs)

    for depth in (20, 56):
        req = RunRequest(cifar_resnet(depth, width=8, in_size=16).to_query(), recipe, exp.config)
        measured = stored.runs[stored.runs["depth"] == depth]
        train_s = exp.n_train * exp.config.epochs / measured["images_per_s"].mean()
        # one constant per FLOP for both depths: within 30 % of each depth's measured time
        assert 0.7 * train_s < estimate_run_seconds(req) < 1.3 * train_s
    req = RunRequest(cifar_resnet(20, width=8, in_size=16).to_query(), recipe, exp.config)
    twice = replace(req, data=replace(recipe, n_train=2 * exp.n_train))
    assert estimate_run_seconds(twice) == pytest.approx(2 * estimate_run_seconds(req))
    wide = RunRequest(cifar_resnet(20, width=16, in_size=16).to_query(), recipe, exp.config)
    assert 3.5 < estimate_run_seconds(wide) / estimate_run_seconds(req) < 4.5  # 4x the FLOPs



def test_measured_estimate_times_real_steps_of_this_network():
    from dataclasses import replace

    from resnet_explain.spec import cifar_resnet
    from resnet_explain.train.config import TrainConfig
    from resnet_explain.train.estimate import estimate_run_seconds, measure_images_per_second
    from resnet_explain.train.runs import DataRecipe, RunRequest

    recipe = DataRecipe(n_train=96, n_test=32, size=8, difficulty=0.0)
    req = RunRequest(cifar_resnet(8, width=2, in_size=8).to_query(), recipe,
                     TrainConfig(epochs=2, batch_size=16, device="cpu"))
    ips = measure_images_per_second(req)
    assert 10 < ips < 1e6
    est = estimate_run_seconds(req)
    assert est == pytest.approx((96 * 2 + (32 * 2 + 96) / 3) / ips, rel=0.5)  # measured again
    bigger = replace(req, data=replace(recipe, n_train=960, n_test=320))
    assert estimate_run_seconds(bigger) > 3 * est


def test_an_experiment_is_estimated_at_the_measured_speed_of_each_depth():
    from resnet_explain.experiments.degradation import estimate_experiment_seconds, requests
    from resnet_explain.train.estimate import step_images

    exp = EXPERIMENTS["cpu-live"].with_(depths=(8, 14), seeds=(0, 1), epochs=2, n_train=100, n_test=40)
    measured = []

    def measure(req):  # a host where depth 8 trains 1000 images/s and depth 14 500
        measured.append(req.netspec.depth)
        return {8: 1000.0, 14: 500.0}[req.netspec.depth]

    est = estimate_experiment_seconds(exp, ("plain", "residual"), measure=measure)
    reqs = requests(exp, ("plain", "residual"))
    assert len(reqs) == 2 * 2 * 2 and sorted(measured) == [8, 14], "one measurement per depth"
    per_run = step_images(reqs[0])
    assert per_run == 100 * 2 + (40 * 2 + 100) / 3
    assert math.isclose(est, 4 * per_run / 1000 + 4 * per_run / 500)


def test_the_experiment_estimate_times_real_steps_here():
    from resnet_explain.experiments.degradation import estimate_experiment_seconds

    exp = EXPERIMENTS["cpu-live"].with_(depths=(8,), seeds=(0,), epochs=1, n_train=64, n_test=32)
    est = estimate_experiment_seconds(exp, ("residual",))
    assert 0 < est < 60
