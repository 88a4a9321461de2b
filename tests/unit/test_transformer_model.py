"""The Transformer's maths: the skip is exactly an identity, attention is causal, gradients check
in float64, the probe equals an independent autograd computation, the twin shares weights,
ReZero starts as the identity, DeepNorm's constants, and every parameter gets a finite gradient."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from resnet_explain.model import build_model, find_blocks, make_batch
from resnet_explain.model.transformer import CausalMix, TransformerNet
from resnet_explain.probe import probe, probe_spec
from resnet_explain.spec import estimate_cost
from resnet_explain.spec.transformer import deepnorm_alpha, deepnorm_beta, transformer_spec

try:
    from tests.unit.test_spec import valid_transformer_specs
except ModuleNotFoundError:  # run from tests/unit
    from test_spec import valid_transformer_specs

TINY = dict(depth=2, width=8, heads=2, context=6, vocab=11)
VARIANTS = [dict(norm=n, scaling=s) for n in ("pre", "post", "none") for s in (None, "rezero")] + [
    dict(norm="post", scaling="deepnorm")]


def _tiny(**kw):
    return transformer_spec(**{**TINY, **kw})


@pytest.mark.parametrize("norm", ["pre", "none"])
@pytest.mark.parametrize("kind", ["attn", "mlp"])
def test_zero_output_projection_is_exactly_the_identity(norm, kind):
    model = build_model(_tiny(norm=norm), seed=1)
    blk = getattr(model.layer1, kind)
    with torch.no_grad():
        blk.body.out.weight.zero_()
        blk.body.out.bias.zero_()
    x = torch.randn(3, 5, 8)
    assert torch.equal(blk(x), x)


def test_zero_output_projection_post_ln_is_the_norm_of_the_input():
    model = build_model(_tiny(norm="post"), seed=1)
    blk = model.layer0.mlp
    with torch.no_grad():
        blk.body.out.weight.zero_()
        blk.body.out.bias.zero_()
    x = torch.randn(3, 5, 8)
    assert torch.equal(blk(x), blk.out_act(x)) and isinstance(blk.out_act, nn.LayerNorm)


@pytest.mark.parametrize("variant", VARIANTS + [dict(norm="pre", skips=False)])
def test_no_position_sees_the_future(variant):
    model = build_model(_tiny(**variant), seed=2).eval()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 11, (2, 6), generator=g)
    for k in range(1, 6):
        changed = tokens.clone()
        changed[:, k] = (changed[:, k] + 1) % 11
        a, b = model(tokens), model(changed)
        assert torch.equal(a[:, :k], b[:, :k]), k  # earlier positions: bit for bit the same
        assert not torch.allclose(a[:, k:], b[:, k:])  # the changed one and later do move


def test_causal_mix_matches_an_explicit_masked_softmax():
    mix = CausalMix(8, 2)
    qkv = torch.randn(2, 5, 24, dtype=torch.float64)
    q, k, v = (z.reshape(2, 5, 2, 4).transpose(1, 2) for z in qkv.split(8, dim=2))
    scores = q @ k.transpose(-1, -2) / math.sqrt(4)
    scores = scores.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf"))
    ref = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 8)
    assert torch.allclose(mix(qkv), ref, atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS + [dict(norm="none", skips=False)])
def test_gradcheck_float64(variant):
    model = build_model(_tiny(depth=1, context=3, **variant), seed=3).to(torch.float64)
    for p in model.parameters():  # ReZero's alpha away from 0, so the branches count too
        if p.dim() == 0:
            p.data.fill_(0.7)
    h = torch.randn(1, 3, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: model.decode(model.layer0(x)), (h,))


def _reference(model: TransformerNet, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Plain autograd, without the probe's hooks: the gradient at every sublayer's output, and for
    each sublayer with a skip its identity and branch terms, recomputed from s = a·x + r·F(x)."""
    logits, stream = model(x, return_stream=True)
    names = list(stream)
    for t in stream.values():
        t.retain_grad()
    model.loss(logits, y).backward()
    out = {}
    for prev, name in zip(names, names[1:]):
        blk = model.get_submodule(name)
        out[("grad", name)] = stream[name].grad.norm().item()
        if blk.shortcut is None:
            continue
        xin = stream[prev].detach().requires_grad_(True)
        f = blk.body(xin)
        f = f * blk.res_scale if blk.res_scale is not None else f
        s = blk.skip_scale * xin + f
        (ds,) = torch.autograd.grad(blk.out_act(s), s, stream[name].grad)
        out[("identity", name)] = (blk.skip_scale * ds).norm().item()
        (dx,) = torch.autograd.grad(f, xin, ds)
        out[("residual", name)] = dx.norm().item()
    return out


