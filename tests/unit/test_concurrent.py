"""The concurrent runner (train/concurrent.py, train/stacked.py) learns what one-at-a-time training
learns: the same seed and learning rate give the same curves and weights, whatever else shares the
run; groups are formed as documented; the stream scheduler interleaves as documented."""

from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
import torch

from resnet_explain.data import shapes_train_test
from resnet_explain.spec import cifar_resnet
from resnet_explain.train import concurrent
from resnet_explain.train.concurrent import Job, plan, round_robin, stackable, train_all
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.trainer import train

CFG = TrainConfig(epochs=2, batch_size=16, lr=0.05, device="cpu", amp="off", channels_last="off")


@pytest.fixture(scope="module")
def data():
    return shapes_train_test(64, 32, seed=0, size=8, difficulty=0.0)


def _same(got, alone, rtol=2e-4, atol=2e-5):
    cols = ["train_loss", "train_error", "test_error", "lr"]
    np.testing.assert_allclose(got.history[cols].to_numpy(), alone.history[cols].to_numpy(), rtol=rtol, atol=atol)
    # the per-step curve too (train/step_history.py): same windows, same numbers
    assert len(alone.steps) and list(got.steps["step"]) == list(alone.steps["step"])
    np.testing.assert_allclose(got.steps[["train_loss", "train_error"]].to_numpy(),
                               alone.steps[["train_loss", "train_error"]].to_numpy(), rtol=rtol, atol=atol)
    for (name, a), b in zip(alone.model.state_dict().items(), got.model.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4, msg=name)
        else:
            assert torch.equal(a, b), name


def test_a_mixed_list_of_depths_archs_seeds_and_lrs_matches_each_job_trained_alone(data):
    tr, te = data
    jobs = []
    for depth, skip, seed, lr, augment in [(8, True, 0, 0.05, False), (14, False, 1, 0.05, False),
                                           (8, True, 3, 0.05, False), (8, True, 0, 0.2, False),
                                           (8, False, 2, 0.1, True), (14, False, 5, 0.05, False),
                                           (8, False, 4, 0.02, True)]:
        cfg = replace(CFG, seed=seed, lr=lr, augment=augment, nesterov=depth == 14)
        jobs.append(Job(cifar_resnet(depth, skip=skip, width=4, in_size=8), cfg, tr, te))
    groups = plan(jobs, stack=True)
    assert groups == [[0, 2, 3], [1, 5], [4, 6]]  # same net and recipe; seeds and lrs differ
    assert plan(jobs, stack=True, max_stack=2) == [[0, 2], [1, 5], [3], [4, 6]]
    seen = []
    res = train_all(jobs, stack=True, progress=lambda i, rec: seen.append((i, rec["epoch"])))
    assert sorted(seen) == sorted((i, e) for i in range(len(jobs)) for e in (1, 2))
    for job, got in zip(jobs, res):
        _same(got, train(job.spec, tr, te, job.config))
        assert got.meta["config"]["seed"] == job.config.seed and got.meta["config"]["lr"] == job.config.lr
        assert got.meta["trained_with"].startswith("stacked") and not got.meta["stopped"]
    # seed 0 at two learning rates learned two networks
    assert not torch.equal(res[0].model.head.fc.weight, res[3].model.head.fc.weight)


def test_unstacked_groups_of_one_model_learn_what_train_learns(data):
    """max_stack=1 (streams and graphs without vmap: one model per group, its slice of the
    stack called directly) is the same training too."""
    tr, te = data
    jobs = [Job(cifar_resnet(8, skip=s, width=4, in_size=8), replace(CFG, seed=3, augment=True), tr, te)
            for s in (True, False)]
    for job, got in zip(jobs, train_all(jobs, stack=True, max_stack=1)):
        assert got.meta["trained_with"].startswith("stacked (1 model: ")
        _same(got, train(job.spec, tr, te, job.config))


def test_what_cannot_stack_trains_alone_and_cpu_default_is_one_at_a_time(data, monkeypatch):
    tr, te = data
    net = cifar_resnet(8, width=4, in_size=8)
    dropping = cifar_resnet(8, width=4, in_size=8, survival=0.5)  # stochastic depth draws masks
    jobs = [Job(net, CFG, tr, te), Job(net, replace(CFG, seed=1, snapshot_every=2), tr, te),
            Job(net, replace(CFG, seed=2, max_steps=3), tr, te), Job(dropping, CFG, tr, te),
            Job(net, replace(CFG, seed=4, warmup_lr=0.01), tr, te)]
    assert [stackable(j) for j in jobs] == [True, False, False, False, False]
    assert plan(jobs, stack=True) == [[0], [1], [2], [3], [4]]
    jobs = jobs[:3]
    calls = []
    real = concurrent.trainer.train
    monkeypatch.setattr(concurrent.trainer, "train", lambda *a, **k: (calls.append(a[3].seed), real(*a, **k))[1])
    res = train_all(jobs)  # CPU: stack=None trains each alone, exactly train()
    assert calls == [0, 1, 2] and all(r.meta["trained_with"] == "train (alone)" for r in res)
    assert len(res[1].grads) and res[2].meta["steps"] == 3


