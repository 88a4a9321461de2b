"""The per-step training curve (train/step_history.py): it does not change what is learned, its
windows add up to the per-epoch history, both trainers (one network, seeds together) and the
graphed step follow one rule, and it costs one host copy per epoch, none per step."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explain.data import make_shapes
from resnet_explain.spec import cifar_resnet
from resnet_explain.train import config, step_history, trainer
from resnet_explain.train.many import train_seeds

SPEC = cifar_resnet(8, width=4, in_size=8, classes=2)
PLAIN = cifar_resnet(8, width=4, in_size=8, classes=2, skip=False)


@pytest.fixture(scope="module")
def data():
    return make_shapes(200, seed=0, size=8, difficulty=0.0, classes=2)  # batch 16: 12 steps an epoch


def cfg(**kw):
    base = dict(epochs=3, batch_size=16, lr=0.05, device="cpu", seed=0, amp="off", channels_last="off",
                curve_every=5)
    base.update(kw)
    return config.TrainConfig(**base)


def by_epoch(steps: pd.DataFrame) -> pd.DataFrame:
    """The windows folded back into epochs: steps, mean loss and error (weighted by steps)."""
    w = steps.assign(lw=steps["train_loss"] * steps["steps"], ew=steps["train_error"] * steps["steps"])
    g = w.groupby("epoch")
    n = g["steps"].sum()
    return pd.DataFrame({"steps": n, "train_loss": g["lw"].sum() / n, "train_error": g["ew"].sum() / n})


@pytest.mark.parametrize("spec,opts", [(SPEC, {}),
                                       (PLAIN, dict(augment=True, amp="auto", channels_last="auto"))],
                         ids=["residual-fp32", "plain-auto-augment"])
def test_the_curve_does_not_change_the_trained_weights(data, spec, opts):
    on = trainer.train(spec, data, data, cfg(**opts))
    off = trainer.train(spec, data, data, cfg(curve_every=0, **opts))
    a, b = on.model.state_dict(), off.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit-identical
    cols = ["epoch", "train_loss", "train_error", "test_error", "lr"]
    pd.testing.assert_frame_equal(on.history[cols], off.history[cols])
    assert off.steps.empty and list(off.steps.columns) == step_history.STEP_COLUMNS
    assert len(on.steps) and list(on.steps.columns) == step_history.STEP_COLUMNS


def test_windows_add_up_to_the_epoch_history(data):
    res = trainer.train(SPEC, data, None, cfg())
    s = res.steps
    # 12 steps an epoch, windows cut at multiples of 5 and at each epoch's end
    assert list(s["step"]) == [5, 10, 12, 15, 20, 24, 25, 30, 35, 36]
    assert list(s["steps"]) == [5, 5, 2, 3, 5, 4, 1, 5, 5, 1]
    assert list(s["epoch"]) == [1] * 3 + [2] * 3 + [3] * 4
    folded = by_epoch(s)
    assert (folded["steps"] == 12).all()
    # wrong answers are whole numbers: the error folds back exactly; the loss up to float sums
    np.testing.assert_allclose(folded["train_error"], res.history["train_error"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(folded["train_loss"], res.history["train_loss"], rtol=1e-6)
    assert ((s["train_error"] >= 0) & (s["train_error"] <= 1)).all()


def test_a_mid_epoch_stop_at_max_steps_ends_the_last_window_there(data):
    res = trainer.train(SPEC, data, None, cfg(max_steps=17))
    assert list(res.steps["step"]) == [5, 10, 12, 15, 17] and res.steps["steps"].sum() == 17


def test_a_stopped_epoch_is_left_out_as_in_the_history(data):
    calls = []
    res = trainer.train(SPEC, data, None, cfg(), should_stop=lambda: calls.append(1) or len(calls) > 15)
    assert res.meta["stopped"] and len(res.history) == 1
    assert set(res.steps["epoch"]) == {1} and res.steps["step"].max() == 12


def test_seeds_together_and_the_graphed_step_follow_the_same_rule(data):
    alone = {s: trainer.train(SPEC, data, None, cfg(seed=s)) for s in (0, 4)}
    together = train_seeds(SPEC, data, None, cfg(), [0, 4])
    for s, got in zip((0, 4), together):
        ref = alone[s].steps
        pd.testing.assert_frame_equal(got.steps[["step", "epoch", "steps"]], ref[["step", "epoch", "steps"]])
        np.testing.assert_allclose(got.steps["train_loss"], ref["train_loss"], rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(got.steps["train_error"], ref["train_error"], atol=1 / 16 + 1e-12)
    graphed = trainer.train(SPEC, data, None, cfg(compile="graphs"))  # on a CPU: the same body, eager
    pd.testing.assert_frame_equal(graphed.steps, alone[0].steps)


def test_one_host_copy_per_epoch_and_none_per_step(data, monkeypatch):
    copies, rows = [], []
    real_cpu, real_rows = torch.Tensor.cpu, step_history.StepCurve.rows

    def cpu(self, *a, **kw):
        copies.append(tuple(self.shape))
        return real_cpu(self, *a, **kw)

    def count_rows(self, *a, **kw):
        rows.append(a)
        return real_rows(self, *a, **kw)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    monkeypatch.setattr(step_history.StepCurve, "rows", count_rows)
    trainer.train(SPEC, data, None, cfg(curve_every=0))
    assert copies == [] and rows == []
    trainer.train(SPEC, data, None, cfg())
    assert copies == [(2, 12)] * 3 and len(rows) == 3  # loss and wrong answers together, per epoch


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 500), st.integers(1, 200), st.integers(1, 40))
def test_window_ends_cut_at_multiples_and_the_epochs_end(first, done, every):
    ends = step_history.window_ends(first, done, every)
    assert ends == sorted(set(ends)) and ends[-1] == first + done and ends[0] > first
    assert all(e % every == 0 for e in ends[:-1])
    lengths = np.diff([first] + ends)
    assert lengths.sum() == done and (lengths <= every).all() and (lengths >= 1).all()
    # every multiple of ``every`` inside the epoch is a cut
    assert {m for m in range(first + 1, first + done + 1) if m % every == 0} <= set(ends)


def test_config_refuses_a_bad_stride():
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(config.TrainError):
            replace(config.TrainConfig(), curve_every=bad).validate()
