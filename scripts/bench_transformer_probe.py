"""Benchmark: the probe at initialisation of a Transformer and its twin, on one CPU thread.

The issue's target (#25): a depth-12 model (width 128, 4 heads, context 64, batch 16) and its
twin probed in <= 1 s. Timings on a shared machine are noisy, so each figure is reported with a
baseline measured in the same process, interleaved: a bare forward + backward of the same model
and batch (no hooks, no norms). The ratio is what this code adds; the seconds say what the host did.

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


def _bare(model, x, y) -> float:
    for p in model.parameters():
        p.grad = None
    t = time.perf_counter()
    model.loss(model(x), y).backward()
    return time.perf_counter() - t


def _probe(model, x, y) -> float:
    t = time.perf_counter()
    probe(model, x, y)
    return time.perf_counter() - t


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
        bare.append(sum(_bare(m, x, y) for m in pair.values()))
        probed.append(sum(_probe(m, x, y) for m in pair.values()))
    out = {"spec": spec.to_query(), "batch": a.batch, "threads": a.threads, "repeats": a.repeats,
           "bare_pair_s_median": statistics.median(bare), "probe_pair_s_median": statistics.median(probed),
           "probe_pair_s_min": min(probed), "bare_pair_s_min": min(bare),
           "ratio_median": statistics.median(p / b for p, b in zip(probed, bare))}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
