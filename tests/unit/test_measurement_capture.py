"""The probe's own backward (one ``torch.autograd.grad`` call, no Python hook in the backward)
catches exactly what tensor hooks in anyone's backward catch, bit for bit; and the numbers'
plumbing (one vector per dtype, zeros told apart from underflow) changes no number."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explain.measurement import BlockHooks, Norms, _vector
from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import probe
from resnet_explain.spec import preset


def _net(name: str):
    spec = preset(name)
    spec = dataclasses.replace(spec, in_size=8) if getattr(spec, "in_size", 0) > 8 else spec
    model = build_model(spec, seed=0).train()
    x, y = make_batch(spec, batch=4, seed=0)
    return model, x, y


@pytest.mark.parametrize("name", ["resnet20", "plain20", "zoo-highway20", "zoo-dense22", "mlp-sigmoid20"])
def test_capture_catches_what_tensor_hooks_catch(name):
    model, x, y = _net(name)
    blocks = model.named_blocks()
    params = list(model.parameters())
    hooked = BlockHooks(blocks, split=True, activations=False)
    with hooked:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
    want_grads = [p.grad.clone() if p.grad is not None else None for p in params]
    captured = BlockHooks(blocks, split=True, activations=False, capture=True)
    for p in params:
        p.grad = torch.full_like(p, 7.0)  # stale gradients: replaced, as zero_grad + backward would
    with captured:
        loss = F.cross_entropy(model(x), y)
    captured.backward(loss, params)
    assert hooked.caught.keys() == captured.caught.keys() and len(hooked.caught) >= len(blocks)
    for key, g in hooked.caught.items():
        assert torch.equal(g, captured.caught[key]), key
    for p, want in zip(params, want_grads):
        assert (p.grad is None) == (want is None) and (want is None or torch.equal(p.grad, want))


def test_probe_leaves_the_gradients_a_training_step_would():
    model, x, y = _net("resnet20")
    model.stage1.block0.body[0].weight.requires_grad_(False)  # frozen: no gradient, .grad None
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    probe(model, x, y)
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert got.keys() == want.keys() and "stage1.block0.body.0.weight" not in got
    assert all(torch.equal(got[n], want[n]) for n in want)


def test_nothing_to_catch_still_runs_the_backward():
    lin = nn.Linear(3, 2)
    for p in lin.parameters():
        p.requires_grad_(False)
    x = torch.randn(4, 3, requires_grad=True)
    hooks = BlockHooks([], split=False, activations=False, capture=True)
    with hooks:
        loss = lin(x).sum()
    hooks.backward(loss, list(lin.parameters()))
    assert x.grad is not None and hooks.caught == {}


def test_an_input_that_requires_grad_gets_its_gradient_as_before():
    # autograd.grad fills no .grad but the ones asked for: such a probe keeps loss.backward().
    model, x, y = _net("resnet20")
    x = x.clone().requires_grad_(True)
    res = probe(model, x, y)
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert res.blocks["identity_norm"].notna().sum() > 0


def test_one_vector_is_the_buffer_when_scalars_sit_side_by_side():
    buf = torch.arange(6.0)
    side_by_side = _vector(list(buf.unbind()))
    assert side_by_side.data_ptr() == buf.data_ptr() and torch.equal(side_by_side, buf)
    assert torch.equal(_vector(list(buf[2:5].unbind())), buf[2:5])
    assert torch.equal(_vector([buf[3], buf[1]]), torch.tensor([3.0, 1.0]))  # out of order: a stack
    assert torch.equal(_vector([torch.tensor(1.0), torch.tensor(2.0)]), torch.tensor([1.0, 2.0]))


def test_zeros_are_zero_and_underflow_is_rescued_in_every_dtype():
    norms = Norms()
    for dt in (torch.float32, torch.float64, torch.bfloat16):
        norms.norm(("zero", dt), torch.zeros(5, dtype=dt))
        norms.norm(("one", dt), torch.ones(4, dtype=dt))
    norms.norm(("tiny", torch.float32), torch.full((10,), 1e-41))
    norms.norm(("tiny", torch.float64), torch.full((10,), 1e-300, dtype=torch.float64))
    got = norms.read()
    for dt in (torch.float32, torch.float64, torch.bfloat16):
        assert got[("zero", dt)] == 0.0 and got[("one", dt)] == 2.0
    assert got[("tiny", torch.float32)] == pytest.approx(10 ** 0.5 * 1e-41, rel=1e-2)
    assert got[("tiny", torch.float64)] == pytest.approx(10 ** 0.5 * 1e-300, rel=1e-12)
