"""watch() around the user's own loop (issue 26): which steps it records, that its numbers are the
gradients and updates of the user's own backward and optimizer step (checked against an
independent computation), bounded memory, nothing left behind, and the charts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import resnet_explain
from resnet_explain.watch import COLUMNS, Watch


class Res(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.act = nn.Tanh()

    def forward(self, x):
        return x + self.act(self.lin(x))


def _net(depth=4, d=6):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, d), *[Res(d) for _ in range(depth)], nn.Linear(d, 2))


def _data(n=16):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, generator=g), torch.randint(0, 2, (n,), generator=g)


def _train(model, steps, opt=None, watch_kw=None, validate=False):
    x, y = _data()
    opt = opt or torch.optim.SGD(model.parameters(), lr=0.1)
    with resnet_explain.watch(model, blocks=Res, **(watch_kw or {})) as w:
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if validate:
                with torch.no_grad():
                    model(x)
    return w


def test_records_every_kth_step_of_the_users_loop_in_a_tidy_table():
    w = _train(_net(), 20, watch_kw={"every": 8}, validate=True)
    h = w.history
    assert list(h.columns) == COLUMNS
    assert sorted(set(h["step"])) == [0, 8, 16] and len(h) == 3 * 4  # no_grad forwards not counted
    assert list(h[h["step"] == 0]["block"]) == ["1", "2", "3", "4"]
    assert (h["connection"] == "identity").all() and w.steps == 20
    assert np.isfinite(h[["grad_norm", "weight_grad_norm", "weight_norm", "update_ratio",
                          "identity_norm", "residual_norm"]].to_numpy()).all()


def test_numbers_are_the_users_own_backward_and_step():
    model, twin = _net(), _net()
    w = _train(model, 1, watch_kw={"every": 1})
    x, y = _data()
    outs, h = [], twin[0](x)
    for blk in twin[1:5]:
        h = blk(h)
        outs.append(h)
    grads = torch.autograd.grad(F.cross_entropy(twin[5](h), y), outs + [p for b in twin[1:5] for p in b.parameters()])
    got = w.history
    np.testing.assert_allclose(got["grad_norm"], [g.norm().item() for g in grads[:4]], rtol=1e-5)
    pg = grads[4:]
    wg = [math.sqrt(pg[2 * i].norm() ** 2 + pg[2 * i + 1].norm() ** 2) for i in range(4)]
    np.testing.assert_allclose(got["weight_grad_norm"], wg, rtol=1e-5)
    # Plain SGD: ΔW = -lr·∂L/∂W, so the update ratio is lr·‖∂L/∂W‖ / ‖W‖ (W before the step).
    wn = [math.sqrt(sum(p.detach().norm() ** 2 for p in b.parameters())) for b in twin[1:5]]
    np.testing.assert_allclose(got["weight_norm"], wn, rtol=1e-5)
    np.testing.assert_allclose(got["update_ratio"], 0.1 * np.array(wg) / np.array(wn), rtol=1e-4)


def test_any_optimizer_and_a_loop_without_one():
    model = _net()
    w = _train(model, 3, opt=torch.optim.AdamW(model.parameters(), lr=1e-3), watch_kw={"every": 1})
    assert np.isfinite(w.history["update_ratio"]).all()
    model = _net()
    x, y = _data()
    with resnet_explain.watch(model, every=1, blocks=Res) as w:
        for _ in range(2):  # a hand-written SGD step: no torch.optim, so no ΔW to measure
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p.sub_(0.1 * p.grad)
    h = w.history
    assert sorted(set(h["step"])) == [0, 1] and h["update_ratio"].isna().all()
    assert (h["grad_norm"] > 0).all()


def test_memory_is_bounded_and_the_history_spans_the_run():
    w = _train(_net(), 40, watch_kw={"every": 1, "max_records": 6})
    steps = sorted(set(w.history["step"]))
    assert len(steps) <= 7 and steps[0] == 0 and steps[-1] >= 32
    assert w.every > 1 and all(s % w.every == 0 for s in steps)


def test_nothing_is_left_on_the_model():
    model = _net()
    _train(model, 2, watch_kw={"every": 1})
    assert not model._forward_pre_hooks and not model._forward_hooks
    for m in model.modules():
        assert "forward" not in m.__dict__ and not m._forward_hooks and not m._forward_pre_hooks
    x, y = _data()
    F.cross_entropy(model(x), y).backward()  # trains as before


def test_chart_and_rich_display():
    w = _train(_net(), 9, watch_kw={"every": 4})
    chart = w.chart()
    spec = chart.to_dict()
    assert "vconcat" in spec
    bundle = w._repr_mimebundle_()
    assert "text/html" in (bundle[0] if isinstance(bundle, tuple) else bundle)
    with pytest.raises(ValueError):
        Watch(_net(), every=0)