def test_a_stop_ends_every_group_and_leaves_later_jobs_unstarted(data):
    tr, te = data
    net = cifar_resnet(8, width=4, in_size=8)
    jobs = [Job(net, CFG, tr, te), Job(net, replace(CFG, seed=1), tr, te),
            Job(net, replace(CFG, seed=2, max_steps=3), tr, te)]
    steps = []
    res = train_all(jobs, stack=True, should_stop=lambda: (steps.append(1), len(steps) > 2)[1])
    assert res[0].meta["stopped"] and res[1].meta["stopped"] and res[0].history.empty
    assert res[2] is None


def test_a_stacked_job_is_refused_as_the_lone_trainer_refuses_it(data):
    from resnet_explain.spec import SpecError

    tr, te = data
    with pytest.raises(SpecError):  # 16x16 network, 8x8 images: the trainer's own message
        train_all([Job(cifar_resnet(8, width=4, in_size=16), CFG, tr, te)], stack=True)


def test_round_robin_interleaves_steps_under_each_runs_own_context():
    log = []

    def run(name, n):
        for i in range(n):
            log.append((name, i, current[-1] if current else None))
            yield

    current = []

    def fake_stream(k):
        @contextmanager
        def ctx():
            current.append(f"stream{k}")
            yield
            current.pop()
        return ctx

    finished = round_robin([run("a", 3), run("b", 1), run("c", 2)], [fake_stream(k) for k in range(3)])
    assert log == [("a", 0, "stream0"), ("b", 0, "stream1"), ("c", 0, "stream2"),
                   ("a", 1, "stream0"), ("c", 1, "stream2"), ("a", 2, "stream0")]
    assert finished == [1, 2, 0]


def test_the_cuda_schedule_on_a_cpu_with_fake_streams_gives_each_group_its_stream(data, monkeypatch):
    """train_all's CUDA path (stack, a stream per group, round-robin, a device-wide wait at the
    end) with the CUDA calls replaced by stand-ins: every step of a group runs under that group's
    stream, the groups take turns step by step, and the results are still each job's own."""
    from resnet_explain.train.stacked import StackedGroup

    tr, te = data
    current, steps, waited = [], [], []

    def fake_streams(n):
        def ctx(k):
            @contextmanager
            def enter():
                current.append(k)
                yield
                current.pop()
            return enter
        return [ctx(k) for k in range(n)]

    step = StackedGroup.__call__
    monkeypatch.setattr(StackedGroup, "__call__", lambda self, i: (steps.append((self.spec.depth, current[-1])),
                                                                    step(self, i))[1])
    monkeypatch.setattr(concurrent, "on_cuda", lambda jobs: True)
    monkeypatch.setattr(concurrent, "_cuda_streams", fake_streams)
    monkeypatch.setattr(concurrent.torch.cuda, "synchronize", lambda *a: waited.append(1))
    jobs = [Job(cifar_resnet(d, width=4, in_size=8), replace(CFG, seed=s), tr, te) for d in (8, 14) for s in (0, 1)]
    res = train_all(jobs)  # stack, streams and graphs default to "on CUDA"; no capture on a CPU
    assert {d: {k for dd, k in steps if dd == d} for d, _ in steps} == {8: {0}, 14: {1}}
    assert [d for d, _ in steps[:4]] == [8, 14, 8, 14]  # turns, one step each
    assert len(steps) == 2 * 2 * (64 // 16) and waited == [1]
    assert all(r.meta["trained_with"].startswith("stacked (2 models") for r in res)
    assert all("2 groups on their own CUDA streams" in r.meta["trained_with"] for r in res)
    for job, got in zip(jobs, res):
        _same(got, train(job.spec, tr, te, job.config))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_groups_run_on_streams_with_graphs():
    tr, te = shapes_train_test(256, 64, seed=0, size=8, difficulty=0.0)
    net = cifar_resnet(8, width=4, in_size=8)
    cfg = replace(CFG, device="cuda", epochs=1)
    jobs = [Job(net, replace(cfg, seed=s), tr, te) for s in range(3)] + [Job(cifar_resnet(14, width=4, in_size=8), cfg, tr, te)]
    res = train_all(jobs)
    assert all(r.meta["graphed"] and "CUDA streams" in r.meta["trained_with"] for r in res)
    _same(res[0], train(net, tr, te, replace(cfg, channels_last="off")), rtol=1e-2, atol=1e-3)
