"""Residuals found in any model (issue 26): each torchvision model the Real Architectures page
lists gives its expected answer (ResNet / ResNeXt / Wide ResNet: an identity or downsample skip;
ConvNeXt: a layer-scaled branch added to the input; ViT: two residual adds; VGG: none; DenseNet:
concatenation), an untraceable block says so, and the identity / residual split measured through
the traced graph equals an independent ``torch.autograd`` computation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explain.block_select import select_blocks
from resnet_explain.experiments import real_models as R
from resnet_explain.probe import probe
from resnet_explain.residuals import (
    CONCAT,
    IDENTITY,
    NONE,
    PROJECTION,
    UNTRACEABLE,
    find_residual,
    find_residuals,
)

R.import_torchvision()

# model -> Counter of (connection, residual adds, layer-scaled) over its registered blocks.
EXPECTED = {
    "resnet18": {(IDENTITY, 1, False): 5, (PROJECTION, 1, False): 3},
    "resnet50": {(IDENTITY, 1, False): 12, (PROJECTION, 1, False): 4},
    "resnext50_32x4d": {(IDENTITY, 1, False): 12, (PROJECTION, 1, False): 4},
    "wide_resnet50_2": {(IDENTITY, 1, False): 12, (PROJECTION, 1, False): 4},
    "vgg11": {(NONE, 0, False): 10}, "vgg11_bn": {(NONE, 0, False): 10},
    "vgg16": {(NONE, 0, False): 15}, "vgg16_bn": {(NONE, 0, False): 15},
    "densenet121": {(CONCAT, 0, False): 58},
    "convnext_tiny": {(IDENTITY, 1, True): 18},
    "vit_b_16": {(IDENTITY, 2, False): 12},
}


def test_every_listed_model_is_covered():
    assert set(EXPECTED) == set(R.REAL_MODELS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_model_gets_its_expected_answer(name):
    model = R.build(name, device="meta")
    blocks = select_blocks(model, R.block_types(R.get(name)))
    found = find_residuals(model, blocks)
    got = Counter((r.connection, r.adds, r.layer_scaled) for r in found.values())
    assert got == Counter(EXPECTED[name])
    assert all(r.skip == R.get(name).skip for r in found.values())  # the registry's "sum" = a skip


def test_the_projection_is_named():
    model = R.build("resnet18", device="meta")
    assert find_residual(model.layer2[0]).shortcut == "downsample"
    assert find_residual(model.layer1[0]).shortcut == ""


class Branchy(nn.Module):
    """y = relu(conv(x) + x), with the add in place as torchvision writes it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        out = self.conv(x)
        out += x
        return self.act(out)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # control flow on a value: torch.fx cannot trace it
            return x + self.lin(x)
        return self.lin(x)


class Additive(nn.Module):
    """Adds a bias-like parameter: an add, but not of the input — no skip."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.offset = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        return self.lin(x) + self.offset


def test_untraceable_and_non_residual_adds():
    r = find_residual(DataDependent())
    assert r.connection == UNTRACEABLE and not r.skip and "TraceError" in r.reason
    assert find_residual(Additive()).connection == NONE


def test_split_through_the_traced_graph_equals_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), Branchy(), Branchy(), nn.Flatten(),
                        nn.Linear(3 * 8 * 8, 5))
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 5, (4,))
    res = probe(net, x, y, blocks=Branchy)
    b = res.blocks
    assert b["skip"].all() and (b["connection"] == IDENTITY).all()
    # Independent: the gradient at the add's output s = conv(x) + x is the identity term (the
    # shortcut is the identity); the residual term is conv's input gradient, J_conv^T dL/ds.
    h0 = net[0](x)
    blk = net[1]
    s = blk.conv(h0) + h0
    loss = F.cross_entropy(net[4](net[3](net[2](blk.act(s)))), y)
    gs, = torch.autograd.grad(loss, s, retain_graph=True)
    gx, = torch.autograd.grad(loss, h0)
    assert b["identity_norm"].iloc[0] == pytest.approx(gs.norm().item(), rel=1e-5)
    assert b["residual_norm"].iloc[0] == pytest.approx((gx - gs).norm().item(), rel=1e-5)
    assert not hasattr(blk, "__dict__") or "forward" not in blk.__dict__  # the swap is undone


def test_probe_on_torchvision_resnet18_finds_eight_skips_with_finite_split():
    res = R.probe_real("resnet18", batch=2, seed=0)
    b = res.blocks
    assert len(b) == 8 and b["skip"].all()
    assert np.isfinite(b[["identity_norm", "residual_norm"]].to_numpy()).all()
    # (test_real_models checks these grad norms against torch.autograd on the model itself.)


def _forwards_beside(trace, seconds=1.5):
    """Run our model's forward passes in another thread while ``trace`` runs here repeatedly;
    returns the errors that thread met."""
    import threading
    import time

    from resnet_explain.model import build_model
    from resnet_explain.spec import preset

    model = build_model(preset("resnet20"), seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    errors, stop = [], threading.Event()

    def run():
        while not stop.is_set():
            try:
                with torch.no_grad():
                    model(x)
            except Exception as exc:  # what the page's probe met on the server
                errors.append(repr(exc))
                return

    t = threading.Thread(target=run)
    t.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and t.is_alive():
        trace()
    stop.set()
    t.join()
    return errors


class _Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x) + x)


def test_tracing_a_block_leaves_other_threads_forward_passes_alone():
    """fx patches nn.Module.__call__ for the whole process while it traces; on the app's server a
    page's probe ran beside a Real Architectures trace and failed ("module is not installed as a
    submodule"). Our tracer lets other threads' calls through."""
    from resnet_explain import residuals

    errors = _forwards_beside(lambda: residuals.symbolic_trace(_Res()))
    assert errors == []
