"""What made the probe cheaper changed no number: its tables against plain torch (tensor hooks,
float64 norms) at the benchmark's launch-bound size and at a larger one; tables built on first
access equal tables built at once; the cached layout follows a model that changes; two hook sets
on the same blocks both catch; the host-summed norms (a CPU's small tensors) keep the underflow
rescue's answers, NaN and Inf."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explain.measurement import BlockHooks, Norms, safe_norm
from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import probe
from resnet_explain.spec import preset

RTOL = 1e-5


def _net(name: str, size: int, batch: int, seed: int = 0):
    spec = dataclasses.replace(preset(name), in_size=size)
    model = build_model(spec, seed=seed).train()
    x, y = make_batch(spec, batch=batch, seed=seed)
    return model, x, y


def _reference(model: nn.Module, x, y) -> tuple[dict, dict]:
    """Plain torch, no library code: per block its output's gradient (retain_grad), the shares
    through its body and its shortcut (a view of x for each, retain_grad), its output's float64
    mean and std; per parameter the float64 norms of its gradient and of itself."""
    blocks, handles = {}, []
    for name, blk in model.named_blocks():
        rec = blocks.setdefault(name, {})

        def out_hook(_m, _i, out, rec=rec):
            out.retain_grad()
            rec["out"] = out

        def path_hook(which, rec=rec):
            def hook(_m, args):
                alias = args[0].view_as(args[0])
                alias.retain_grad()
                rec[which] = alias
                return (alias,)
            return hook

        handles.append(blk.register_forward_hook(out_hook))
        if blk.shortcut is not None:
            handles.append(blk.body.register_forward_pre_hook(path_hook("residual")))
            handles.append(blk.shortcut.register_forward_pre_hook(path_hook("identity")))
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    for h in handles:
        h.remove()

    def norm(t):
        return float(torch.linalg.vector_norm(t.double()))

    ref_blocks = {n: {"grad_norm": norm(r["out"].grad),
                      "act_mean": float(r["out"].detach().double().mean()),
                      "act_std": float(r["out"].detach().double().std()),
                      **{f"{w}_norm": norm(r[w].grad) for w in ("identity", "residual") if w in r}}
                  for n, r in blocks.items()}
    ref_params = {n: {"grad_norm": norm(p.grad), "weight_norm": norm(p.detach())}
                  for n, p in model.named_parameters()}
    return ref_blocks, ref_params


@pytest.mark.parametrize("name,size,batch", [("resnet56", 8, 1), ("resnet20", 32, 4),
                                             ("plain20", 8, 2), ("zoo-dense22", 8, 2)])
def test_the_probe_equals_plain_torch(name, size, batch):
    # resnet56 at 8x8, batch 1 is the benchmark's launch-bound case (every tensor small: summed
    # on the host on a CPU); resnet20 at 32x32 has block tensors too big for that.
    model, x, y = _net(name, size, batch)
    ref_blocks, ref_params = _reference(copy.deepcopy(model), x, y)
    res = probe(model, x, y)
    assert all("forward" not in m.__dict__ and not m._forward_hooks and not m._forward_pre_hooks
               for m in model.modules())  # every tap and hook gone
    b = res.blocks.set_index("block")
    assert list(b.index) == list(ref_blocks)
    for n, r in ref_blocks.items():
        for col, want in r.items():
            assert b.loc[n, col] == pytest.approx(want, rel=RTOL, abs=1e-7 if col == "act_mean" else 0), (n, col)
        if "identity_norm" not in r:
            assert math.isnan(b.loc[n, "identity_norm"]) and math.isnan(b.loc[n, "residual_norm"])
    p = res.params.set_index("param")
    assert list(p.index) == list(ref_params)
    for n, r in ref_params.items():
        for col, want in r.items():
            assert p.loc[n, col] == pytest.approx(want, rel=RTOL), (n, col)


def test_tables_built_on_first_access_equal_tables_built_at_once():
    model, x, y = _net("resnet20", 8, 2)
    twin = copy.deepcopy(model)
    eager = probe(twin, x, y)
    eager_tables = (eager.blocks, eager.params)
    lazy = probe(model, x, y)
    with torch.no_grad():  # the model moves on before the tables are asked for
        for q in model.parameters():
            q.mul_(3.0)
            q.grad = None
    probe(model, x, y)
    assert (lazy.ratio, lazy.log10_ratio) == (eager.ratio, eager.log10_ratio)  # before its table
    assert lazy.blocks.equals(eager_tables[0]) and lazy.params.equals(eager_tables[1])
    assert lazy.blocks is lazy.blocks  # built once
    # pickled with its tables; equality and repr read them
    back = pickle.loads(pickle.dumps(lazy))
    assert back == lazy and back.blocks.equals(eager.blocks) and back.meta == lazy.meta
    assert repr(lazy).startswith("ProbeResult(blocks=") and "stage1.block0" in repr(lazy)
    assert lazy != eager  # meta differs (seconds)
    lazy.blocks = lazy.blocks.head(2)  # assignable, as the dataclass's fields were
    assert len(lazy.blocks) == 2 and lazy.params.equals(eager.params)
    assert lazy.ratio == lazy.blocks["grad_norm"].iloc[0] / lazy.blocks["grad_norm"].iloc[1]


def test_the_cached_layout_follows_the_model():
    model, x, y = _net("resnet20", 8, 2)
    first = probe(model, x, y).params
    assert probe(model, x, y).params[["param", "shape", "block"]].equals(first[["param", "shape", "block"]])
    model.head[-1] = nn.Linear(model.head[-1].in_features, 7)  # a new head: new parameters
    y7 = y % 7
    res = probe(model, x, y7)
    head = res.params[res.params["param"].str.startswith("head.")]
    assert list(head["shape"]) == ["7x64", "7"] and res.meta["n_params"] == sum(
        p.numel() for p in model.parameters())
    model.stage1.block0.body.conv1.weight.requires_grad_(False)  # frozen: grad 0, no table change
    res = probe(model, x, y7)
    row = res.params.set_index("param").loc["stage1.block0.body.conv1.weight"]
    assert row["grad_norm"] == 0.0 and row["weight_norm"] > 0
    fc = model.head._modules.pop("fc")  # the same module under another name
    model.head.add_module("out", fc)
    assert list(probe(model, x, y7).params["param"])[-2:] == ["head.out.weight", "head.out.bias"]
    only = probe(model, x, y7, blocks="stage3.*")  # another selection: its own layout
    assert list(only.blocks["block"]) == [n for n, _ in model.named_blocks() if n.startswith("stage3.")]


def test_two_hook_sets_on_the_same_blocks_both_catch():
    # A watch around a loop in which a probe runs: the second set (module hooks) sees what the
    # first (our blocks' taps) sees.
    model, x, y = _net("zoo-highway20", 8, 2)
    blocks = model.named_blocks()
    outer = BlockHooks(blocks, split=True, activations=False).install()
    inner = BlockHooks(blocks, split=True, activations=False).install()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    inner.remove()
    outer.remove()
    assert outer.caught.keys() == inner.caught.keys() and any(k[0] == "gate" for k in outer.caught)
    for k, g in outer.caught.items():
        assert torch.equal(g, inner.caught[k]), k
    assert all("forward" not in m.__dict__ for _, m in blocks)


def test_host_summed_norms_keep_the_rescue_answers():
    # On a CPU small float32/bfloat16 tensors are summed in float64 on the host: the squares of
    # 1e-41 do not underflow there, exact zeros stay 0, NaN and Inf come out as safe_norm's.
    g = torch.Generator().manual_seed(0)
    tensors = {"tiny": torch.full((10,), 1e-41), "zero": torch.zeros(7), "one": torch.ones(4),
               "nan": torch.tensor([1.0, float("nan")]), "inf": torch.tensor([float("inf"), 2.0]),
               "huge": torch.full((3,), 3e38), "bf16": torch.randn(40, generator=g).to(torch.bfloat16),
               "big": torch.randn(4000, generator=g), "empty": torch.zeros(0),
               "f64": torch.full((5,), 1e-300, dtype=torch.float64)}
    norms = Norms()
    norms.norms(tensors.items())
    got = norms.read()
    for k, t in tensors.items():
        want = float(safe_norm(t.float() if t.dtype == torch.bfloat16 else t))
        assert got[k] == pytest.approx(want, rel=1e-2 if k == "tiny" else 1e-6, nan_ok=True), k
    assert got["zero"] == 0.0 and got["empty"] == 0.0 and math.isnan(got["nan"])
    assert math.isinf(got["inf"]) and got["huge"] == pytest.approx(math.sqrt(3) * 3e38, rel=1e-6)


@pytest.mark.parametrize("n", [50, 5000])  # on the host, and reduced tensor by tensor
def test_moments_are_float64_sums_and_norms(n):
    g = torch.Generator().manual_seed(1)
    ts = [torch.randn(n, generator=g) + 0.5, torch.zeros(3), torch.randn(2, n, generator=g) * 1e-20]
    norms = Norms()
    for i, t in enumerate(ts):
        norms.moments(("s", i), ("n", i), t)
    norms.scalar("loss", torch.tensor(1.5))
    got = norms.read()
    assert got["loss"] == 1.5
    for i, t in enumerate(ts):
        d = t.double()
        assert got[("s", i)] == pytest.approx(float(d.sum()), rel=1e-5, abs=1e-30)
        assert got[("n", i)] == pytest.approx(float(d.norm()), rel=1e-6)
    assert isinstance(pd.Series(list(got.values())).dtype, np.dtype)


def test_big_cpu_gradients_reduced_as_they_arrive_keep_the_rescue():
    # Bigger than REDUCE_AT_ONCE: reduced in a tensor hook (and rescued there), not kept; the
    # same numbers as the kept ones'. A loss scaled by 1e-38 makes every gradient ~1e-41.
    from resnet_explain import measurement

    model, x, y = _net("resnet20", 32, 4)
    blocks = model.named_blocks()
    params = list(model.parameters())
    got = {}
    for scale in (1.0, 1e-38):
        for reduce_at_once in (measurement.REDUCE_AT_ONCE, 10**12):  # 10**12: every one kept
            measurement.REDUCE_AT_ONCE, saved = reduce_at_once, measurement.REDUCE_AT_ONCE
            try:
                hooks = BlockHooks(blocks, split=True, activations=True, capture=True)
                with hooks:
                    loss = F.cross_entropy(model(x), y) * scale
                hooks.backward(loss, params)
            finally:
                measurement.REDUCE_AT_ONCE = saved
            norms = Norms()
            hooks.add_to(norms)
            got[scale, reduce_at_once] = (norms.read(), set(hooks.reduced), set(hooks.caught))
        (kept_at_once, reduced, caught), (kept_all, none, every) = (
            got[scale, measurement.REDUCE_AT_ONCE], got[scale, 10**12])
        assert reduced and not none and reduced | caught == every  # some reduced at once
        assert kept_at_once.keys() == kept_all.keys()
        for k, v in kept_all.items():
            assert kept_at_once[k] == pytest.approx(v, rel=1e-5), k
        if scale < 1:  # every gradient underflows in its squares: rescued, not 0
            assert all(0 < kept_at_once[k] < 1e-30 for k in reduced)


def test_norm_now_is_safe_norm_where_the_plain_norm_fails():
    from resnet_explain.norms import norm_now

    for t in (torch.full((10,), 1e-41), torch.zeros(6), torch.tensor([3e30, 4e30]),
              torch.tensor([1.0, float("nan")]), torch.tensor([float("inf"), 1.0]),
              torch.randn(50).to(torch.bfloat16), torch.randn(4, 5)):
        want = float(safe_norm(t.float() if t.dtype == torch.bfloat16 else t))
        assert norm_now(t) == pytest.approx(want, rel=1e-2 if t.abs().max() < 1e-30 else 1e-6,
                                            nan_ok=True)


def test_a_shared_module_is_walked_once_as_named_parameters_lists_it():
    class Twice(nn.Module):  # one layer used twice, registered under two names
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = self.a
            self.out = nn.Linear(4, 3)

        def forward(self, x):
            return self.out(torch.relu(self.b(torch.relu(self.a(x)))))

    torch.manual_seed(0)
    model = Twice()
    res = probe(model, torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]),
                blocks=[("a", model.a), ("out", model.out)])
    assert list(res.params["param"]) == [n for n, _ in model.named_parameters()]
    assert res.meta["n_params"] == sum(p.numel() for p in model.parameters())
