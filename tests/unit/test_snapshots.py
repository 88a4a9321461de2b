"""Gradient snapshots during training: they measure what the probe measures, the update ratio is the
step's real change, they do not change training, one row per (step, block); config; charts."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explain import magnitude
from resnet_explain.charts import grad_history as gh
from resnet_explain.data import Normalizer, make_shapes
from resnet_explain.model import build_model, find_blocks, make_batch
from resnet_explain.probe import probe
from resnet_explain.seeding import sub_seed
from resnet_explain.spec import cifar_resnet, preset
from resnet_explain.train import config, snapshots, trainer
from resnet_explain.train.budgets import EXPERIMENTS

SPEC = cifar_resnet(8, width=4, in_size=8, classes=2)
PLAIN = cifar_resnet(8, width=4, in_size=8, classes=2, skip=False)


@pytest.fixture(scope="module")
def data():
    return make_shapes(128, seed=0, size=8, difficulty=0.0, classes=2)


def cfg(**kw):
    base = dict(epochs=1, batch_size=32, lr=0.05, device="cpu", seed=0, amp="off", channels_last="off")
    base.update(kw)
    return config.TrainConfig(**base)


def first_batch(ds, c):
    """The trainer's first mini-batch, rebuilt from its seeded batch order (no augmentation)."""
    g = torch.Generator().manual_seed(sub_seed(c.seed, "batches"))
    n = len(ds)
    bs = min(c.batch_size, n)
    idx = torch.randperm(n, generator=g)[: (n // bs) * bs][:bs]
    scale, shift = Normalizer.of(ds).tensors(torch.device("cpu"))
    return ds.x.index_select(0, idx).float() * scale - shift, ds.y.index_select(0, idx)


def unit_of(param_name: str, blocks: list[str]) -> str:
    for b in blocks:
        if param_name.startswith(b + "."):
            return b
    return param_name.split(".")[0]


def per_unit(named: dict[str, torch.Tensor], blocks: list[str]) -> dict[str, float]:
    """sqrt of the sum of squares of the tensors, per block (and stem, head), in float64."""
    sq: dict[str, float] = {}
    for n, t in named.items():
        u = unit_of(n, blocks)
        sq[u] = sq.get(u, 0.0) + float(t.double().square().sum())
    return {u: math.sqrt(v) for u, v in sq.items()}


@pytest.mark.parametrize("spec", [SPEC, PLAIN], ids=["residual", "plain"])
def test_step_zero_matches_the_probe(spec, data):
    c = cfg(snapshot_every=1000)  # one snapshot: step 0, the initial model on the first batch
    res = trainer.train(spec, data, None, c)
    snap = res.grads
    assert list(snap["step"].unique()) == [0]
    model = build_model(spec, seed=c.seed)
    x, y = first_batch(data, c)
    pr = probe(model, x, y, train=True)
    blocks = snap[snap["kind"] == "block"]
    assert list(blocks["block"]) == list(pr.blocks["block"])
    np.testing.assert_allclose(blocks["grad_norm"], pr.blocks["grad_norm"], rtol=1e-5)
    # ‖∂L/∂W‖ and ‖W‖ per block (and stem, head): the probe's per-parameter norms combined.
    names = list(pr.blocks["block"])
    p = pr.params.assign(unit=[unit_of(n, names) for n in pr.params["param"]])
    want_g = p.groupby("unit")["grad_norm"].apply(lambda v: math.sqrt((v ** 2).sum()))
    want_w = p.groupby("unit")["weight_norm"].apply(lambda v: math.sqrt((v ** 2).sum()))
    got = snap.set_index("block")
    assert set(got.index) == set(want_g.index) == {"stem", "head", *names}
    np.testing.assert_allclose(got.loc[want_g.index, "weight_grad_norm"], want_g, rtol=1e-5)
    np.testing.assert_allclose(got.loc[want_w.index, "weight_norm"], want_w, rtol=1e-5)


def test_update_ratio_is_the_steps_change(data):
    # One step an epoch (32 images, batch 32) and a constant lr: a run of E epochs is the first E
    # steps of a longer one, so the weights before and after step 2 can be had independently.
    small = make_shapes(32, seed=1, size=8, difficulty=0.0, classes=2)
    c = cfg(schedule="constant", momentum=0.9, weight_decay=1e-3)
    res = trainer.train(SPEC, small, None, replace(c, epochs=3, snapshot_every=2))
    assert sorted(res.grads["step"].unique()) == [0, 2]
    names = [n for n, _ in find_blocks(res.model)]

    def params(m):
        return {n: p.detach() for n, p in m.named_parameters()}

    before = params(trainer.train(SPEC, small, None, replace(c, epochs=2)).model)
    after = params(res.model)  # 3 steps: the weights after step 2
    w = per_unit(before, names)
    dw = per_unit({n: after[n] - before[n] for n in before}, names)
    got = res.grads[res.grads["step"] == 2].set_index("block")
    for u in w:
        assert got.loc[u, "weight_norm"] == pytest.approx(w[u], rel=1e-5)
        assert got.loc[u, "update_ratio"] == pytest.approx(dw[u] / w[u], rel=1e-4)
    # Step 0: against the initial weights.
    init = params(build_model(SPEC, seed=0))
    one = params(trainer.train(SPEC, small, None, replace(c, epochs=1)).model)
    w0, dw0 = per_unit(init, names), per_unit({n: one[n] - init[n] for n in init}, names)
    got0 = res.grads[res.grads["step"] == 0].set_index("block")
    for u in w0:
        assert got0.loc[u, "update_ratio"] == pytest.approx(dw0[u] / w0[u], rel=1e-4)
        assert got0.loc[u, "update_ratio"] > 0


@pytest.mark.parametrize("opts", [dict(amp="off", channels_last="off"),
                                  dict(amp="auto", channels_last="auto", augment=True)],
                         ids=["fp32", "auto"])
def test_snapshots_do_not_change_training(data, opts):
    off = trainer.train(PLAIN, data, data, cfg(epochs=2, **opts))
    on = trainer.train(PLAIN, data, data, cfg(epochs=2, snapshot_every=1, **opts))
    cols = ["epoch", "train_loss", "train_error", "test_error", "lr"]
    pd.testing.assert_frame_equal(off.history[cols], on.history[cols])
    a, b = off.model.state_dict(), on.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(on.grads) == 8 * (len(find_blocks(on.model)) + 2)  # every step, every unit
    assert off.grads.empty and list(off.grads.columns) == snapshots.GRAD_COLUMNS


def test_one_row_per_step_and_block(data):
    k = 3
    res = trainer.train(SPEC, data, None, cfg(epochs=2, snapshot_every=k))  # 4 steps an epoch
    g = res.grads
    assert list(g.columns) == snapshots.GRAD_COLUMNS
    steps = [0, 3, 6]
    assert sorted(g["step"].unique()) == steps
    names = [n for n, _ in find_blocks(res.model)]
    units = ["stem", *names, "head"]
    for s in steps:
        rows = g[g["step"] == s]
        assert list(rows["block"]) == units
        assert list(rows["position"]) == list(range(-1, len(names) + 1))
        assert list(rows["kind"]) == ["stem"] + ["block"] * len(names) + ["head"]
        assert set(rows["epoch"]) == {s // 4 + 1}
    assert not g.duplicated(["step", "block"]).any()
    q = g[["grad_norm", "weight_grad_norm", "weight_norm", "update_ratio"]].to_numpy()
    assert np.isfinite(q).all() and (q > 0).all()


def test_stopped_run_keeps_its_snapshots(data):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 6  # 6 steps run: one epoch (4) and two steps of the next

    res = trainer.train(SPEC, data, None, cfg(epochs=3, snapshot_every=2), should_stop=stop)
    assert res.meta["stopped"] and len(res.history) == 1
    assert sorted(res.grads["step"].unique()) == [0, 2, 4]
    assert set(res.grads.loc[res.grads["step"] == 4, "epoch"]) == {2}
    # no hook is left behind on the returned model
    assert not any(m._forward_hooks for m in res.model.modules())


def test_host_copies_per_snapshot_not_per_block(data, monkeypatch):
    copies, scalars = [], []
    real_cpu, real_item, real_float = torch.Tensor.cpu, torch.Tensor.item, torch.Tensor.__float__

    def cpu(self, *a, **kw):
        copies.append(tuple(self.shape))
        return real_cpu(self, *a, **kw)

    def item(self):
        scalars.append("item")
        return real_item(self)

    def to_float(self):
        scalars.append("float")
        return real_float(self)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    monkeypatch.setattr(torch.Tensor, "item", item)
    monkeypatch.setattr(torch.Tensor, "__float__", to_float)
    # Every norm reduced as on a GPU (on a CPU small tensors are summed on the host, with no copy
    # at all: resnet_explain.norms._HOST_MAX), so the copies counted are a device's.
    monkeypatch.setattr("resnet_explain.norms._HOST_MAX", 0)
    # the per-step curve has its own copy per epoch (tests/unit/test_step_history.py): off here
    trainer.train(SPEC, data, None, cfg(epochs=2, curve_every=0))
    assert copies == [] and "item" not in scalars
    baseline = len(scalars)  # the trainer's own per-epoch reads (loss, error)
    scalars.clear()
    trainer.train(SPEC, data, None, cfg(epochs=2, snapshot_every=1, curve_every=0))
    # Two epochs of 4 snapshot steps: one copy before each update (unit output gradients,
    # parameter gradients, parameters: one stacked vector) and one after it (the change); nothing
    # per block. At step 0 the parameters initialised to 0 (BatchNorm biases) have norm 0: their
    # squares might have underflowed, so their 1-norms tell (one more, small copy on a CPU) that
    # they are all zeros, and no rescue by scaling follows.
    params = list(build_model(SPEC, seed=0).parameters())
    units, zero = len(SPEC.blocks) + 2, sum(not p.any() for p in params)
    before, after = (units + 2 * len(params),), (len(params),)
    assert zero > 0 and copies == [before, (zero,), after] + [before, after] * 7
    assert len(scalars) == baseline and "item" not in scalars


def _one_snapshot(model, x, y) -> pd.DataFrame:
    """A snapshot of one plain SGD step on (x, y), the way the trainer takes it."""
    snaps = snapshots.GradSnapshots(model, every=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert snaps.start(0, 1)
    model.train()
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    snaps.before_update()
    opt.step()
    snaps.after_update()
    return snaps.frame()


@pytest.mark.parametrize("spec", [SPEC, PLAIN, preset("mlp-sigmoid50-plain")],
                         ids=["residual", "plain", "sigmoid-mlp50-plain"])
def test_snapshot_and_probe_measure_the_same_numbers(spec):
    # One mechanism (resnet_explain.measurement): the same model and batch give the probe's
    # per-block gradient norms, to the bit, and its per-parameter norms combined per unit.
    x, y = make_batch(spec, batch=8, seed=3)
    pr = probe(build_model(spec, seed=2), x, y, train=True)
    snap = _one_snapshot(build_model(spec, seed=2), x, y)
    blocks = snap[snap["kind"] == "block"]
    assert list(blocks["block"]) == list(pr.blocks["block"])
    np.testing.assert_array_equal(blocks["grad_norm"].to_numpy(), pr.blocks["grad_norm"].to_numpy())
    names = list(pr.blocks["block"])
    p = pr.params.assign(unit=[unit_of(n, names) for n in pr.params["param"]])
    want = p.groupby("unit")["grad_norm"].apply(lambda v: math.sqrt((v ** 2).sum()))
    np.testing.assert_allclose(snap.set_index("block").loc[want.index, "weight_grad_norm"], want, rtol=1e-12)


def test_snapshot_rescues_underflow_as_the_probe_does():
    # A deep plain sigmoid MLP: the first blocks' gradients are ~1e-41, float32 subnormals whose
    # squares underflow (a plain float32 norm of them is 0). Probe and snapshot both rescue them
    # by scaling, so they get the same value, not 0; an exact 0 stays 0 (underflow) in both.
    spec = preset("mlp-sigmoid50-plain")
    x, y = make_batch(spec, batch=8, seed=0)
    pr = probe(build_model(spec, seed=0), x, y, train=True).blocks
    snap = _one_snapshot(build_model(spec, seed=0), x, y)
    g = snap.loc[snap["kind"] == "block", "grad_norm"].to_numpy()
    tiny = (pr["grad_norm"] > 0) & (pr["grad_norm"] < 1e-38)  # below float32's smallest normal
    assert tiny.sum() >= 2 and tiny.iloc[0]
    # every entry is at most the norm, so every square is below 1e-76: 0 in float32
    assert float(torch.tensor(float(pr["grad_norm"].iloc[0])) ** 2) == 0.0
    np.testing.assert_array_equal(g, pr["grad_norm"].to_numpy())
    assert (g[tiny.to_numpy()] > 0).all()
    # The weight gradients of those blocks are rescued too (‖∂L/∂W‖ of a ~1e-41 signal).
    first = snap.set_index("block").loc[pr["block"].iloc[0]]
    assert 0 < first["weight_grad_norm"] < 1e-30


def test_foreign_model_blocks_are_its_children(data):
    # find_blocks falls back to the top-level children; no stem/head pseudo-blocks are invented,
    # and a child without parameters has no update ratio (0/0 is NaN, not a number made up).
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    res = trainer.train(SPEC, data, None, cfg(snapshot_every=2), model=net)
    g = res.grads[res.grads["step"] == 2]
    assert list(g["block"]) == ["0", "1", "2", "3", "4"] and set(g["kind"]) == {"block"}
    relu = g.set_index("block").loc["1"]
    assert relu["weight_norm"] == 0 and math.isnan(relu["update_ratio"]) and relu["grad_norm"] > 0
    assert (g.set_index("block").loc[["0", "4"], "update_ratio"] > 0).all()


def test_config_validation():
    for bad in (-1, 1.5, True, "8", 2_000_000):
        with pytest.raises(config.TrainError, match="snapshot_every"):
            config.TrainConfig(snapshot_every=bad).validate()
    assert config.TrainConfig().snapshot_every == 0  # off unless asked
    config.TrainConfig(snapshot_every=config.SNAPSHOT_EVERY).validate()
    # The app's K gives the live budget 5 to 10 snapshots an epoch.
    live = EXPERIMENTS["cpu-live"]
    per_epoch = live.n_train // live.config.batch_size
    assert 5 <= math.ceil(per_epoch / config.SNAPSHOT_EVERY) <= 10


# ---------------------------------------------------------------------------------------------
# Reading and drawing the numbers
# ---------------------------------------------------------------------------------------------
def synthetic(first: float, last: float, steps=(0, 8, 16), zero_at=None) -> pd.DataFrame:
    """Snapshots of a 3-block net: update ratio ``first`` at the first block, ``last`` at the
    last, their geometric mean between; stem 0.5, head 0.02. ``zero_at`` = (step, block) set to 0."""
    units = [("stem", "stem", 0.5), ("stage1.block0", "block", first),
             ("stage1.block1", "block", math.sqrt(first * last)), ("stage2.block0", "block", last),
             ("head", "head", 0.02)]
    rows = [{"step": s, "epoch": 1 + s // 10, "block": name, "position": pos, "kind": kind,
             "grad_norm": r * 10, "weight_grad_norm": r * 3, "weight_norm": 2.0, "update_ratio": r}
            for s in steps for pos, (name, kind, r) in enumerate(units, start=-1)]
    df = pd.DataFrame(rows, columns=snapshots.GRAD_COLUMNS)
    if zero_at is not None:
        df.loc[(df["step"] == zero_at[0]) & (df["block"] == zero_at[1]),
               ["grad_norm", "update_ratio"]] = 0.0
    return df


def test_learning_pace_numbers_and_words():
    from resnet_explain.content.your_network import pace_sentence

    slow = snapshots.learning_pace(synthetic(1e-6, 1e-2))
    assert slow.band == "vanishes" and not slow.learns
    assert slow.ratio == pytest.approx(1e-4) and slow.snapshots == 3
    assert slow.first_block == "stage1.block0" and slow.last_block == "stage2.block0"
    text = pace_sentence(slow, "plain")
    assert "10,000× slower" in text and "1.0 × 10⁻⁶" in text and "plain" in text  # 1 / ratio, first
    same = snapshots.learning_pace(synthetic(3e-3, 2e-3))
    assert same.band == "about the same" and same.learns and "1.5×" in pace_sentence(same)
    faster = snapshots.learning_pace(synthetic(5e-2, 1e-3))
    assert faster.band == "grows" and faster.learns and "50× faster" in pace_sentence(faster)
    frozen = snapshots.learning_pace(synthetic(0.0, 1e-3))
    assert frozen.band == magnitude.UNDERFLOW_BAND and not frozen.learns
    still = snapshots.learning_pace(synthetic(1e-3, 0.0))
    assert still.band == magnitude.NO_GRADIENT_BAND and "did not move" in pace_sentence(still)
    assert snapshots.learning_pace(snapshots.empty_grads()) is None


def test_heatmap_keeps_underflow_and_shares_one_colour_domain():
    frames = {"residual": synthetic(1e-2, 1e-3), "plain": synthetic(1e-7, 1e-3, zero_at=(8, "stage1.block0"))}
    chart = gh.heatmap(frames, "update_ratio")
    data = chart.data
    assert len(data) == 2 * 15  # every row of both, none dropped
    zero = data[data["status"] == magnitude.UNDERFLOW]
    assert list(zero[["variant", "step", "block"]].itertuples(index=False, name=None)) == [
        ("plain", 8, "stage1.block0")]
    assert zero["value_text"].iloc[0] == magnitude.UNDERFLOW_TEXT
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    domain = spec["spec"]["layer"][0]["encoding"]["color"]["condition"]["scale"]["domain"]
    # one domain for both panels: the plain net's smallest value, the stem's largest
    assert domain == pytest.approx([math.log10(1e-7), math.log10(0.5)])
    assert spec["facet"]["column"]["sort"] == ["plain", "residual"]
    with pytest.raises(ValueError):
        gh.heatmap(frames, "loss")


def test_profile_at_first_middle_last_keeps_underflow():
    frames = {"plain": synthetic(1e-7, 1e-3, steps=(0, 8, 16, 24, 32), zero_at=(32, "stage1.block0")),
              "residual": synthetic(1e-2, 1e-3, steps=(0, 8, 16, 24, 32))}
    d = gh.profile_long(frames, "grad_norm")
    assert sorted(d["step"].unique()) == [0, 16, 32]
    assert set(d["when"]) == {"step 0 (first)", "step 16 (middle)", "step 32 (last)"}
    flagged = d[d["status"] == magnitude.UNDERFLOW]
    assert len(flagged) == 1 and flagged["y"].iloc[0] < d.loc[d["status"] == magnitude.MEASURED, "y"].min()
    chart = gh.profile_chart(frames, "grad_norm")
    spec = chart.to_dict()
    assert len(spec["layer"]) == 4  # lines, points, the ▼ marker, its label
    assert gh.profile_long(frames, "grad_norm", steps=[8])["step"].unique().tolist() == [8]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=40))
def test_pick_steps(steps):
    got = gh.pick_steps(steps)
    s = sorted(set(steps))
    assert got[0] == s[0] and got[-1] == s[-1] and len(got) == len(set(got)) <= 3
    assert set(got) <= set(s)
