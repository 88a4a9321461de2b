"""Benchmark gradient snapshots during training: the same spec, data and seed trained with
snapshots off and on (every K steps), alternating in one process; prints images/s of each and
the ratio on/off (the issue's bar: overhead <= 10 % at the default K, i.e. ratio >= 0.90).

On a shared CPU the whole-run ratio carries the machine's noise (other processes). So it also
times every step of the "on" runs (between the trainer's ``step_progress`` calls; CPU only, where
a step is synchronous): snapshot steps against the ordinary steps of the same runs, interleaved
step by step, so both see the same load; the overhead at K is (snapshot - ordinary) / (K x ordinary).

    python scripts/bench_snapshots.py                       # cpu-live budget, plain-20, 1 thread
    python scripts/bench_snapshots.py --depth 20 56 --repeats 7
    python scripts/bench_snapshots.py --device cuda --threads 0 --n-train 20000 --batch 128
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

from resnet_explain.device import choose_device, synchronize  # noqa: E402
from resnet_explain.experiments.degradation import network
from resnet_explain.train import train  # noqa: E402
from resnet_explain.train.budgets import EXPERIMENTS
from resnet_explain.train.config import SNAPSHOT_EVERY  # noqa: E402


def timed_train(spec, data, cfg, step_seconds: list | None = None):
    """images/s of one whole ``train()`` call (setup, every step, the snapshots' host copies and
    their table included), and the result. ``step_seconds`` gets (step, seconds) per step."""
    dev = choose_device(cfg.device).device
    marks = [time.perf_counter()]

    def tick(done, _total):
        marks.append(time.perf_counter())
        if step_seconds is not None:
            step_seconds.append((done - 1, marks[-1] - marks[-2]))

    synchronize(dev)
    t = time.perf_counter()
    marks[0] = t
    res = train(spec, data, None, cfg, step_progress=tick)
    synchronize(dev)
    return res.meta["steps"] * min(cfg.batch_size, len(data)) / (time.perf_counter() - t), res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="cpu-live", choices=sorted(EXPERIMENTS))
    p.add_argument("--arch", default="plain", choices=("plain", "residual"))
    p.add_argument("--depth", type=int, nargs="+", default=[20])
    p.add_argument("--every", type=int, default=SNAPSHOT_EVERY, help="K (default: the app's)")
    p.add_argument("--n-train", type=int, default=None, help="images (default: the experiment's)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=None, help="batch (default: the experiment's)")
    p.add_argument("--device", default=None, help="default: the experiment's")
    p.add_argument("--threads", type=int, default=1, help="torch threads on CPU (0 = leave)")
    p.add_argument("--repeats", type=int, default=5, help="alternating runs of each")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    exp = EXPERIMENTS[a.experiment].with_(n_train=a.n_train, epochs=a.epochs, device=a.device)
    train_set, _ = exp.data.load()
    base = exp.config if a.batch is None else replace(exp.config, batch_size=a.batch)
    for depth in a.depth:
        spec = network(exp, a.arch, depth)
        off_cfg, on_cfg = replace(base, snapshot_every=0), replace(base, snapshot_every=a.every)
        timed_train(spec, train_set, off_cfg)  # warm-up (allocator, oneDNN/cuDNN kernels)
        off, on, steps = [], [], []
        for _ in range(a.repeats):  # alternate, so drift of the machine hits both alike
            off.append(timed_train(spec, train_set, off_cfg)[0])
            ips, res = timed_train(spec, train_set, on_cfg, steps)
            on.append(ips)
        m = res.meta
        print(f"{a.arch}-{depth} ({exp.data.size}x{exp.data.size}, width {exp.width}, {len(train_set)} images, "
              f"batch {base.batch_size}, {a.epochs} epoch(s) = {m['steps']} steps, amp {m['amp']}) on "
              f"{m.get('detail') or m['device']}; snapshots every {a.every} steps: "
              f"{res.grads['step'].nunique()} x {res.grads['block'].nunique()} blocks", flush=True)
        for name, v in (("off", off), ("on ", on)):
            print(f"  snapshots {name}: {statistics.median(v):8.1f} images/s (median of {len(v)}: "
                  + ", ".join(f"{x:.1f}" for x in v) + ")")
        print(f"  ratio on/off: {statistics.median(on) / statistics.median(off):.3f} (medians), "
              f"{max(on) / max(off):.3f} (best of each)", flush=True)
        if m["device"] == "cpu":
            snap = [s for k, s in steps if k % a.every == 0 and k > 0]  # step 0 also warms up
            plain = [s for k, s in steps if k % a.every and k > 0]
            cost = statistics.median(snap) - statistics.median(plain)
            print(f"  per step, interleaved in the 'on' runs: ordinary {1e3 * statistics.median(plain):.2f} ms "
                  f"(median of {len(plain)}), snapshot {1e3 * statistics.median(snap):.2f} ms (median of "
                  f"{len(snap)}): one snapshot costs {1e3 * cost:+.2f} ms -> overhead "
                  f"{100 * cost / (a.every * statistics.median(plain)):+.1f} % at K={a.every}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
