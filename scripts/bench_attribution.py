"""Benchmark: our attribution path vs calling Captum directly, in the same process.

IntegratedGradients with 50 steps on one image of a CIFAR ResNet-56 (32x32, width 16, eval mode),
and the other methods: median of interleaved repeats, ratio ours / raw (target <= 1.1).

    python scripts/bench_attribution.py [--repeats 7] [--threads 1] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    import captum.attr as ca
    import torch

    from resnet_explain import build_model, preset
    from resnet_explain.device import choose_device, describe, synchronize
    from resnet_explain.experiments.attribution import attribute

    if a.threads:
        torch.set_num_threads(a.threads)
    dev = choose_device(a.device).device
    model = build_model(preset("resnet56"), seed=0, device=dev).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 32, 32, generator=g).to(dev)
    base = torch.zeros_like(x)
    target = 3

    cases = {
        "IntegratedGradients n_steps=50": (
            lambda: ca.IntegratedGradients(model).attribute(x, baselines=base, target=target, n_steps=50,
                                                            method="gausslegendre",
                                                            return_convergence_delta=True),
            lambda: attribute(model, x, target, "IntegratedGradients", baseline="black")),
        "Saliency": (lambda: ca.Saliency(model).attribute(x, target=target, abs=False),
                     lambda: attribute(model, x, target, "Saliency")),
        "DeepLift": (lambda: ca.DeepLift(model).attribute(x, baselines=base, target=target,
                                                          return_convergence_delta=True),
                     lambda: attribute(model, x, target, "DeepLift", baseline="black")),
        "LayerGradCam (last block)": (
            lambda: ca.LayerAttribution.interpolate(
                ca.LayerGradCam(model, model.stage3.block8).attribute(x, target=target), (32, 32),
                interpolate_mode="bilinear"),
            lambda: attribute(model, x, target, "LayerGradCam", layer="stage3.block8")),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {describe(dev)['detail']}")
    print(f"ResNet-56 (CIFAR, width 16), one 32x32 image, eval mode; median of {a.repeats} interleaved "
          "repeats after 2 warm-ups")
    print(f"{'method':<32}{'raw Captum ms':>15}{'ours ms':>10}{'ours/raw':>10}")
    worst = 0.0
    for name, (raw, ours) in cases.items():
        for _ in range(2):
            raw(), ours()
        tr, to = [], []
        for _ in range(a.repeats):
            for fn, out in ((raw, tr), (ours, to)):
                synchronize(dev)
                t = time.perf_counter()
                fn()
                synchronize(dev)
                out.append(time.perf_counter() - t)
        r, o = statistics.median(tr), statistics.median(to)
        worst = max(worst, o / r)
        print(f"{name:<32}{r * 1e3:>15.1f}{o * 1e3:>10.1f}{o / r:>10.3f}")
    print(f"worst ours/raw: {worst:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
