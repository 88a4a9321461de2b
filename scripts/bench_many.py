"""Benchmark: networks trained one after another (train) vs all at once, in the same process;
prints seconds and the ratio.

    python scripts/bench_many.py                               # CPU, ResNet-20 w8 16x16, 3 seeds
    python scripts/bench_many.py --device cuda --width 16 --size 32 --seeds 6 --n-train 20000

``--runner``: every network of the degradation experiment (the ``--budget``'s depths x plain and
residual x seeds) through the concurrent runner (train/concurrent.py: seeds stacked under vmap,
groups on their own CUDA streams, CUDA graphs) vs one at a time (train), both measured here:

    python scripts/bench_many.py --runner                       # CPU: tiny nets, the ratio
    python scripts/bench_many.py --runner --device cuda --budget gpu --depths 20,56,110 \
        --n-train 20000 --epochs 6 --variants unstacked,serial,eager   # issue #23's goal: <= 90 s

One at a time is timed on seed 0 of each network for ``--alone-epochs`` and scaled to every seed
and epoch (said in the output: an extrapolation, not a run); the runner trains everything. On a
CPU the runner's groups run one after another (stack=True; nothing to overlap). The recipe is the
experiment's: only the concurrency differs, and the results are the same up to float rounding
(tests/unit/test_many.py, tests/unit/test_concurrent.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--compile", default="", help="one-at-a-time side only: e.g. graphs (train/graphs.py)")
    ap.add_argument("--runner", action="store_true", help="the experiment's networks, concurrent runner vs alone")
    ap.add_argument("--budget", default="gpu", help="--runner: the degradation budget (train/budgets.py)")
    ap.add_argument("--depths", default="", help="--runner: e.g. 20,56,110 (default: the budget's)")
    ap.add_argument("--seed-list", default="", help="--runner: e.g. 0,1,2 (default: the budget's)")
    ap.add_argument("--alone-epochs", type=int, default=1, help="--runner: epochs timed one at a time")
    ap.add_argument("--alone-all", action="store_true", help="--runner: time every network alone (CPU: always)")
    ap.add_argument("--variants", default="", help="--runner: also unstacked (no vmap), serial (no streams), eager (no graphs)")
    ap.add_argument("--variant-epochs", type=int, default=1)
    a = ap.parse_args(argv)
    if a.runner:
        from bench_runner import main as runner_main  # scripts/bench_runner.py

        return runner_main(a)

    import torch

    from resnet_explain.data import shapes_train_test
    from resnet_explain.device import describe, synchronize
    from resnet_explain.spec import cifar_resnet
    from resnet_explain.train.config import TrainConfig
    from resnet_explain.train.many import train_seeds
    from resnet_explain.train.trainer import train

    torch.set_num_threads(a.threads)
    spec = cifar_resnet(a.depth, width=a.width, in_size=a.size)
    tr, _ = shapes_train_test(a.n_train, 16, seed=0, size=a.size, difficulty=0.1)
    cfg = TrainConfig(epochs=a.epochs, batch_size=a.batch, lr=0.1, device=a.device, amp="auto")
    seeds = list(range(a.seeds))
    print(f"ResNet-{a.depth} width {a.width} {a.size}x{a.size}, {a.seeds} seeds x {a.n_train} images x "
          f"{a.epochs} epoch(s), batch {a.batch}, {describe(torch.device(a.device))['detail']}, torch {torch.__version__}")
    train_seeds(spec, tr, None, replace(cfg, epochs=1), seeds[:1])  # warm-up (allocator, cuDNN)
    synchronize(a.device)
    alone = replace(cfg, compile=a.compile or False)
    if a.compile:
        train(spec, tr.subset(a.batch * 4), None, replace(alone, epochs=1))  # warm-up of that path
    synchronize(a.device)
    t = time.perf_counter()
    for s in seeds:
        train(spec, tr, None, replace(alone, seed=s))
    synchronize(a.device)
    one = time.perf_counter() - t
    t = time.perf_counter()
    train_seeds(spec, tr, None, cfg, seeds)
    synchronize(a.device)
    many = time.perf_counter() - t
    images = a.seeds * a.n_train * a.epochs
    side = f"train{', compile=' + a.compile if a.compile else ''}"
    print(f"  one after another ({side})   {one:7.1f} s  {images / one:8.0f} images/s")
    print(f"  all at once (train_seeds)   {many:7.1f} s  {images / many:8.0f} images/s")
    print(f"  ratio one-after-another / all-at-once: {one / many:.2f}x (> 1: at once is faster)")
    print("RESULT " + json.dumps({"part": "many", "depth": a.depth, "seeds": a.seeds, "compile": a.compile,
                                  "one_s": one, "many_s": many, "ratio": one / many,
                                  "images": images, "device": a.device}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
