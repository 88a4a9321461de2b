"""Benchmark: the probe at initialisation of a Transformer and its twin, on one CPU thread.

The issue's target (#25): a depth-12 model (width 128, 4 heads, context 64, batch 16) and its
twin probed in <= 1 s. Timings on a shared machine are noisy, so each figure is reported with a
baseline measured in the same process, interleaved: a bare forward + backward of the same model
and batch (no hooks, no norms). The ratio is what this code adds; the seconds say what the host did. With one thread, the
process's CPU seconds (``time.process_time``) are also reported: on a loaded machine they are closer
to what an idle core would take than the wall-clock seconds (waiting for a core is not counted).

    python scripts/bench_transformer_probe.py [--depth 12] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from resnet_explain.model import build_model, make_batch
from resnet_explain.probe import probe
from resnet_explain.spec.transformer import transformer_spec


def _bare(model, x, y) -> tuple[float, float]:
    for p in model.parameters():
        p.grad = None
    t, c = time.perf_counter(), time.process_time()
    model.loss(model(x), y).backward()
    return time.perf_counter() - t, time.process_time() - c


def _probe(model, x, y) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    probe(model, x, y)
    return time.perf_counter() - t, time.process_time() - c


def _pair(fn, pair, x, y) -> tuple[float, float]:
    wall, cpu = zip(*(fn(m, x, y) for m in pair.values()))
    return sum(wall), sum(cpu)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--norm", default="pre", choices=("pre", "post", "none"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    spec = transformer_spec(depth=a.depth, width=128, heads=4, context=64, norm=a.norm)
    pair = {"yours": build_model(spec, seed=0), "twin": build_model(spec.twin(), seed=0)}
    x, y = make_batch(spec, batch=a.batch, seed=0)
    for m in pair.values():  # warm-up: first-call allocations and kernel selection
        _bare(m, x, y)
        _probe(m, x, y)
    bare, probed = [], []
    for _ in range(a.repeats):  # interleaved, so load changes hit both alike
        bare.append(_pair(_bare, pair, x, y))
        probed.append(_pair(_probe, pair, x, y))
    med = statistics.median
    out = {"spec": spec.to_query(), "batch": a.batch, "threads": a.threads, "repeats": a.repeats,
           "bare_pair_s_median": med(b[0] for b in bare), "probe_pair_s_median": med(p[0] for p in probed),
           "bare_pair_cpu_s_median": med(b[1] for b in bare), "probe_pair_cpu_s_median": med(p[1] for p in probed),
           "ratio_median": med(p[0] / b[0] for p, b in zip(probed, bare)),
           "cpu_ratio_median": med(p[1] / b[1] for p, b in zip(probed, bare))}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
