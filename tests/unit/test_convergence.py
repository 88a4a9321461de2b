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
    assert table.attrs == {"thresholds": [0.5, 0.2], "steps_per_epoch": 100}
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
