"""Benchmark: a 2-D loss-landscape slice, our evaluation vs a plain loop, in the same process.

The plain loop is what the reference code does (tomgoldstein/loss-landscape, one grid point at a
time): load the point's weights into the model (``load_state_dict``), run the same forward passes
over the sample. Ours: ``resnet_explain.experiments.landscape.evaluate_points`` with the method it picks
(vmap over stacked weights on CUDA, a loop of ``functional_call`` on CPU) and, for the record, the
other method. Prints the seconds of each and the ratios plain / ours (> 1: ours is faster).

    python scripts/bench_landscape.py                                   # CPU, 1 thread: 21x21, depth 20, 512 images
    python scripts/bench_landscape.py --device cuda --grid 51 --depth 56 --images 5000

Goals (issue #12): CPU 1 thread, 21x21 of a shipped 20-layer twin on 512 images <= 60 s; one H100,
51x51 of a 56-layer net on 5000 images <= 120 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--variant", default="residual", choices=("plain", "residual"))
    ap.add_argument("--skip-other", action="store_true", help="do not time the other method")
    ap.add_argument("--skip-plain", action="store_true",
                    help="do not time the plain loop either (only the default method: the goal's figure)")
    a = ap.parse_args(argv)
    t_script = time.perf_counter()
    import numpy as np
    import torch

    from resnet_explain.device import describe, synchronize
    from resnet_explain.experiments import landscape as L
    from resnet_explain.experiments.landscape_directions import directions
    from resnet_explain.experiments.landscape_points import evaluate_points, float_state
    from resnet_explain.train import shipped

    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    amp = dev.type == "cuda"
    run = shipped.run(f"{a.variant}{a.depth}")
    model, normalizer, _ = run.load_model(device=dev)
    for p in model.parameters():
        p.requires_grad_(False)
    xu, y = L.sample(run, a.images)
    x, y = normalizer(xu.to(dev)), y.to(dev)
    base = float_state(model)
    d1, d2 = directions(model, 0)
    zero = {k: torch.zeros_like(v) for k, v in base.items() if k not in d1}
    d1, d2 = {**d1, **zero}, {**d2, **zero}
    ax = np.linspace(-1, 1, a.grid)
    aa, bb = np.meshgrid(ax, ax)
    pts = np.stack([aa.ravel(), bb.ravel()], 1)
    info = describe(dev)
    print(f"{run.name} ({run.run_id}), {a.grid}x{a.grid} = {len(pts)} points, {a.images} images, "
          f"{info['detail']}, torch {torch.__version__}, {a.threads} thread(s), "
          f"{'bf16 autocast' if amp else 'float32'}")

    def plain_loop():
        m = L.initial_model(run).to(dev).eval()  # a model to load every point's weights into
        out = np.empty(len(pts))
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            for i, (p1, p2) in enumerate(pts):
                m.load_state_dict({k: base[k] + float(p1) * d1[k] + float(p2) * d2[k] for k in base},
                                  strict=False)
                loss = 0.0
                for i0 in range(0, len(x), 1024):
                    o = m(x[i0:i0 + 1024])
                    loss += float(torch.nn.functional.cross_entropy(o.float(), y[i0:i0 + 1024], reduction="sum"))
                out[i] = loss / len(x)
        return out

    def ours(batched):
        return evaluate_points(model, base, [d1, d2], pts, x, y, batched=batched, amp=amp)[0]

    # warm up both paths on a few points (cuDNN autotuning, allocator)
    evaluate_points(model, base, [d1, d2], pts[:4], x, y, batched=amp, amp=amp)
    timings = {}
    default = dev.type == "cuda"
    methods = [] if a.skip_plain else [("plain loop (load_state_dict per point)", plain_loop)]
    methods.append((f"ours ({'vmap' if default else 'loop'}, the default here)", lambda: ours(default)))
    if not (a.skip_other or a.skip_plain):
        methods.append((f"ours ({'loop' if default else 'vmap'}, the other method)", lambda: ours(not default)))
    results = {}
    for name, fn in methods:
        synchronize(dev)
        t = time.perf_counter()
        results[name] = fn()
        synchronize(dev)
        timings[name] = time.perf_counter() - t
        print(f"  {name:<44}{timings[name]:8.1f} s", flush=True)
    names = list(timings)
    ref = results[names[0]]
    for name in names[1:]:  # (none with --skip-plain)
        err = float(np.nanmax(np.abs(results[name] - ref) / np.maximum(np.abs(ref), 1e-6)))
        print(f"  ratio plain loop / {name}: {timings[names[0]] / timings[name]:.2f}x "
              f"(largest relative difference in loss {err:.1e})")
    goal = 60 if dev.type == "cpu" else 120
    ours_s = timings[names[0 if a.skip_plain else 1]]
    print(f"  the default method took {ours_s:.1f} s for the slice (goal <= {goal} s)")
    print("RESULT " + json.dumps({"part": "landscape", "grid": a.grid, "images": a.images, "depth": a.depth,
                                  "seconds": ours_s, "script_seconds": time.perf_counter() - t_script,
                                  "device": dev.type}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
