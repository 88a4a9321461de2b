"""Benchmark the generated-shapes data: images/s on one CPU core (goal: >= 20k at 32x32).

    python scripts/bench_data.py                 # 32x32 and 16x16 at difficulty 0, 0.5, 1
    python scripts/bench_data.py --n 50000 --size 32 --difficulty 0.6 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from resnet_explain.data import make_shapes  # noqa: E402


def measure(n: int, size: int, difficulty: float, repeats: int) -> dict:
    make_shapes(1024, seed=99, size=size, difficulty=difficulty)  # warm-up
    best = best_cpu = float("inf")
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        make_shapes(n, seed=r, size=size, difficulty=difficulty)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    # Wall-clock and CPU-time rates: on a shared machine the wall clock includes time the
    # process waited for a core; CPU time (one thread) is the per-core cost.
    return {"n": n, "size": size, "difficulty": difficulty, "seconds": best,
            "images_per_s": n / best, "cpu_seconds": best_cpu, "images_per_cpu_s": n / best_cpu,
            "threads": torch.get_num_threads()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--size", type=int, nargs="+", default=[32, 16])
    p.add_argument("--difficulty", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (the goal is per core)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs (shared CPUs are noisy)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = [measure(a.n, s, d, a.repeats) for s in a.size for d in a.difficulty]
    if a.json:
        print(json.dumps({"rows": rows, "torch": torch.__version__}))
    else:
        for r in rows:
            print(f"{r['size']:>3}x{r['size']:<3} difficulty {r['difficulty']:.2f}: "
                  f"{r['images_per_s']:>10,.0f} images/s wall, "
                  f"{r['images_per_cpu_s']:>10,.0f} per CPU-second ({r['threads']} thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