@pytest.mark.parametrize("variant", VARIANTS)
def test_probe_numbers_equal_an_independent_autograd_computation(variant):
    spec = _tiny(depth=3, **variant)
    x, y = make_batch(spec, batch=4, seed=5)
    res = probe(build_model(spec, seed=4), x, y)
    ref_model = build_model(spec, seed=4)
    for p in ref_model.parameters():
        if p.dim() == 0:
            assert p.item() == (0.0 if variant["scaling"] == "rezero" else 1.0)
    ref = _reference(ref_model, x, y)
    rows = res.blocks.set_index("block")
    for (which, name), v in ref.items():
        col = {"grad": "grad_norm", "identity": "identity_norm", "residual": "residual_norm"}[which]
        assert rows.loc[name, col] == pytest.approx(v, rel=1e-5, abs=1e-30), (which, name)
    params = res.params.set_index("param")
    for n, p in ref_model.named_parameters():
        assert params.loc[n, "grad_norm"] == pytest.approx(p.grad.norm().item(), rel=1e-5, abs=1e-30), n
    assert res.meta["loss"] == pytest.approx(math.log(11), rel=0.2)  # random tokens, at init
    assert list(rows.index) == [n for n, _ in spec.named_blocks()]
    assert rows["connection"].eq("identity").all() and rows["skip"].all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_twin_shares_every_weight(variant):
    spec = _tiny(**variant)
    a = build_model(spec, seed=7).state_dict()
    b = build_model(spec.twin(), seed=7).state_dict()
    assert spec.twin().twin() == spec and not spec.twin().any_skip
    alphas = {k for k in a if k.endswith("res_scale")}  # ReZero's alpha exists only with a skip
    assert set(a) - alphas == set(b)
    assert all(torch.equal(a[k], b[k]) for k in b)
    assert build_model(spec, seed=8).state_dict()["layer0.mlp.body.fc.weight"].ne(a["layer0.mlp.body.fc.weight"]).any()


@pytest.mark.parametrize("norm", ["none", "pre"])
def test_rezero_starts_as_the_identity(norm):
    spec = _tiny(norm=norm, scaling="rezero")
    model = build_model(spec, seed=0)
    x, _ = make_batch(spec, batch=2)
    _, stream = model(x, return_stream=True)
    alphas = [p for n, p in model.named_parameters() if n.endswith("res_scale")]
    assert len(alphas) == spec.n_blocks and all(a.item() == 0.0 and a.requires_grad for a in alphas)
    for name, h in stream.items():
        assert torch.equal(h, stream["embed"]), name


