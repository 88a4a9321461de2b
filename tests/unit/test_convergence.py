"""Convergence in numbers (experiments.convergence): steps to a training-error threshold and the
area under the training curve, per network with the seed spread, on synthetic histories."""

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explain.content import training as words
from resnet_explain.experiments import convergence as cv
from resnet_explain.experiments.degradation import convergence_json

errors = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30)


def _curves(histories: dict) -> pd.DataFrame:
    """(arch, depth, seed) -> per-epoch training errors, as a degradation result's curves."""
    return pd.DataFrame([{"arch": a, "depth": d, "seed": s, "epoch": i + 1, "train_error": e}
                         for (a, d, s), errs in histories.items() for i, e in enumerate(errs)])


@settings(max_examples=60, deadline=None)
@given(errors, st.data())
def test_auc_is_monotone_in_the_curve(errs, data):
    # raising any epoch's error never lowers the area; it stays between the curve's min and max
    i = data.draw(st.integers(0, len(errs) - 1))
    up = list(errs)
    up[i] = data.draw(st.floats(errs[i], 1.0))
    assert cv.curve_area(up) >= cv.curve_area(errs) - 1e-12
    assert min(errs) - 1e-12 <= cv.curve_area(errs) <= max(errs) + 1e-12


@settings(max_examples=60, deadline=None)
@given(errors, st.floats(0.0, 1.0))
def test_first_epoch_at_is_the_first_at_or_below_and_none_when_never(errs, t):
    e = cv.first_epoch_at(errs, t)
    if e is None:
        assert all(x > t for x in errs)
    else:
        assert errs[e - 1] <= t and all(x > t for x in errs[: e - 1])


@settings(max_examples=30, deadline=None)
@given(errors, st.floats(0.05, 0.95))
def test_a_lower_curve_reaches_a_threshold_no_later(errs, t):
    lower = [x * 0.5 for x in errs]
    a, b = cv.first_epoch_at(errs, t), cv.first_epoch_at(lower, t)
    assert a is None or (b is not None and b <= a)


def test_table_spread_over_seeds_and_never():
    hist = {("residual", 56, 0): [0.8, 0.4, 0.1], ("residual", 56, 1): [0.7, 0.15, 0.05],
            ("plain", 56, 0): [0.9, 0.9, 0.9], ("plain", 56, 1): [0.9, 0.6, 0.3]}
    table = cv.convergence_table(_curves(hist), spe=100, thresholds=(0.5, 0.2))
    res = table[table["arch"] == "residual"].iloc[0].to_dict()
    plain = table[table["arch"] == "plain"].iloc[0].to_dict()
    assert res["to20_reached"] == 2 and res["to20_steps_min"] == 200 and res["to20_steps_max"] == 300
    assert res["to20_steps_mean"] == 250 and res["to20_epochs_mean"] == 2.5
    assert res["to50_steps_mean"] == 200  # both at epoch 2
    assert plain["to20_reached"] == 0 and math.isnan(plain["to20_steps_mean"])
    assert plain["to50_reached"] == 1 and plain["to50_steps_mean"] == 300  # one seed of two
    assert math.isclose(res["auc_mean"], np.mean([np.mean([0.8, 0.4, 0.1]), np.mean([0.7, 0.15, 0.05])]))
    assert math.isclose(plain["auc_max"], 0.9)
    assert table.attrs == {"thresholds": [0.5, 0.2], "steps_per_epoch": 100, "resolution": "epoch",
                           "window_steps": None}
    assert set(table["resolution"]) == {"epoch"}
    (r, p), = cv.pairs(table)
    s = words.convergence_sentence(r, p, 0.2)
    assert s.startswith("**residual-56** reached 20% training error after 250 steps (mean; 200–300")
    assert "its plain twin **plain-56** never (0 of 2 seeds)" in s
    assert "in 1 of 2 seeds, never in the other" in words.reach_words(p, 0.5)


def test_steps_per_epoch_recorded_or_the_trainers_rule():
    assert cv.steps_per_epoch({"steps_per_epoch": 351}) == 351
    assert cv.steps_per_epoch({"n_train": 5000, "train_config": {"batch_size": 64}}) == 78
    assert cv.steps_per_epoch({"n_train": 40, "train_config": {"batch_size": 64}}) == 1


def test_json_says_never_as_null_and_is_strict_json():
    import json

    hist = {("plain", 20, 0): [0.9, 0.9], ("residual", 20, 0): [0.6, 0.1]}
    obj = convergence_json(_curves(hist), {"steps_per_epoch": 10})
    json.dumps(obj, allow_nan=False)
    rows = {r["arch"]: r for r in obj["rows"]}
    assert rows["plain"]["to20_steps_mean"] is None and rows["plain"]["to20_reached"] == 0
    assert rows["residual"]["to20_steps_mean"] == 20 and obj["thresholds"] == list(cv.THRESHOLDS)
    assert obj["resolution"] == "epoch" and "resolved to one epoch" in obj["steps_are"]


