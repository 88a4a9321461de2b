"""The GPU paths, as far as a CPU can run them: the graphed step (train/graphs.py) learns what the
eager trainer learns; the bodies CUDA would capture (one network, K under vmap) read nothing on the
host, and a refused capture trains on eagerly; the probe's GPU path (``norms.on_host`` False) reads
its numbers in one host copy and gives the CPU path's numbers; scripts/gpu_check.sh parses and its
tiny mode runs every part."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from resnet_explain.data import shapes_train_test
from resnet_explain.spec import cifar_resnet
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.graphs import GraphedStep, apply_augment, draw_augment
from resnet_explain.train.trainer import train

ROOT = Path(__file__).resolve().parents[2]
CUDA = torch.cuda.is_available()


def _same(a, b, rtol=1e-4, atol=1e-5):
    cols = ["train_loss", "train_error", "lr"]
    np.testing.assert_allclose(a.history[cols].to_numpy(), b.history[cols].to_numpy(), rtol=rtol, atol=atol)
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        if x.is_floating_point():
            torch.testing.assert_close(y, x, rtol=rtol * 10, atol=atol * 10, msg=name)
        else:
            assert torch.equal(x, y), name


@pytest.mark.parametrize("augment,schedule", [(False, "onecycle"), (True, "step")])
def test_the_graphed_step_learns_what_the_eager_trainer_learns(augment, schedule, monkeypatch):
    spec = cifar_resnet(8, width=4, in_size=8)
    tr, te = shapes_train_test(96, 32, seed=0, size=8, difficulty=0.0)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, augment=augment, schedule=schedule, seed=3,
                      device="cpu", amp="off", channels_last="off", label_smoothing=0.1)
    eager = train(spec, tr, te, cfg)
    bodies = []
    body = GraphedStep._body
    monkeypatch.setattr(GraphedStep, "_body", lambda self: (bodies.append(1), body(self)))
    graphed = train(spec, tr, te, replace(cfg, compile="graphs"))
    assert len(bodies) == 2 * (96 // 16)  # every step went through the graph's body
    _same(eager, graphed)
    np.testing.assert_allclose(graphed.history.test_error, eager.history.test_error, atol=1e-6)
    assert graphed.meta["graphed"] is False  # no capture on a CPU: the same body, eagerly
    pd.testing.assert_frame_equal(graphed.steps, eager.steps)  # the per-step curve, by one rule


def test_graphs_with_snapshots_train_eagerly_and_a_stop_is_honoured():
    spec = cifar_resnet(8, width=2, in_size=8)
    tr, _ = shapes_train_test(64, 16, seed=0, size=8, difficulty=0.0)
    cfg = TrainConfig(epochs=2, batch_size=16, device="cpu", amp="off", channels_last="off",
                      compile="graphs")
    snap = train(spec, tr, None, replace(cfg, snapshot_every=2))
    assert len(snap.grads) and len(snap.history) == 2
    stopped = train(spec, tr, None, cfg, should_stop=lambda: True)
    assert stopped.meta["stopped"] and stopped.history.empty


def test_augment_draws_then_gathers_as_one_call():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    dx, dy, flip = draw_augment(2, torch.Generator().manual_seed(0))
    y = apply_augment(x, dx, dy, torch.tensor([False, True]))
    assert y.shape == x.shape
    pad = torch.nn.functional.pad(x, (4, 4, 4, 4))
    r, c = int(dy[0]), int(dx[0])
    torch.testing.assert_close(y[0], pad[0, :, r:r + 5, c:c + 5])
    r, c = int(dy[1]), int(dx[1])
    torch.testing.assert_close(y[1], pad[1, :, r:r + 5, c:c + 5].flip(-1))


@pytest.mark.skipif(not CUDA, reason="needs CUDA: the capture itself")
def test_cuda_graph_capture_matches_eager_within_bf16_tolerance():
    spec = cifar_resnet(20, width=8, in_size=16)
    tr, _ = shapes_train_test(512, 16, seed=0, size=16, difficulty=0.1)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.05, augment=True, device="cuda", amp="off")
    eager = train(spec, tr, None, cfg)
    graphed = train(spec, tr, None, replace(cfg, compile="graphs"))
    assert graphed.meta["graphed"] is True
    _same(eager, graphed, rtol=1e-2, atol=1e-3)
    assert isinstance(GraphedStep, type)
    # the per-step curve replays in the graph too (its step index is a device tensor)
    assert list(graphed.steps["step"]) == list(eager.steps["step"]) and len(eager.steps)
    np.testing.assert_allclose(graphed.steps["train_loss"], eager.steps["train_loss"], rtol=1e-2, atol=1e-3)


def test_gpu_check_script_parses_and_its_entries_answer_help():
    script = ROOT / "scripts" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    for name in ("bench_train", "bench_many", "bench_probe", "bench_landscape", "make_assets",
                 "gpu_table"):
        out = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), "--help"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (name, out.stderr[-2000:])


@pytest.mark.slow
def test_gpu_check_tiny_mode_runs_every_part_and_prints_the_table(tmp_path):
    env = {**os.environ, "GPU_CHECK_TINY": "1", "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    table = (tmp_path / "table.txt").read_text()
    for part in ("runner", "train", "probe", "landscape", "experiment"):
        assert part in table
    assert "timed out" not in table and "failed" not in table, table
    assert (tmp_path / "assets" / "degradation-gpu" / "results.json").exists()


def test_norms_read_zeros_as_zero_and_still_rescue_an_underflowed_norm():
    from resnet_explain.measurement import Norms

    n = Norms()
    n.norm("zeros", torch.zeros(7))
    n.norm("tiny", torch.full((4,), 1e-30))  # its squares underflow in float32
    n.norm("plain", torch.tensor([3.0, 4.0]))
    got = n.read()
    assert got["zeros"] == 0.0 and got["plain"] == pytest.approx(5.0)
    assert got["tiny"] == pytest.approx(2e-30, rel=1e-5)


def test_bench_probe_counts_dispatches_on_a_launch_bound_cpu_case():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_probe.py"), "--models", "resnet20",
                          "--batch", "1", "--size", "8", "--threads", "1", "--repeats", "1", "--warmup", "0",
                          "--devices", "cpu", "--profile"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "aten ops bare" in out.stdout and "RESULT" in out.stdout


class _HostReads:
    """Counts what makes a GPU wait for its numbers: copies to the host (``.cpu()``) and scalar
    reads (the other ``names``), while ``when()`` says so."""

    NAMES = ("cpu", "item", "tolist", "__float__", "__bool__")

    def __init__(self, monkeypatch, names=NAMES, when=lambda: True):
        self.copies, self.scalars = [], []
        real = {name: getattr(torch.Tensor, name) for name in names}

        def counted(name):
            def f(t, *a, **kw):
                if when():
                    (self.copies if name == "cpu" else self.scalars).append((name, tuple(t.shape)))
                return real[name](t, *a, **kw)
            return f

        for name in real:
            monkeypatch.setattr(torch.Tensor, name, counted(name))


def _probe_both_ways(model, x, y):
    """The probe as a CPU takes it, then as a GPU takes it (``norms.on_host`` says False: every
    number reduced on the device, largest entries in the same copy, nothing summed on the host),
    counting the host reads of the second."""
    from resnet_explain import norms
    from resnet_explain.probe import probe

    state = {k: v.clone() for k, v in model.state_dict().items()}
    as_cpu = probe(model, x, y)
    as_cpu.blocks, as_cpu.params  # built now, before the counting
    model.load_state_dict(state)  # the same BatchNorm statistics for the second probe
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(norms, "on_host", lambda device: False)
        reads = _HostReads(mp)
        as_gpu = probe(model, x, y)
    return as_cpu, as_gpu, reads


@pytest.mark.parametrize("depth,batch,size", [(20, 4, 16), (56, 1, 8)])
def test_the_probe_on_a_gpus_path_gives_a_cpus_numbers_in_one_host_copy(depth, batch, size, monkeypatch):
    """Issue #23 measured 9 synchronising calls per probe on CUDA (one per block's reading, before
    norms.py). On a GPU's path the probe reads its numbers in one copy, with no scalar read, and
    they are the numbers the CPU's path gives (float32 reductions there against float64 host sums
    here: equal to float32 rounding)."""
    from resnet_explain.model import build_model, make_batch

    spec = cifar_resnet(depth, skip=True, width=4, in_size=size)
    model = build_model(spec, seed=0)
    x, y = make_batch(spec, batch=batch, seed=0)
    as_cpu, as_gpu, reads = _probe_both_ways(model, x, y)
    n_numbers = 1 + 3 * len(as_cpu.blocks) + 2 * len(as_cpu.params)  # at least: loss, grads, splits, params
    assert len(reads.copies) == 1 and reads.copies[0][1][0] >= n_numbers, reads.copies
    assert reads.scalars == []
    for table in ("blocks", "params"):
        a, b = getattr(as_cpu, table), getattr(as_gpu, table)
        num = a.select_dtypes("number").columns
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=2e-5, atol=0,
                                   equal_nan=True, err_msg=table)
        pd.testing.assert_frame_equal(a.drop(columns=num), b.drop(columns=num))


def test_a_gpus_path_reads_an_empty_parameter_zeros_and_underflow_without_a_crash(monkeypatch):
    """A GPU reads each tensor's largest entry in the same copy as its norm (so zeros need no
    second copy), and the fused max-norm refuses an empty tensor: an empty one reads as 0 there, as
    on a CPU. An all-zero tensor stays 0 without a rescue; an underflowed one is rescued (the one
    second copy)."""
    from resnet_explain import norms
    from resnet_explain.model import build_model, make_batch

    spec = cifar_resnet(8, skip=True, width=4, in_size=8)
    model = build_model(spec, seed=0)
    model.register_parameter("nothing", torch.nn.Parameter(torch.empty(0)))
    x, y = make_batch(spec, batch=2, seed=0)
    as_cpu, as_gpu, reads = _probe_both_ways(model, x, y)
    assert len(reads.copies) == 1 and reads.scalars == []
    row = as_gpu.params[as_gpu.params["param"] == "nothing"]
    assert len(row) == 1 and row["weight_norm"].iloc[0] == 0.0
    pd.testing.assert_frame_equal(as_gpu.params[["param", "weight_norm"]], as_cpu.params[["param", "weight_norm"]],
                                  rtol=2e-5)

    monkeypatch.setattr(norms, "on_host", lambda device: False)
    reads = _HostReads(monkeypatch)
    n = norms.Norms()
    n.norms([("empty", torch.empty(0)), ("zeros", torch.zeros(5)), ("tiny", torch.full((4,), 1e-30)),
             ("bf16", torch.tensor([3.0, 4.0], dtype=torch.bfloat16)), ("empty16", torch.empty(0, dtype=torch.bfloat16))])
    got = n.read()
    assert got["empty"] == got["zeros"] == got["empty16"] == 0.0 and got["bf16"] == 5.0
    assert got["tiny"] == pytest.approx(2e-30, rel=1e-5)
    assert [c[0] for c in reads.copies] == ["cpu", "cpu"], reads.copies  # the read, then tiny's rescue


# What a CUDA graph's capture refuses: a read of a number on the host (a sync) and a tensor made
# from host data inside the captured region (a host-to-device copy of memory the graph does not own).
_NOT_IN_A_GRAPH = {"_local_scalar_dense", "lift_fresh", "lift_fresh_copy", "nonzero", "masked_select",
                   "unique_consecutive", "_unique2", "unique_dim", "bincount"}


class _NoHostReads:
    """Runs a step body under a dispatch mode that records the ops a capture refuses, and counts
    the host reads a CPU does without an op (``.cpu()``, ``.tolist()``, ``.numpy()`` of a CPU
    tensor dispatch nothing) while inside it."""

    def __init__(self, monkeypatch):
        from torch.utils._python_dispatch import TorchDispatchMode

        self.ops, self.bodies, self.inside = [], 0, False
        check = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func.overloadpacket.__name__ in _NOT_IN_A_GRAPH:
                    check.ops.append(func.overloadpacket.__name__)
                return func(*args, **(kwargs or {}))

        self.mode = Mode
        self.reads = _HostReads(monkeypatch, ("cpu", "tolist", "numpy"), when=lambda: self.inside)

    @property
    def bad(self) -> list:
        return self.ops + self.reads.copies + self.reads.scalars

    def run(self, body):
        self.bodies += 1
        self.inside = True
        try:
            with self.mode():
                body()
        finally:
            self.inside = False


def test_the_captured_step_bodies_read_nothing_on_the_host(monkeypatch):
    """What CUDA captures as a graph (train/graphs.py: one network; train/stacked.py: K networks
    under vmap) must run without a host read: capture would fail, and the stacked runner would
    fall back to eager steps (its meta's graph_error). On a CPU each body runs eagerly under a
    check, warm-up steps and the steps a GPU would capture and replay alike; the stacked group
    takes its captured path (a graph's SGD: rates read from a device tensor), and its numbers are
    still the eager path's."""
    from resnet_explain.train.stacked import StackedGroup

    tr, te = shapes_train_test(64, 16, seed=0, size=8, difficulty=0.0)
    spec = cifar_resnet(8, width=4, in_size=8)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, device="cpu", amp="off", channels_last="off",
                      augment=True)
    from resnet_explain.train import trainer

    check = _NoHostReads(monkeypatch)
    # CUDA's optimizer: fused SGD, which reads its learning rate from the device tensor (foreach,
    # a CPU's, reads it with .item(): no harm there, a failed capture on a GPU)
    make_optimizer = trainer._optimizer
    monkeypatch.setattr(trainer, "_optimizer", lambda net, config, cuda: make_optimizer(net, config, True))
    body = GraphedStep._body
    monkeypatch.setattr(GraphedStep, "_body", lambda self: check.run(lambda: body(self)))
    res = train(spec, tr, te, replace(cfg, compile="graphs"))
    assert check.bodies == 2 * 4 and check.bad == [], check.bad
    assert np.isfinite(res.history["train_loss"]).all()

    check.bodies = 0
    stacked_body = StackedGroup._body
    monkeypatch.setattr(StackedGroup, "_body", lambda self: check.run(lambda: stacked_body(self)))
    monkeypatch.setattr(StackedGroup, "_capture", lambda self: self._body())  # what replay would run
    configs = [replace(cfg, seed=s) for s in (0, 1)]
    groups = {}
    for capture in (True, False):
        g = groups[capture] = StackedGroup(spec, configs, tr, te, capture=capture)
        for _ in g.run():
            pass
    assert check.bodies == 2 * 2 * 4 and check.bad == [], check.bad
    for a, b in zip(groups[True].records, groups[False].records):
        np.testing.assert_allclose(pd.DataFrame(a)["train_loss"], pd.DataFrame(b)["train_loss"], rtol=1e-4)


def test_a_capture_that_fails_trains_on_eagerly_and_says_why(monkeypatch):
    """Where CUDA refuses to capture a step (an optimizer that is not fused reads its learning
    rate with .item(), a kernel that syncs), both graphed trainers go on eagerly from the same
    buffers and their result's meta says why (``graph_error``); the numbers are the eager ones.
    The CUDA calls are stand-ins here: warm-up streams that do nothing, a capture that refuses."""
    from contextlib import nullcontext

    from resnet_explain.train import graphs, stacked
    from resnet_explain.train.stacked import StackedGroup

    class Stream:
        def wait_stream(self, other):
            pass

    def refuse(graph):
        raise RuntimeError("operation not permitted when stream is capturing")

    for name, value in {"Stream": lambda device=None: Stream(), "current_stream": lambda device=None: Stream(),
                        "stream": lambda s: nullcontext(), "synchronize": lambda device=None: None,
                        "CUDAGraph": lambda: object(), "graph": refuse}.items():
        monkeypatch.setattr(torch.cuda, name, value)
    tr, _ = shapes_train_test(64, 16, seed=0, size=8, difficulty=0.0)
    spec = cifar_resnet(8, width=4, in_size=8)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, device="cpu", amp="off", channels_last="off")
    init = GraphedStep.__init__
    monkeypatch.setattr(GraphedStep, "__init__", lambda self, r, config, capture=None: init(self, r, config, True))
    got = train(spec, tr, None, replace(cfg, compile="graphs"))
    assert not got.meta["graphed"] and "not permitted" in got.meta["graph_error"]
    _same(got, train(spec, tr, None, cfg))

    runs = {c: StackedGroup(spec, [replace(cfg, seed=s) for s in (0, 1)], tr, None, capture=c) for c in (True, False)}
    for g in runs.values():
        for _ in g.run():
            pass
    assert graphs.WARMUP_STEPS == stacked.WARMUP_STEPS < runs[True].step
    assert "not permitted" in runs[True].result(0).meta["graph_error"] and "graph_error" not in runs[False].result(0).meta
    for a, b in zip(runs[True].records, runs[False].records):
        np.testing.assert_allclose(pd.DataFrame(a)["train_loss"], pd.DataFrame(b)["train_loss"], rtol=1e-4)