def test_deepnorm_alpha_and_beta():
    n = 3
    dn = build_model(_tiny(depth=n, norm="post", scaling="deepnorm", init="xavier"), seed=9)
    plain = build_model(_tiny(depth=n, norm="post", init="xavier"), seed=9)
    alpha, beta = (2 * n) ** 0.25, (8 * n) ** -0.25
    assert deepnorm_alpha(n) == pytest.approx(alpha) and deepnorm_beta(n) == pytest.approx(beta)
    for (name, blk), (_, ref) in zip(dn.named_blocks(), plain.named_blocks()):
        assert blk.skip_scale == pytest.approx(alpha) and ref.skip_scale == 1.0
        for layer in ("qkv", "out", "fc"):
            if not hasattr(blk.body, layer):
                continue
            w, w0 = getattr(blk.body, layer).weight, getattr(ref.body, layer).weight
            if layer == "qkv":  # q and k as they were, v scaled by beta
                assert torch.equal(w[:16], w0[:16])
                assert torch.allclose(w[16:], beta * w0[16:])
            else:
                assert torch.allclose(w, beta * w0)
        x = torch.randn(2, 4, 8)  # x <- LN(alpha x + F(x))
        assert torch.allclose(blk(x), blk.out_act(alpha * x + blk.body(x)), atol=1e-6)
    # Xavier on q, k, v as three square matrices: std sqrt(2 / (8 + 8)) each
    assert plain.layer0.attn.body.qkv.weight.shape == (24, 8)


def test_gpt2_init():
    n = 4
    model = build_model(transformer_spec(depth=n, width=64, heads=4), seed=0)
    assert model.embed.tok.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.layer0.mlp.body.fc.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.layer0.mlp.body.out.weight.std().item() == pytest.approx(0.02 / math.sqrt(2 * n), rel=0.05)
    assert model.layer0.attn.body.qkv.bias.abs().sum() == 0
    assert isinstance(model.final_norm, nn.LayerNorm)
    assert isinstance(build_model(_tiny(norm="post")).final_norm, nn.Identity)
    assert model.unembed.weight.data_ptr() != model.embed.tok.weight.data_ptr()  # untied


@settings(max_examples=40, deadline=None)
@given(valid_transformer_specs())
def test_every_parameter_gets_a_finite_gradient(spec):
    model = build_model(spec, seed=0)
    for p in model.parameters():  # ReZero alpha 0 is legal; make the branches reach the loss too
        if p.dim() == 0:
            p.data.fill_(0.5)
    x, y = make_batch(spec, batch=2, seed=1)
    torch.manual_seed(0)
    model.loss(model(x), y).backward()
    for n, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n


def test_every_combination_trains_a_step_with_finite_gradients():
    for norm, skips, scaling, init in itertools.product(("pre", "post", "none"), (True, False),
                                                        (None, "rezero", "deepnorm"), ("default", "xavier")):
        if scaling == "deepnorm" and norm != "post":
            continue
        spec = _tiny(norm=norm, skips=skips, scaling=scaling, init=init)
        model = build_model(spec, seed=0)
        x, y = make_batch(spec, batch=2)
        model.loss(model(x), y).backward()
        for n, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), (norm, skips, scaling, init, n)


def test_stream_and_decode():
    spec = _tiny()
    model = build_model(spec, seed=0)
    x, _ = make_batch(spec, batch=2)
    logits, stream = model(x, return_stream=True)
    assert list(stream) == ["embed"] + [n for n, _ in spec.named_blocks()]
    assert torch.equal(model.decode(stream["layer1.mlp"]), logits) and torch.equal(model(x), logits)
    assert logits.shape == (2, 6, 11)
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 7, dtype=torch.long))


def test_lesion_without_branch_and_blocks():
    spec = _tiny(norm="pre")
    model = build_model(spec, seed=0)
    blocks = find_blocks(model)
    assert [n for n, _ in blocks] == [n for n, _ in model.named_blocks()] == [n for n, _ in spec.named_blocks()]
    x = torch.randn(2, 4, 8)
    for _, blk in blocks:
        assert torch.equal(blk.without_branch(x, blk(x)), x)
    post = build_model(_tiny(norm="post", scaling="deepnorm"), seed=0).layer0.attn
    assert torch.allclose(post.without_branch(x, post(x)), post.out_act(deepnorm_alpha(2) * x))


