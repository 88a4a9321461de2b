"""Many seeds at once (train/many.py) learn exactly what one-at-a-time training learns."""

import copy

import numpy as np
import pytest
import torch

from resnet_explain.data import shapes_train_test
from resnet_explain.spec import cifar_resnet
from resnet_explain.train.config import TrainConfig, TrainError
from resnet_explain.train.many import train_seeds
from resnet_explain.train.trainer import train


@pytest.mark.parametrize("augment,skip", [(False, True), (True, False)])
def test_the_same_seeds_give_the_same_curves_and_weights_as_train(augment, skip):
    spec = cifar_resnet(8, skip=skip, width=4, in_size=8)
    tr, te = shapes_train_test(96, 32, seed=0, size=8, difficulty=0.0)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, augment=augment, device="cpu", amp="off",
                      channels_last="off")
    seeds = [0, 3, 7]
    many = train_seeds(spec, tr, te, cfg, seeds)
    for s, got in zip(seeds, many):
        from dataclasses import replace

        alone = train(spec, tr, te, replace(cfg, seed=s))
        cols = ["train_loss", "train_error", "test_error", "lr"]
        np.testing.assert_allclose(got.history[cols].to_numpy(), alone.history[cols].to_numpy(),
                                   rtol=2e-4, atol=2e-5)
        for (name, a), b in zip(alone.model.state_dict().items(), got.model.state_dict().values()):
            if a.is_floating_point():
                torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4, msg=name)
            else:
                assert torch.equal(a, b), name
        assert got.meta["config"]["seed"] == s
    # different seeds learned different networks
    w = [m.model.state_dict()["stem.conv.weight"] if "stem.conv.weight" in m.model.state_dict()
         else next(iter(m.model.parameters())) for m in many]
    assert not torch.equal(w[0], w[1])


def test_progress_stop_and_refusals():
    spec = cifar_resnet(8, width=2, in_size=8)
    tr, te = shapes_train_test(64, 16, seed=0, size=8, difficulty=0.0)
    cfg = TrainConfig(epochs=3, batch_size=16, device="cpu", amp="off", channels_last="off")
    seen = []
    res = train_seeds(spec, tr, None, cfg, [1, 2], progress=lambda k, r: seen.append((k, r["epoch"])))
    assert seen == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)]
    assert len(res) == 2 and len(res[0].history) == 3
    stopped = train_seeds(spec, tr, None, cfg, [1, 2], should_stop=lambda: True)
    assert all(r.meta["stopped"] and r.history.empty for r in stopped)
    with pytest.raises(TrainError):
        train_seeds(spec, tr, None, cfg, [])
    from dataclasses import replace

    with pytest.raises(TrainError):
        train_seeds(spec, tr, None, replace(cfg, snapshot_every=4), [0])


def test_the_degradation_experiment_with_seeds_together_matches_one_at_a_time():
    from resnet_explain.experiments.degradation import run_degradation
    from resnet_explain.train.budgets import EXPERIMENTS

    exp = EXPERIMENTS["cpu-live"].with_(depths=(8,), seeds=(0, 1), epochs=1, n_train=64, n_test=32,
                                        device="cpu")
    seen = []
    apart = run_degradation(exp, together=False)
    both = run_degradation(exp, together=True, progress=lambda r: seen.append((r["arch"], r["seed"], r["run"])))
    cols = ["train_error", "train_loss", "test_error"]
    a = apart.runs.sort_values(["arch", "seed"])[cols].to_numpy()
    b = both.runs.sort_values(["arch", "seed"])[cols].to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)
    assert both.meta["seeds_together"] and not apart.meta["seeds_together"]
    assert sorted(seen) == [("plain", 0, 1), ("plain", 1, 2), ("residual", 0, 3), ("residual", 1, 4)]


def test_batchnorm_sees_its_own_dtype_under_bf16_autocast_and_vmap(monkeypatch):
    """The CUDA crash of the seeds-together trainer (issue #23: "Expected running_mean to have type
    BFloat16 but got Float" in BatchNorm's backward under bf16 autocast + vmap, on an H200) needs a
    GPU to reproduce; what the kernel wants can be checked here: every BatchNorm call gets an input
    of its running statistics' and weight's dtype, forward and backward run, and the trained
    models' buffers stay float32."""
    import torch.nn.functional as F

    from resnet_explain.train import many

    seen = []
    real = F.batch_norm

    def spy(x, running_mean, running_var, weight=None, bias=None, *args, **kw):
        seen.append((x.dtype, running_mean.dtype if running_mean is not None else None,
                     weight.dtype if weight is not None else None))
        return real(x, running_mean, running_var, weight, bias, *args, **kw)

    monkeypatch.setattr(F, "batch_norm", spy)
    # What autocast hands BatchNorm on CUDA (a bfloat16 convolution output), under vmap as
    # train_seeds calls it: with norms_in_float32 the kernel gets one dtype; without, the mix.
    from torch.func import functional_call, stack_module_state, vmap

    def run(fix: bool):
        bns = [torch.nn.BatchNorm2d(4).train() for _ in range(2)]
        params, buffers = stack_module_state(bns)
        shape = copy.deepcopy(bns[0]).to("meta")
        if fix:
            many.norms_in_float32(shape)
        seen.clear()
        x = torch.randn(2, 3, 4, 5, 5, dtype=torch.bfloat16, requires_grad=True)
        vmap(lambda p, b, x: functional_call(shape, (p, b), (x,)))(params, buffers, x).float().sum().backward()
        return x.grad

    with pytest.raises(RuntimeError, match="BFloat16|Float"):  # the mix, refused (the GPU's crash)
        run(fix=False)
    assert torch.isfinite(run(fix=True).float()).all()
    assert seen and all(a == rm == w == torch.float32 for a, rm, w in seen), seen
    seen.clear()
    spec = cifar_resnet(8, skip=True, width=4, in_size=8)
    tr, _ = shapes_train_test(32, 8, seed=0, size=8, difficulty=0.0)
    cfg = TrainConfig(epochs=1, batch_size=16, lr=0.05, device="cpu", amp="bf16", channels_last="off")
    res = many.train_seeds(spec, tr, None, cfg, [0, 1])
    assert seen and res[0].meta["amp"] == "bf16"
    assert all(x == rm == w for x, rm, w in seen), sorted(set(seen))
    assert all(b.dtype == torch.float32 for b in res[0].model.buffers() if b.is_floating_point())
    assert np.isfinite(res[1].history["train_loss"]).all()
