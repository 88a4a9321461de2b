"""``scripts/bench_many.py --runner``: every network of a degradation budget through the concurrent
runner (train/concurrent.py) vs one at a time (train), in one process; see bench_many.py."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _ints(text: str, default) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",")) if text else tuple(default)


def _budget(a):
    from resnet_explain.train.budgets import EXPERIMENTS

    exp = EXPERIMENTS[a.budget]
    n_test = min(exp.data.n_test, max(32, a.n_train // 4)) if a.n_train else None
    tiny = (8, 14) if a.device == "cpu" else exp.depths  # a CPU's default: tiny networks
    exp = exp.with_(depths=_ints(a.depths, tiny), seeds=_ints(a.seed_list, exp.seeds),
                    epochs=a.epochs, device=a.device, n_train=a.n_train or None, n_test=n_test)
    if a.device == "cpu":  # tiny models on a CPU: the sizes asked for (--width, --size, --batch)
        exp = exp.with_(width=a.width, size=a.size)
        exp = replace(exp, config=replace(exp.config, batch_size=a.batch))
    return exp


def _jobs(exp, data, epochs: int, seeds=None):
    from resnet_explain.experiments.degradation import network
    from resnet_explain.train.concurrent import Job

    return [Job(network(exp, arch, d), replace(exp.config_for(d), seed=s, epochs=epochs), *data)
            for d in exp.depths for arch in ("plain", "residual") for s in (seeds or exp.seeds)]


def _timed(fn):
    from resnet_explain.device import synchronize

    t = time.perf_counter()
    out = fn()
    synchronize(out[1] if isinstance(out, tuple) else "cpu")
    return time.perf_counter() - t, out


def _ticker(total: int, label: str):
    """A progress callback that prints every tenth of the epochs (output as it goes)."""
    seen = {"n": 0, "t0": time.perf_counter()}

    def tick(i, rec):
        seen["n"] += 1
        if seen["n"] % max(1, total // 10) == 0 or seen["n"] == total:
            print(f"    {label}: {seen['n']}/{total} network-epochs, {time.perf_counter() - seen['t0']:.1f} s",
                  flush=True)
    return tick


def main(a) -> int:
    import torch

    from resnet_explain.device import describe, synchronize
    from resnet_explain.train.concurrent import train_all
    from resnet_explain.train.trainer import train

    torch.set_num_threads(a.threads)
    exp = _budget(a)
    t = time.perf_counter()
    data = exp.data.load()
    print(f"budget {exp.name}: depths {exp.depths} x plain/residual x seeds {exp.seeds}, {exp.data.n_train} "
          f"images {exp.data.size}x{exp.data.size}, width {exp.width}, {exp.config.epochs} epochs, batch "
          f"{exp.config.batch_size}; data made in {time.perf_counter() - t:.1f} s; "
          f"{describe(torch.device(a.device))['detail']}, torch {torch.__version__}", flush=True)
    dev = a.device
    stack = True  # on a CPU too: the runner's stacked path is what is measured
    warm = _jobs(exp.with_(depths=exp.depths[:1]), (data[0].subset(exp.config.batch_size * 4), None), 1, (0,))
    train_all(warm, stack=stack)  # warm-up: allocator, cuDNN's choices, the graph path
    train(warm[0].spec, warm[0].train_set, None, warm[0].config)
    synchronize(dev)

    # one at a time: every network (--alone-all, the default on a CPU), or seed 0 of each for
    # --alone-epochs, scaled to every seed and epoch
    every = a.alone_all or dev == "cpu"
    epochs = exp.config.epochs if every else a.alone_epochs
    alone = 0.0
    for job in _jobs(exp, data, epochs, seeds=None if every else (exp.seeds[0],)):
        t = time.perf_counter()
        train(job.spec, job.train_set, job.test_set, job.config)
        synchronize(dev)
        s = time.perf_counter() - t
        alone += s
        print(f"  alone {job.spec.arch}-{job.spec.depth} seed {job.config.seed}: {s:.1f} s for "
              f"{epochs} epoch(s)", flush=True)
    per_epoch_alone = alone / epochs * (1 if every else len(exp.seeds))  # every network, one epoch
    alone_full = per_epoch_alone * exp.config.epochs
    print(f"  one at a time, every network, {exp.config.epochs} epochs: "
          + (f"{alone_full:.1f} s (measured)" if every else
             f"about {alone_full:.0f} s (extrapolated from {alone:.1f} s: seed {exp.seeds[0]}, {epochs} epoch(s))"),
          flush=True)

    jobs = _jobs(exp, data, exp.config.epochs)
    t = time.perf_counter()
    res = train_all(jobs, stack=stack, progress=_ticker(len(jobs) * exp.config.epochs, "runner"))
    synchronize(dev)
    full = time.perf_counter() - t
    how = res[0].meta.get("trained_with", "") if res and res[0] is not None else ""
    graphed = sum(bool(r is not None and r.meta.get("graphed")) for r in res)
    print(f"  runner, every network, {exp.config.epochs} epochs: {full:.1f} s ({how}; {graphed} of "
          f"{len(res)} graphed); one at a time / runner = {alone_full / full:.2f}x", flush=True)
    print("RESULT " + json.dumps({"part": "runner", "budget": exp.name, "depths": list(exp.depths),
                                  "seeds": len(exp.seeds), "epochs": exp.config.epochs,
                                  "n_train": exp.data.n_train,
                                  "variant": "streams+graphs" if dev == "cuda" else "groups one after another (CPU)",
                                  "runner_s": full, "alone_s": alone_full, "alone_measured_s": alone,
                                  "alone_extrapolated": not every,
                                  "ratio": alone_full / full, "networks": len(jobs), "graphed": graphed,
                                  "device": dev}), flush=True)
    _variants(a, exp, data, per_epoch_alone, stack)
    return 0


def _variants(a, exp, data, per_epoch_alone: float, stack: bool) -> None:
    """The runner with one model per group (unstacked: no vmap, every network its own stream and
    graph), without streams (groups one after another) and without graphs, at
    ``--variant-epochs``, against the default at the same epochs: what each ingredient buys."""
    from resnet_explain.device import synchronize
    from resnet_explain.train.concurrent import train_all

    names = [v for v in a.variants.split(",") if v]
    if not names:
        return
    kw = {"streams+graphs": {}, "unstacked": {"max_stack": 1}, "serial": {"streams": False},
          "eager": {"graphs": False}}
    for name in ["streams+graphs", *names]:
        jobs = _jobs(exp, data, a.variant_epochs)
        t = time.perf_counter()
        train_all(jobs, stack=stack, **kw[name])
        synchronize(a.device)
        s = time.perf_counter() - t
        alone = per_epoch_alone * a.variant_epochs
        if a.device != "cuda":
            name += " (no CUDA: groups one after another, eager)"
        print(f"  variant {name}: {s:.1f} s for {a.variant_epochs} epoch(s); one at a time / it = "
              f"{alone / s:.2f}x", flush=True)
        print("RESULT " + json.dumps({"part": "runner_variant", "variant": name, "epochs": a.variant_epochs,
                                      "runner_s": s, "alone_s": alone, "ratio": alone / s,
                                      "device": a.device}), flush=True)