# ---- step resolution: runs with a per-step curve (train/step_history.py) -----------------------
@st.composite
def run_windows(draw):
    """One run's per-step curve (windows of at most ``every`` steps, cut at each epoch's end, every
    epoch the same number of steps) and its per-epoch errors folded from it, as the trainer makes
    both (tests/unit/test_step_history.py checks the folding on real training)."""
    from resnet_explain.train.step_history import window_ends

    every, spe, epochs = draw(st.integers(1, 9)), draw(st.integers(1, 25)), draw(st.integers(1, 6))
    rows, epoch_errors = [], []
    for e in range(1, epochs + 1):
        first, start, wrong = (e - 1) * spe, (e - 1) * spe, 0.0
        for end in window_ends(first, spe, every):
            err = draw(st.floats(0.0, 1.0))
            rows.append({"step": end, "epoch": e, "steps": end - start, "train_error": err})
            wrong += err * (end - start)
            start = end
        epoch_errors.append(wrong / spe)
    return pd.DataFrame(rows), epoch_errors, spe


def _tables(windows: pd.DataFrame, epoch_errors, spe, thresholds):
    curves = _curves({("residual", 20, 0): epoch_errors})
    steps = windows.assign(arch="residual", depth=20, seed=0)
    by_epoch = cv.per_run(curves, spe, thresholds).iloc[0]
    by_step = cv.per_run(curves, spe, thresholds, steps).iloc[0]
    return by_epoch, by_step


@settings(max_examples=80, deadline=None)
@given(run_windows(), st.floats(0.0, 1.0))
def test_step_resolution_is_never_later_and_reaches_whenever_an_epoch_does(run, t):
    windows, epoch_errors, spe = run
    by_epoch, by_step = _tables(windows, epoch_errors, spe, (t,))
    k = cv.key(t)
    assert by_epoch["resolution"] == "epoch" and by_step["resolution"] == "step"
    if np.isfinite(by_epoch[f"{k}_steps"]):  # an epoch's error is a weighted mean of its windows'
        assert np.isfinite(by_step[f"{k}_steps"])
        assert by_step[f"{k}_steps"] <= by_epoch[f"{k}_steps"] + 1e-9
        assert by_step[f"{k}_epochs"] <= by_epoch[f"{k}_epochs"]
    if np.isfinite(by_step[f"{k}_steps"]):  # the first window at or below, and its own epoch
        hit = windows[windows["step"] == by_step[f"{k}_steps"]].iloc[0]
        assert hit["train_error"] <= t and by_step[f"{k}_epochs"] == hit["epoch"]
        assert (windows[windows["step"] < hit["step"]]["train_error"] > t).all()
    else:
        assert (windows["train_error"] > t).all()


@settings(max_examples=80, deadline=None)
@given(run_windows())
def test_the_area_is_the_same_at_both_resolutions(run):
    windows, epoch_errors, spe = run
    by_epoch, by_step = _tables(windows, epoch_errors, spe, cv.THRESHOLDS)
    assert math.isclose(by_step["auc"], by_epoch["auc"], rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(run_windows(), st.floats(0.05, 0.95), st.floats(0.05, 0.95))
def test_a_higher_threshold_is_reached_no_later_at_step_resolution(run, a, b):
    windows, epoch_errors, spe = run
    lo, hi = sorted((a, b))
    _e, by_step = _tables(windows, epoch_errors, spe, (lo, hi))
    s_lo, s_hi = by_step[f"{cv.key(lo)}_steps"], by_step[f"{cv.key(hi)}_steps"]
    assert not np.isfinite(s_lo) or (np.isfinite(s_hi) and s_hi <= s_lo)


def test_a_table_says_its_resolution_and_old_results_keep_working():
    hist = {("residual", 20, 0): [0.6, 0.1], ("residual", 20, 1): [0.7, 0.3],
            ("plain", 20, 0): [0.9, 0.9]}
    w = pd.DataFrame([{"arch": "residual", "depth": 20, "seed": 0, "step": s, "epoch": e, "steps": 5,
                       "train_error": v}
                      for s, e, v in ((5, 1, 0.8), (10, 1, 0.4), (15, 2, 0.15), (20, 2, 0.05))])
    table = cv.convergence_table(_curves(hist), spe=10, thresholds=(0.5, 0.2), steps=w)
    assert table.attrs["resolution"] == "mixed" and table.attrs["window_steps"] == 5
    res = table[table["arch"] == "residual"].iloc[0]
    assert res["resolution"] == "mixed"
    assert res["to50_steps_min"] == 10 and res["to50_steps_max"] == 20  # seed 0 by window, seed 1 by epoch
    only = cv.convergence_table(_curves({k: v for k, v in hist.items() if k[2] == 0 and k[0] == "residual"}),
                                spe=10, thresholds=(0.5, 0.2), steps=w)
    assert only.attrs["resolution"] == "step" and only.iloc[0]["to20_steps_mean"] == 15
    assert only.iloc[0]["to20_epochs_mean"] == 2
    obj = convergence_json(_curves(hist), {"steps_per_epoch": 10}, steps=w)
    assert obj["resolution"] == "mixed" and "window" in obj["steps_are"]
    for how, needle in (("step", "resolution: 5 steps"), ("epoch", "resolution: one epoch"),
                        ("mixed", "resolution: mixed")):
        assert needle in words.convergence_caption([0.5, 0.2], 10, how, 5)
