"""Benchmark the trainer against a naive eager PyTorch loop (batch 128, DataLoader, no tricks)
on the same model in the same run. Goal on an H100/H200: >= 3x the naive loop and ResNet-20 at
>= 40k images/s; on a CPU we report the same ratio.

    python scripts/bench_train.py                    # ResNet-20, 32x32, auto device
    python scripts/bench_train.py --depth 56 --compile --json --out assets/degradation/bench_train.json
    python scripts/bench_train.py --device cuda --batch 128 --compile graphs   # one CUDA graph a step

Each row is also printed as one ``RESULT {json}`` line (scripts/gpu_table.py reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from resnet_explain.spec import cifar_resnet  # noqa: E402
from resnet_explain.train.benchmark import bench_train  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--depth", type=int, nargs="+", default=[20])
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 12 CPU, 200 GPU)")
    p.add_argument("--batch", type=int, default=None, help="trainer batch (default 128 CPU, 512 GPU)")
    p.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                   help="torch.compile the trainer's model (optionally a mode, e.g. reduce-overhead)")
    p.add_argument("--naive-steps", type=int, default=None, help="naive-loop steps (default: --steps)")
    p.add_argument("--threads", type=int, default=None, help="torch threads on CPU")
    p.add_argument("--repeats", type=int, default=3, help="alternate runs of each, best kept")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default=None, help="also write the JSON here")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = []
    for d in a.depth:
        r = bench_train(cifar_resnet(d, width=a.width, in_size=a.size), device=a.device,
                        steps=a.steps, batch_size=a.batch, compile=a.compile, repeats=a.repeats,
                        naive_steps=a.naive_steps)
        rows.append(r)
        print("RESULT " + json.dumps({"part": "train", "depth": d, "batch": r["trainer_batch"],
                                      "compile": a.compile, "images_per_s": r["trainer_images_per_s"],
                                      "naive_images_per_s": r["naive_images_per_s"], "amp": r["amp"],
                                      "device": r["device"]}), flush=True)
        if not a.json:
            print(f"ResNet-{d} ({a.size}x{a.size}, width {a.width}) on {r['detail']}: trainer "
                  f"{r['trainer_images_per_s']:,.0f} images/s (batch {r['trainer_batch']}, amp "
                  f"{r['amp']}), naive {r['naive_images_per_s']:,.0f} images/s (batch 128): "
                  f"{r['ratio']:.2f}x", flush=True)
    obj = {"rows": rows}
    if a.json:
        print(json.dumps(obj))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(obj, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
