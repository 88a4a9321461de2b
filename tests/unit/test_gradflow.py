"""The gradient probe against an independent torch.autograd computation, gradcheck in float64,
and the physics the pages show (measured here, never hard-coded)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explain.measurement import Norms, _safe_norms, safe_norm
from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import first_nonfinite, probe, probe_spec, ratio_of
from resnet_explain.spec import BlockSpec, NetSpec, mlp, preset

RTOL = 1e-5


def _nets() -> dict[str, NetSpec]:
    B = BlockSpec
    return {
        "mlp-relu-skip-proj": NetSpec(family="mlp", in_features=5, stem_width=4, classes=3,
                                      norm="none", stages=(
            (B("preact", 4), B("basic", 6, shortcut="B"), B("bottleneck", 8, shortcut="C")),)),
        "mlp-sigmoid-plain": NetSpec(family="mlp", in_features=5, stem_width=4, classes=3,
                                     act="sigmoid", norm="none", stages=(
            (B("basic", 4, skip=False), B("basic", 6, skip=False), B("preact", 6, skip=False)),)),
        "mlp-tanh-bn-skipinit": NetSpec(family="mlp", in_features=5, stem_width=4, classes=3,
                                        act="tanh", norm="batch", res_scale=0.5, stages=(
            (B("basic", 4), B("preact", 8, shortcut="A"), B("basic", 6, shortcut="B")),)),
        "cnn-relu-bn-skip": NetSpec(family="cnn", in_channels=2, in_size=8, stem_width=4,
                                    classes=3, stages=(
            (B("basic", 4), B("preact", 4)),
            (B("basic", 8, stride=2, shortcut="B"), B("bottleneck", 8, shortcut="C")),
            (B("preact", 8, stride=2, shortcut="A"),))),
        "cnn-relu-bn-plain": NetSpec(family="cnn", in_channels=2, in_size=8, stem_width=4,
                                     classes=3, stages=(
            (B("basic", 4, skip=False), B("basic", 4, skip=False)),
            (B("basic", 8, stride=2, skip=False), B("bottleneck", 8, skip=False)))),
        "cnn-gelu-none-skip": NetSpec(family="cnn", in_channels=2, in_size=6, stem_width=4,
                                      classes=3, act="gelu", norm="none", stages=(
            (B("basic", 4, shortcut="C"), B("basic", 6, stride=2, shortcut="A")),)),
    }


NETS = _nets()


def _reference(model, x, y):
    """Independent autograd: block inputs/outputs retained by forward hooks, then
    torch.autograd.grad for dL/d(out), dL/d(in) and, per residual block, the split
    J_S^T g + J_F^T g with g = dL/ds (s the sum before the outer activation)."""
    blocks = list(model.named_blocks())
    ins, outs = {}, {}
    def keep(name):
        def hook(mod, inp, out):  # returns None: the output is not replaced
            ins[name], outs[name] = inp[0], out
        return hook

    hs = [m.register_forward_hook(keep(n)) for n, m in blocks]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for h in hs:
            h.remove()
    ref = {}
    for n, blk in blocks:
        g_out, = torch.autograd.grad(loss, outs[n], retain_graph=True)
        g_in, = torch.autograd.grad(loss, ins[n], retain_graph=True)
        r = {"grad": g_out, "grad_in": g_in}
        if blk.shortcut is not None:
            xin = ins[n].detach().requires_grad_(True)
            body = blk.body(xin)
            if blk.res_scale is not None:
                body = blk.res_scale * body
            sc = blk.shortcut(xin)
            s = body + sc
            yb = blk.out_act(s)
            assert torch.allclose(yb, outs[n], rtol=1e-6, atol=1e-7)
            g_s, = torch.autograd.grad(yb, s, grad_outputs=g_out, retain_graph=True)
            r["identity"], = torch.autograd.grad(sc, xin, grad_outputs=g_s, retain_graph=True)
            r["residual"], = torch.autograd.grad(body, xin, grad_outputs=g_s)
        ref[n] = r
    return loss.detach(), ref


def _no_hooks_left(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               and not getattr(m, "_backward_pre_hooks", None) for m in model.modules())


@pytest.mark.parametrize("name", sorted(NETS))
def test_probe_equals_independent_autograd(name):
    spec = NETS[name]
    model = build_model(spec, seed=1)
    x, y = make_batch(spec, batch=4, seed=1)
    res = probe(model, x, y)  # train mode: BN uses batch statistics, so running stats don't matter
    assert _no_hooks_left(model)
    b = res.blocks
    assert list(b["block"]) == [n for n, _ in spec.named_blocks()]
    assert list(b["position"]) == list(range(spec.n_blocks))

    loss, ref = _reference(model.train(), x, y)
    assert res.meta["loss"] == pytest.approx(float(loss), rel=1e-6)
    for row in b.itertuples():
        r = ref[row.block]
        g = float(torch.linalg.vector_norm(r["grad"].double()))
        assert row.grad_norm == pytest.approx(g, rel=RTOL), row.block
        assert row.log10_grad_norm == pytest.approx(math.log10(g), abs=1e-6)
        assert not row.underflow and not row.has_nan and not row.has_inf
        if "identity" in r:
            assert row.skip
            ni = float(torch.linalg.vector_norm(r["identity"].double()))
            nr = float(torch.linalg.vector_norm(r["residual"].double()))
            assert row.identity_norm == pytest.approx(ni, rel=RTOL, abs=1e-12), row.block
            assert row.residual_norm == pytest.approx(nr, rel=RTOL, abs=1e-12), row.block
            # dL/dx = J_S^T g + J_F^T g, as vectors.
            total = r["identity"] + r["residual"]
            assert torch.allclose(total, r["grad_in"], rtol=1e-5,
                                  atol=1e-6 * float(r["grad_in"].abs().max()) + 1e-30)
        else:
            assert not row.skip
            assert math.isnan(row.identity_norm) and math.isnan(row.residual_norm)
    assert res.ratio == pytest.approx(b["grad_norm"].iloc[0] / b["grad_norm"].iloc[-1])


@pytest.mark.parametrize("name", ["mlp-relu-skip-proj", "cnn-relu-bn-skip"])
def test_param_grad_norms_equal_p_grad(name):
    spec = NETS[name]
    model = build_model(spec, seed=2)
    x, y = make_batch(spec, batch=3, seed=2)
    res = probe(model, x, y)
    p = res.params.set_index("param")
    names = [n for n, _ in model.named_parameters()]
    assert list(p.index) == names
    for n, prm in model.named_parameters():
        assert prm.grad is not None  # left filled
        assert p.loc[n, "grad_norm"] == pytest.approx(float(prm.grad.double().norm()), rel=RTOL)
        assert p.loc[n, "weight_norm"] == pytest.approx(float(prm.detach().double().norm()),
                                                        rel=RTOL)
        assert p.loc[n, "numel"] == prm.numel()
        owner = p.loc[n, "block"]
        assert n.startswith(owner + ".")
    assert res.meta["n_params"] == sum(q.numel() for q in model.parameters())
    # A second probe gives the same numbers (.grad is reset, not accumulated).
    res2 = probe(model, x, y)
    np.testing.assert_allclose(res2.params["grad_norm"], res.params["grad_norm"], rtol=1e-6)


def test_probe_leaves_model_as_found():
    spec = NETS["cnn-relu-bn-skip"]
    model = build_model(spec).eval()
    x, y = make_batch(spec, batch=2)
    res = probe(model, x, y, train=True)
    assert not model.training and res.meta["train_mode"] is True
    assert _no_hooks_left(model)
    res = probe(model, x, y, train=False)
    assert res.meta["train_mode"] is False and not model.training
    # Even when the loss raises, the hooks are removed and the mode restored.
    model.train()

    def bad_loss(out, target):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        probe(model, x, y, loss_fn=bad_loss, train=False)
    assert model.training and _no_hooks_left(model)
    # float64 probe runs on a copy: the model stays float32.
    res = probe(model, x, y, dtype=torch.float64)
    assert res.meta["dtype"] == "float64"
    assert all(p.dtype == torch.float32 for p in model.parameters()) and _no_hooks_left(model)


def test_probe_meta_and_columns():
    spec = NETS["mlp-relu-skip-proj"]
    t0 = time.perf_counter()
    res = probe_spec(spec, seed=3, batch=4)
    wall = time.perf_counter() - t0
    m = res.meta
    assert m["device"] == "cpu" and m["dtype"] == "float32" and m["batch"] == 4
    assert 0 < m["seconds"] <= wall  # the probe's own time, in seconds, within the call's
    assert m["seed"] == 3 and NetSpec.from_query(m["spec"]) == spec
    for col in ("position", "block", "stage", "kind", "skip", "width", "stride", "grad_norm",
                "log10_grad_norm", "underflow", "has_nan", "has_inf", "identity_norm",
                "residual_norm", "act_mean", "act_std", "grad_rel_last"):
        assert col in res.blocks.columns, col
    assert res.blocks["grad_rel_last"].iloc[-1] == 1.0
    assert list(res.blocks["stage"]) == ["stage1"] * 3
    # act_mean / act_std are the forward statistics of each block output.
    model = build_model(spec, seed=3)
    x, y = make_batch(spec, batch=4, seed=3)
    outs = []
    hs = [b.register_forward_hook(lambda m_, i, o: outs.append(o.detach().double()))
          for _, b in model.named_blocks()]
    model.train()(x)
    for h in hs:
        h.remove()
    for o, row in zip(outs, res.blocks.itertuples()):
        assert row.act_mean == pytest.approx(float(o.mean()), rel=1e-6, abs=1e-9)
        assert row.act_std == pytest.approx(float(o.std()), rel=1e-6)


def test_probe_on_a_foreign_model_uses_its_children():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    res = probe(model, x, y)
    assert list(res.blocks["block"]) == ["0", "1", "2"]
    out = []
    hs = [m.register_forward_hook(lambda mod, i, o: out.append(o)) for m in model]
    loss = F.cross_entropy(model(x), y)
    for h in hs:
        h.remove()
    grads = torch.autograd.grad(loss, out)
    for g, row in zip(grads, res.blocks.itertuples()):
        assert row.grad_norm == pytest.approx(float(g.double().norm()), rel=RTOL)
    assert _no_hooks_left(model)


def test_nonfinite_gradients_are_flagged():
    spec = NETS["mlp-relu-skip-proj"]
    model = build_model(spec)
    x, y = make_batch(spec, batch=3)
    x[0, 0] = float("nan")
    res = probe(model, x, y)
    assert len(res.blocks) == spec.n_blocks
    assert res.blocks["has_nan"].all()
    assert first_nonfinite(res) == "stage1.block0"
    assert first_nonfinite(probe(model, *make_batch(spec, batch=3))) is None
    assert math.isnan(ratio_of([])) and math.isnan(ratio_of([1.0, 0.0]))
    assert ratio_of([2.0, 4.0]) == 0.5


# ---------------------------------------------------------------------------------------------
# gradcheck in float64
# ---------------------------------------------------------------------------------------------
def _gradcheck_specs():
    B = BlockSpec
    out = []
    for act in ("tanh", "sigmoid"):
        out.append(pytest.param(NetSpec(
            family="mlp", act=act, norm="none", in_features=4, stem_width=3, classes=2, stages=(
                (B("preact", 3), B("basic", 4, shortcut="B"), B("bottleneck", 4, shortcut="C"),
                 B("basic", 4, skip=False), B("basic", 4, shortcut="A")),)), id=f"mlp-{act}"))
        out.append(pytest.param(NetSpec(
            family="cnn", act=act, norm="none", in_channels=2, in_size=5, stem_width=3, classes=2,
            stages=((B("basic", 3), B("preact", 4, stride=2, shortcut="A")),
                    (B("bottleneck", 4, stride=2, shortcut="B"), B("basic", 4, skip=False)))),
            id=f"cnn-{act}"))
    return out


@pytest.mark.parametrize("spec", _gradcheck_specs())
def test_gradcheck_float64(spec):
    model = build_model(spec, seed=0, dtype=torch.float64)
    x, _ = make_batch(spec, batch=2, dtype=torch.float64)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    # And w.r.t. the parameters of one residual block (through the whole net).
    blk = model.stage1.block1 if spec.family == "mlp" else model.stage2.block0
    names = [n for n, _ in blk.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in blk.parameters())

    inp = _upto(model, blk, x.detach())

    def f(*ps):
        return torch.func.functional_call(blk, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-5, rtol=1e-4)


def _upto(model, target, x):
    """The input of block ``target``."""
    x = model.stem(x)
    for _, b in model.named_blocks():
        if b is target:
            return x
        x = b(x)
    raise AssertionError("block not found")


# ---------------------------------------------------------------------------------------------
# Physics, measured
# ---------------------------------------------------------------------------------------------
def test_sigmoid_mlp20_plain_vanishes_residual_does_not():
    plain = probe_spec(preset("mlp-sigmoid20-plain"), seed=0)
    res = probe_spec(preset("mlp-sigmoid20"), seed=0)
    assert plain.ratio < 1e-8, plain.ratio
    assert 0.1 <= res.ratio <= 10, res.ratio
    # Faster than the 0.25 per sigmoid layer bound alone (16 sigmoid layers between the first and
    # the last block output, 0.25**16 ~ 2e-10), since ||W|| < 1 at PyTorch's default init.
    assert plain.ratio < 0.25 ** 16
    assert plain.log10_ratio == pytest.approx(math.log10(plain.ratio))
    # The plain gradient shrinks monotonically toward the input.
    g = plain.blocks["grad_norm"].to_numpy()
    assert (np.diff(g) > 0).all()


def test_cnn56_plain_explodes_toward_input_residual_stays_moderate():
    plain = probe_spec(preset("plain56"), seed=0, batch=32)
    res = probe_spec(preset("resnet56"), seed=0, batch=32)
    assert plain.ratio > 100, plain.ratio  # Yang et al. 2019: BN plain nets explode
    assert res.ratio < 100, res.ratio
    assert res.ratio < plain.ratio / 10
    assert len(plain.blocks) == len(res.blocks) == 27
    assert res.blocks["skip"].all() and not plain.blocks["skip"].any()


def test_float32_underflow_is_flagged_not_dropped():
    spec = mlp(100, skip=False, act="sigmoid")
    r32 = probe_spec(spec, seed=0, batch=8)
    b = r32.blocks
    assert len(b) == spec.n_blocks  # no row dropped
    assert b["grad_norm"].iloc[0] == 0.0 and b["underflow"].iloc[0]
    assert math.isnan(b["log10_grad_norm"].iloc[0])
    assert not b["has_nan"].any() and not b["has_inf"].any()
    assert not b["underflow"].iloc[-1] and b["grad_norm"].iloc[-1] > 0
    assert r32.ratio == 0.0 and math.isnan(r32.log10_ratio)
    # The same net in float64 has a (tiny) positive gradient at every block.
    r64 = probe_spec(spec, seed=0, batch=8, dtype=torch.float64)
    assert r64.meta["dtype"] == "float64"
    g64 = r64.blocks["grad_norm"].to_numpy()
    assert (g64 > 0).all() and not r64.blocks["underflow"].any()
    assert g64[0] < 1e-45  # below float32's smallest subnormal: a true float32 underflow
    # Where float32 did not underflow, float32 and float64 agree on log10 to a few digits.
    ok = b["grad_norm"].to_numpy() > 1e-30  # float32 subnormals carry few significant bits
    np.testing.assert_allclose(b["log10_grad_norm"].to_numpy()[ok],
                               r64.blocks["log10_grad_norm"].to_numpy()[ok], atol=1e-3)


def test_float32_underflow_mlp200():
    spec = mlp(200, skip=False, act="sigmoid")
    res = probe_spec(spec, seed=0, batch=8)
    b = res.blocks
    assert len(b) == spec.n_blocks == 99
    assert b["grad_norm"].iloc[0] == 0.0 and bool(b["underflow"].iloc[0])
    assert math.isnan(b["log10_grad_norm"].iloc[0])


def test_float64_probe_of_mlp200_is_positive():
    spec = mlp(200, skip=False, act="sigmoid")
    r64 = probe_spec(spec, seed=0, batch=8, dtype=torch.float64)
    assert (r64.blocks["grad_norm"] > 0).all()
    assert not r64.blocks["underflow"].any()


def test_relu_mlp_residual_grows_without_norm():
    # Design doc: with ReLU, no norm and default init, the plain net vanishes while the
    # residual net *grows* toward the input.
    plain = probe_spec(preset("mlp-relu20-plain"), seed=0)
    res = probe_spec(preset("mlp-relu20"), seed=0)
    skipinit = probe_spec(preset("mlp-relu20-skipinit"), seed=0)
    assert plain.ratio < 1.0
    assert res.ratio > 1.0
    assert skipinit.ratio == pytest.approx(1.0, rel=1e-5)  # every block starts as the identity


def test_batched_safe_norms_equal_safe_norm_one_by_one():
    ts = [torch.tensor([3e-30, -4e-30]), torch.zeros(5), torch.tensor([1e30, 1e30]),
          torch.tensor([float("nan"), 1.0]), torch.tensor([float("inf"), 2.0]),
          torch.randn(3, 4), torch.tensor([1e-300, -1e-300], dtype=torch.float64),
          torch.tensor([3e-30, 4e-30], dtype=torch.bfloat16)]
    got = _safe_norms(ts)
    want = np.array([float(safe_norm(t.float() if t.dtype == torch.bfloat16 else t)) for t in ts])
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    assert got[0] == pytest.approx(5e-30, rel=1e-6) and got[1] == 0.0 and np.isnan(got[3]) and np.isinf(got[4])
    assert got[6] == pytest.approx(math.sqrt(2) * 1e-300, rel=1e-12)


@pytest.mark.parametrize("host_max", [0, None])
def test_norms_read_mixed_dtypes_in_one_copy(monkeypatch, host_max):
    # One measurement, one host copy: norms of float32, float64 and bfloat16 tensors and 0-dim
    # scalars of any dtype come back under their keys, in float64; bfloat16 is summed in float32.
    # host_max 0: every norm reduced as on a GPU; None: as on a CPU, where small float32/bfloat16
    # tensors are summed in float64 on the host (no copy, and nothing underflows there).
    if host_max is not None:
        monkeypatch.setattr("resnet_explain.norms._HOST_MAX", host_max)
    on_host = host_max is None
    copies = []
    real_cpu = torch.Tensor.cpu

    def cpu(self, *a, **kw):
        copies.append(tuple(self.shape))
        return real_cpu(self, *a, **kw)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    g = torch.Generator().manual_seed(0)
    tensors = {"f32": torch.randn(50, generator=g), "f64": torch.randn(7, dtype=torch.float64, generator=g),
               "bf16": torch.randn(300, generator=g).to(torch.bfloat16), "f32b": torch.randn(3, 4, generator=g)}
    norms = Norms()
    norms.norms(tensors.items())
    norms.scalar("loss", torch.tensor(2.5, dtype=torch.float64))
    norms.scalar(("sum", "x"), torch.tensor(-1.25))
    got = norms.read()
    assert copies == [(3,) if on_host else (6,)]  # nothing tiny: no rescue copy
    assert got["loss"] == 2.5 and got[("sum", "x")] == -1.25
    for k, t in tensors.items():
        assert got[k] == pytest.approx(float(t.double().norm()), rel=1e-6), k
    # A tiny norm is measured again (one more copy, of that tensor only), a zero stays zero. On a
    # CPU the norms that came out exactly 0 are first told apart by their 1-norms (one copy of
    # both: "tiny" underflowed, "zero" is all zeros), so only "tiny" is rescued.
    copies.clear()
    norms.norms([("tiny", torch.full((10,), 1e-41)), ("zero", torch.zeros(3)), ("one", torch.ones(4))])
    got = norms.read()
    assert copies == ([] if on_host else [(3,), (2,), (2, 1)])
    assert got["tiny"] == pytest.approx(math.sqrt(10) * 1e-41, rel=1e-2)  # subnormals: few bits
    assert got["zero"] == 0.0 and got["one"] == 2.0
    assert Norms().read() == {}
