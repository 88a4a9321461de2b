"""The language-model engine on a stand-in decoder: it learns, it is seeded, the warm-up and the
schedule are as configured, a stop ends it, a divergence is recorded, bad requests are refused."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_explain.data.text import TokenSet, make_sort_task, windows
from resnet_explain.errors import UserError
from resnet_explain.train.config import TrainConfig, lr_at
from resnet_explain.train.lm_trainer import LM_HISTORY_COLUMNS, evaluate_lm, lm_loss, train_lm

from .lm_standin import StandinDecoder, StandinSpec

CFG = TrainConfig(optimizer="adamw", lr=3e-3, batch_size=8, epochs=100, max_steps=60, eval_every=20,
                  weight_decay=0.0, device="cpu", amp="off", schedule="cosine", warmup_steps=10,
                  grad_clip=1.0)


def _data():
    text = b"abcabcabdabcabcabd" * 60
    w = windows(text, 8)
    return TokenSet(w[:-8], None, 256, "t"), TokenSet(w[-8:], None, 256, "v")


def test_it_learns_and_records_every_eval_every_steps():
    tr, va = _data()
    res = train_lm(StandinSpec(), tr, va, CFG, model=StandinDecoder())
    h = res.history
    assert list(h.columns) == LM_HISTORY_COLUMNS and h["step"].tolist() == [0, 20, 40, 60]
    assert h["val_loss"].iloc[0] == pytest.approx(evaluate_lm(StandinDecoder(), va), rel=1e-5)
    assert h["val_loss"].iloc[-1] < 0.6 * h["val_loss"].iloc[0]  # 6.19 -> 3.28 measured
    assert res.meta["steps"] == 60 and not res.meta["diverged"] and (h["grad_norm_max"].iloc[1:] > 0).all()


def test_same_seed_same_numbers():
    tr, va = _data()
    a = train_lm(StandinSpec(), tr, va, CFG, model=StandinDecoder()).history
    b = train_lm(StandinSpec(), tr, va, CFG, model=StandinDecoder()).history
    assert a["val_loss"].tolist() == b["val_loss"].tolist()


def test_linear_warmup_then_cosine_to_a_tenth():
    lrs = [lr_at(CFG, s, 60) for s in range(60)]
    assert lrs[:10] == pytest.approx([3e-3 * (s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(3e-3) and lrs[-1] == pytest.approx(3e-4, rel=0.05)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    # the image trainer's schedules are untouched while warmup_steps is 0
    assert lr_at(TrainConfig(schedule="constant"), 0, 10) == 0.1


def test_stop_ends_the_run():
    tr, va = _data()
    calls = iter(range(1000))
    res = train_lm(StandinSpec(), tr, va, CFG, model=StandinDecoder(),
                   should_stop=lambda: next(calls) >= 5)
    assert res.meta["stopped"] and res.meta["steps"] == 5


def test_divergence_ends_the_run_and_is_recorded():
    tr, va = _data()
    m = StandinDecoder()
    with torch.no_grad():
        m.out.weight.fill_(float("nan"))
    res = train_lm(StandinSpec(), tr, va, CFG, model=m)
    assert res.meta["diverged"] and res.meta["steps"] == 20 and math.isnan(res.history["train_loss"].iloc[-1])


def test_only_scored_targets_count():
    ts = make_sort_task(4, length=3, n_symbols=5, seed=0)
    x, y = ts.batch(slice(0, 4))
    logits = torch.randn(4, 6, 256)
    manual = torch.nn.functional.cross_entropy(logits[:, 3:].reshape(-1, 256), y[:, 3:].reshape(-1))
    assert lm_loss(logits, y).item() == pytest.approx(manual.item(), rel=1e-6)


@pytest.mark.parametrize("bad", [dict(optimizer="lion"), dict(warmup_steps=-1), dict(grad_clip=-1.0),
                                 dict(snapshot_every=8)])
def test_bad_requests_are_user_errors(bad):
    tr, va = _data()
    import dataclasses
    with pytest.raises(UserError):
        train_lm(StandinSpec(), tr, va, dataclasses.replace(CFG, **bad), model=StandinDecoder())


def test_windows_longer_than_the_context_are_refused():
    tr, va = _data()
    with pytest.raises(UserError, match="context"):
        train_lm(StandinSpec(context=4), tr, va, CFG, model=StandinDecoder())
