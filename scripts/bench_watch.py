"""Benchmark ``resnet_explain.watch`` around a user's own loop: the same model, data and optimizer
stepped bare and watched (every K steps), alternating in one process; prints seconds per step of
each and the overhead, watched/bare − 1 (the issue's bar: ≤ 5 % at K = 8).

On a shared CPU the whole-run ratio carries the machine's noise (a run's mean is moved by the steps
other processes slow down), so it also prints the median bare step, and times every step of the
watched runs: recorded steps against the ordinary steps of the same runs, interleaved, so both see
the same load; the overhead at K is (recorded − ordinary) / (K × ordinary).

    python scripts/bench_watch.py                         # torchvision resnet18, 32×32, batch 32
    python scripts/bench_watch.py --every 8 --steps 48 --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import resnet_explain  # noqa: E402
from resnet_explain.experiments.real_models import import_torchvision  # noqa: E402


def steps(model, opt, x, y, n: int, times: list) -> None:
    for _ in range(n):
        t = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--steps", type=int, default=32, help="steps per run (a multiple of --every)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = import_torchvision().models.get_model(a.model, weights=None, num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(a.batch, 3, a.size, a.size), torch.randint(0, 10, (a.batch,))
    steps(model, opt, x, y, 3, [])  # warm-up
    bare, watched, recorded, ordinary, bare_steps = [], [], [], [], []
    for _ in range(a.repeats):
        t = []
        steps(model, opt, x, y, a.steps, t)
        bare.append(sum(t) / len(t))
        bare_steps += t
        t = []
        with resnet_explain.watch(model, every=a.every) as w:
            steps(model, opt, x, y, a.steps, t)
        watched.append(sum(t) / len(t))
        recorded += t[::a.every]
        ordinary += [v for i, v in enumerate(t) if i % a.every]
        assert len(w.history), "nothing was recorded"
    b, wt = statistics.median(bare), statistics.median(watched)
    rec, ordi = statistics.median(recorded), statistics.median(ordinary)
    print(f"{a.model} {a.size}x{a.size} batch {a.batch}, every={a.every}, {a.steps} steps x "
          f"{a.repeats} repeats, {a.threads} thread(s)")
    print(f"bare     {b * 1e3:8.2f} ms/step (median of runs' means), median step "
          f"{statistics.median(bare_steps) * 1e3:.2f} ms")
    print(f"watched  {wt * 1e3:8.2f} ms/step (median of runs' means)   overhead {wt / b - 1:+.1%}")
    print(f"in the watched runs: recorded step {rec * 1e3:.2f} ms, ordinary {ordi * 1e3:.2f} ms -> "
          f"overhead at every={a.every}: {(rec - ordi) / (a.every * ordi):+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
