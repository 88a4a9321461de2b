"""Benchmark the per-step training curve (train/step_history.py): the same spec, data and seed
trained with ``curve_every`` off and on, alternating in one process; prints the CPU seconds of
each whole ``train()`` call (``time.thread_time``: torch on one thread computes in this thread, so
other processes on a shared machine do not count) and the ratio on/off.

    python scripts/bench_step_history.py                     # cpu-live budget, plain-20, 1 thread
    python scripts/bench_step_history.py --depth 56 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from resnet_explain.experiments.degradation import network  # noqa: E402
from resnet_explain.train.budgets import EXPERIMENTS  # noqa: E402
from resnet_explain.train.config import STEP_EVERY  # noqa: E402
from resnet_explain.train.trainer import train  # noqa: E402


def cpu_seconds(spec, data, cfg) -> tuple[float, object]:
    t = time.thread_time()
    res = train(spec, data, None, cfg)
    return time.thread_time() - t, res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="cpu-live", choices=sorted(EXPERIMENTS))
    p.add_argument("--arch", default="plain", choices=("plain", "residual"))
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--every", type=int, default=STEP_EVERY)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="alternating runs of each")
    a = p.parse_args()
    torch.set_num_threads(1)
    exp = EXPERIMENTS[a.experiment].with_(epochs=a.epochs, device="cpu")
    data, _ = exp.data.load()
    spec = network(exp, a.arch, a.depth)
    off_cfg, on_cfg = replace(exp.config, curve_every=0), replace(exp.config, curve_every=a.every)
    cpu_seconds(spec, data, off_cfg)  # warm-up (allocator, oneDNN kernels)
    off, on = [], []
    for _ in range(a.repeats):  # alternate, so drift hits both alike
        off.append(cpu_seconds(spec, data, off_cfg)[0])
        s, res = cpu_seconds(spec, data, on_cfg)
        on.append(s)
    print(f"{a.arch}-{a.depth}, {len(data)} images, batch {exp.config.batch_size}, "
          f"{res.meta['steps']} steps, 1 thread; curve every {a.every} steps: {len(res.steps)} windows")
    for name, v in (("off", off), ("on ", on)):
        print(f"  curve {name}: {statistics.median(v):.3f} CPU s (median of {len(v)}: "
              + ", ".join(f"{x:.3f}" for x in v) + ")")
    print(f"  ratio on/off: {statistics.median(on) / statistics.median(off):.4f} (medians), "
          f"{min(on) / min(off):.4f} (fastest of each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
