"""Benchmark: what does the gradient probe cost on top of a bare training step?

For ResNet-20/56/110 (batch 32, train mode) it times, interleaved on the same model and batch:

  (a) bare:  model.zero_grad(set_to_none=True); cross_entropy(model(x), y).backward()
  (b) probe: resnet_explain.probe.probe(model, x, y)
  (c) probe + tables: the same, then its ``blocks`` and ``params`` tables read (they are built on
      first access: pandas work on the host that a caller reading only ``ratio`` or ``meta``
      never pays)

with ``warmup`` untimed rounds and the median of ``repeats`` timed rounds, synchronising the device
around every measurement (resnet_explain.device.synchronize). It runs on the CPU and, when
torch.cuda.is_available(), on CUDA too. Target: probe/bare <= 1.15.

    python scripts/bench_probe.py                # resnet20, resnet56, resnet110, CPU (+ CUDA)
    python scripts/bench_probe.py --repeats 11 --models resnet20 --devices cuda
    python scripts/bench_probe.py --models resnet56 --batch 1 --size 8 --threads 1 --profile  # launch-bound CPU
    python scripts/bench_probe.py --devices cpu --threads 1 --clock thread   # a loaded machine

Speed is reported as a ratio against the baseline measured in the same run (design doc: "Speed
is measured by benchmarks, not by timed tests").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from resnet_explain.device import describe, synchronize  # noqa: E402
from resnet_explain.model import build_model, find_blocks, make_batch  # noqa: E402
from resnet_explain.probe import probe  # noqa: E402
from resnet_explain.spec import preset  # noqa: E402

TARGET = 1.15
SYNCS = ("aten::_local_scalar_dense", "cudaDeviceSynchronize", "cudaStreamSynchronize",
         "cudaMemcpy", "cudaMemcpyAsync")  # the host waiting for the device (none on a CPU)


def _bare(model, x, y):
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def _probe(model, x, y):
    probe(model, x, y, train=True)


def _probe_tables(model, x, y):
    res = probe(model, x, y, train=True)
    res.blocks, res.params  # noqa: B018 (built on first access: that is what is timed)


CLOCKS = {"wall": time.perf_counter,
          # CPU time of this thread: on a CPU at --threads 1 the whole step runs on it (the
          # autograd engine too), so other processes' load on a shared machine hardly shifts it.
          "thread": time.thread_time}


def _time(fn, model, x, y, device, clock=time.perf_counter) -> float:
    synchronize(device)
    t0 = clock()
    fn(model, x, y)
    synchronize(device)
    return clock() - t0


def _spec(name: str, size: int | None):
    """The preset, or at ``size`` x ``size`` inputs (e.g. 8: launch-bound on a CPU, like a GPU)."""
    spec = preset(name)
    return spec if size is None else dataclasses.replace(spec, in_size=size)


def dispatches(name: str, device: torch.device, batch: int, size: int | None) -> dict:
    """torch.profiler of one bare step and one probe: aten ops dispatched (a GPU launches about
    one kernel for each), host time, and per block of the network."""
    from torch.profiler import ProfilerActivity, profile

    spec = _spec(name, size)
    model = build_model(spec, seed=0, device=device).train()
    x, y = make_batch(spec, batch=batch, seed=0, device=device)
    for _ in range(2):
        _bare(model, x, y)
        _probe(model, x, y)
    out = {"model": name, "device": device.type, "blocks": len(find_blocks(model))}
    for label, fn in (("bare", _bare), ("probe", _probe)):
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            fn(model, x, y)
        ev = prof.key_averages()
        aten = [e for e in ev if e.key.startswith("aten::")]
        out[f"{label}_ops"] = sum(e.count for e in aten)
        out[f"{label}_host_ms"] = sum(e.self_cpu_time_total for e in aten) / 1e3  # in aten ops
        out[f"{label}_syncs"] = sum(e.count for e in ev if e.key in SYNCS)
    out["ops_per_block"] = (out["probe_ops"] - out["bare_ops"]) / out["blocks"]
    return out


def bench(name: str, device: torch.device, batch: int, warmup: int, repeats: int,
          size: int | None = None, clock=time.perf_counter) -> dict:
    spec = _spec(name, size)
    model = build_model(spec, seed=0, device=device).train()
    x, y = make_batch(spec, batch=batch, seed=0, device=device)
    for _ in range(warmup):
        _bare(model, x, y)
        _probe(model, x, y)
    bare, prob, tabled = [], [], []
    for i in range(repeats):  # interleaved, in a rotating order, so drift hits all three
        order = [(_bare, bare), (_probe, prob), (_probe_tables, tabled)]
        for fn, out in order[i % 3:] + order[:i % 3]:
            out.append(_time(fn, model, x, y, device, clock))
    b, p, t = statistics.median(bare), statistics.median(prob), statistics.median(tabled)
    return {"model": name, "device": device.type, "bare_ms": b * 1e3, "probe_ms": p * 1e3,
            "ratio": p / b, "bare_min_ms": min(bare) * 1e3, "probe_min_ms": min(prob) * 1e3,
            "tables_ms": t * 1e3, "tables_ratio": t / b}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet20", "resnet56", "resnet110"])
    ap.add_argument("--devices", nargs="+", default=None,
                    help="default: cpu, plus cuda when available")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed rounds per model (default 5 on CPU, 20 on CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--size", type=int, default=None, help="input size (default the preset's, 32)")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall (default), or thread: this thread's CPU time (CPU runs at "
                         "--threads 1 only; steadier on a loaded machine)")
    ap.add_argument("--profile", action="store_true",
                    help="also count aten ops, host time and syncs per call (torch.profiler)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    devices = a.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if a.clock == "thread" and (devices != ["cpu"] or torch.get_num_threads() != 1):
        ap.error("--clock thread measures a CPU run at --threads 1 only")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads "
          f"(os.cpu_count() = {os.cpu_count()}), python {sys.version.split()[0]}")
    for d in devices:
        print(f"  {d}: {describe(d)['detail']}")
    print(f"batch {a.batch}, train mode, {a.clock} clock, warm-up {a.warmup}, median of "
          f"{a.repeats or '5 (cpu) / 20 (cuda)'} interleaved repeats; target probe/bare <= {TARGET}")
    print()
    head = (f"{'model':<11}{'device':<8}{'bare ms':>10}{'probe ms':>10}{'probe/bare':>12}"
            f"{'min bare':>10}{'min probe':>11}{'min ratio':>11}{'+tables ms':>12}{'+tables/bare':>14}")
    print(head)
    print("-" * len(head))
    worst = worst_tables = 0.0
    for d in devices:
        dev = torch.device(d)
        reps = a.repeats or (5 if dev.type == "cpu" else 20)
        for name in a.models:
            r = bench(name, dev, a.batch, a.warmup, reps, a.size, CLOCKS[a.clock])
            worst, worst_tables = max(worst, r["ratio"]), max(worst_tables, r["tables_ratio"])
            flag = "" if r["ratio"] <= TARGET else "  over target"
            print(f"{r['model']:<11}{r['device']:<8}{r['bare_ms']:>10.1f}{r['probe_ms']:>10.1f}"
                  f"{r['ratio']:>12.3f}{r['bare_min_ms']:>10.1f}{r['probe_min_ms']:>11.1f}"
                  f"{r['probe_min_ms'] / r['bare_min_ms']:>11.3f}{r['tables_ms']:>12.1f}"
                  f"{r['tables_ratio']:>14.3f}{flag}", flush=True)
            print("RESULT " + json.dumps({"part": "probe", "batch": a.batch, "clock": a.clock, **r}),
                  flush=True)
    if a.profile:
        print()
        for d in devices:
            for name in a.models:
                r = dispatches(name, torch.device(d), a.batch, a.size)
                print(f"{name} {d}: aten ops bare {r['bare_ops']}, probe {r['probe_ops']} "
                      f"({r['ops_per_block']:.1f} more per block, {r['blocks']} blocks); host ms bare "
                      f"{r['bare_host_ms']:.1f}, probe {r['probe_host_ms']:.1f} (self time in aten ops); syncs bare "
                      f"{r['bare_syncs']}, probe {r['probe_syncs']}", flush=True)
                print("RESULT " + json.dumps({"part": "probe_profile", "batch": a.batch, **r}), flush=True)
    print()
    print("probe/bare is the ratio of medians (the target: what probe() costs); min ratio is a "
          "cross-check that is less sensitive to other load on the machine; +tables/bare adds "
          "building its two tables (on first access), which a caller reading them pays too.")
    print(f"worst probe/bare ratio: {worst:.3f} ({'within' if worst <= TARGET else 'OVER'} "
          f"target {TARGET}); with the tables: {worst_tables:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