def test_no_module_used_twice_and_nothing_in_place():
    model = build_model(_tiny(norm="post"), seed=0)
    seen: dict[int, str] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        assert id(m) not in seen, f"{name} is the same module as {seen[id(m)]}"
        seen[id(m)] = name
        assert not getattr(m, "inplace", False), name


@pytest.mark.parametrize("variant", VARIANTS + [dict(norm="pre", skips=False)])
def test_cost_is_exact(variant):
    spec = _tiny(**variant)
    model = build_model(spec)
    cost = estimate_cost(spec)
    assert cost.params == sum(p.numel() for p in model.parameters())
    x, _ = make_batch(spec, batch=1)
    with FlopCounterMode(display=False) as fc:
        model(x)
    # CPU's fused attention kernel is not seen by FlopCounterMode: q·kᵀ and weights·v, 2·T²·w each
    attention = spec.depth * 4 * spec.context ** 2 * spec.width
    assert cost.flops == fc.get_total_flops() + attention


def test_probe_spec_takes_a_batch_source():
    spec = _tiny()
    calls = []

    def batch_fn(s, batch, seed):
        calls.append((s, batch, seed))
        t = torch.arange(batch * 7).reshape(batch, 7) % s.vocab
        return t[:, :-1], t[:, 1:]

    res = probe_spec(spec, seed=3, batch=2, batch_fn=batch_fn)
    assert calls == [(spec, 2, 3)] and res.meta["batch"] == 2 and res.meta["dtype"] == "float32"
    assert res.blocks["grad_norm"].gt(0).all()


def test_residual_stream_norms_and_shares():
    from resnet_explain.model.stream import residual_stream

    spec = _tiny(depth=3)
    model = build_model(spec, seed=0)
    x, _ = make_batch(spec, batch=2)
    d = residual_stream(model, x)
    assert list(d["block"]) == [n for n, _ in spec.named_blocks()]
    _, stream = model(x, return_stream=True)
    blk = model.layer1.mlp  # independently: what the mlp adds, against the stream it is added to
    f = blk.body(stream["layer1.attn"])
    row = d.set_index("block").loc["layer1.mlp"]
    assert row["share"] == pytest.approx((f.norm() / stream["layer1.attn"].norm()).item(), rel=1e-5)
    assert row["stream_norm"] == pytest.approx(stream["layer1.mlp"].norm(dim=-1).mean().item(), rel=1e-5)
    assert row["branch_norm"] == pytest.approx(f.norm(dim=-1).mean().item(), rel=1e-5)
    rz = residual_stream(build_model(_tiny(scaling="rezero")), x)
    assert rz["share"].eq(0).all() and rz["branch_norm"].eq(0).all()
    assert residual_stream(build_model(spec.twin()), x)["share"].isna().all()


def test_output_weight_grads_per_sublayer():
    from resnet_explain.probe import output_weight_grads

    spec = _tiny(depth=3)
    res = probe_spec(spec, batch=2)
    g = output_weight_grads(res)
    assert list(g["block"]) == [n for n, _ in spec.named_blocks()]
    assert list(g["layer"]) == [0, 0, 1, 1, 2, 2] and list(g["kind"]) == ["attn", "mlp"] * 3
    p = res.params.set_index("param")
    assert g["grad_norm"].iloc[3] == p.loc["layer1.mlp.body.out.weight", "grad_norm"]


def test_the_lesion_study_deletes_a_sublayer_branch():
    from resnet_explain.experiments.lesion import lesioned

    spec = _tiny(depth=2, norm="pre")
    model = build_model(spec, seed=0)
    x, _ = make_batch(spec, batch=2)
    _, intact = model(x, return_stream=True)
    with lesioned(model, "layer1.mlp"):
        logits, cut = model(x, return_stream=True)
    assert torch.equal(cut["layer1.mlp"], cut["layer1.attn"]) and torch.equal(cut["layer1.attn"], intact["layer1.attn"])
    assert torch.equal(logits, model.decode(intact["layer1.attn"]))
