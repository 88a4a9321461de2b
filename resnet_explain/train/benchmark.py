"""The trainer's benchmark: images/s against the naive eager loop of a first tutorial, in one run."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ..data import ImageSet, Normalizer, shapes_train_test
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..spec import NetSpec, cifar_resnet
from .config import TrainConfig
from .trainer import train


def train_naive(spec: NetSpec, train_set: ImageSet, steps: int, batch_size: int = 128,
                device="auto", seed: int = 0, lr: float = 0.1) -> dict:
    """The baseline for the benchmark: the eager PyTorch loop of a first tutorial. A float32
    TensorDataset on the host, a shuffling DataLoader with batch 128, a host->device copy per
    batch, no autocast, no channels_last. Returns images/s over ``steps`` steps (after 2 warm-up
    steps)."""
    dev = choose_device(device).device
    torch.manual_seed(seed)
    model = build_model(spec, seed=seed).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    xf = Normalizer.of(train_set)(train_set.x)
    loader = DataLoader(TensorDataset(xf, train_set.y), batch_size=batch_size, shuffle=True,
                        drop_last=True)
    done = 0
    t0 = None
    while done < steps + 2:
        for xb, yb in loader:
            if done == 2:
                synchronize(dev)
                t0 = time.perf_counter()
            if done >= steps + 2:
                break
            xb, yb = xb.to(dev), yb.to(dev)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            done += 1
    synchronize(dev)
    seconds = time.perf_counter() - t0
    return {"images_per_s": steps * batch_size / seconds, "seconds": seconds, "steps": steps,
            "batch_size": batch_size}


def bench_train(spec: NetSpec | None = None, device: str = "auto", steps: int | None = None,
                batch_size: int | None = None, naive_steps: int | None = None,
                n_images: int | None = None, seed: int = 0, compile: bool | str = False,
                repeats: int = 3) -> dict:
    """Images/s of :func:`train` vs :func:`train_naive` on the same model, in the same run.

    The trainer's figure is its training throughput for one epoch (its evaluation excluded), the
    naive loop's over its steps; both after warm-up (the trainer gets a one-epoch warm-up run),
    alternated ``repeats`` times, best of each reported (all runs are in the result).
    """
    dev = choose_device(device).device
    cuda = dev.type == "cuda"
    spec = spec or cifar_resnet(20)
    bs = batch_size or (512 if cuda else 128)
    steps = steps or (200 if cuda else 12)
    naive_steps = naive_steps or steps
    need = max(bs * steps, 128 * (naive_steps + 2))
    n = n_images or need
    data = shapes_train_test(n, 16, seed=seed, size=spec.in_size, classes=min(spec.classes, 10))[0]
    cfg = TrainConfig(epochs=1, batch_size=bs, device=device, seed=seed, compile=compile)
    warm = data.subset(min(len(data), bs * 3))
    train(spec, warm, None, cfg)  # warm-up: allocator, cuDNN autotune, compile
    fast_runs, naive_runs = [], []
    for _ in range(repeats):  # alternate, keep the best of each: other work on a shared
        fast = train(spec, data.subset(bs * steps), None, cfg)  # machine only ever slows a run
        fast_runs.append(float(fast.history["images_per_s"].iloc[0]))
        naive_runs.append(train_naive(spec, data, naive_steps, 128, device, seed)["images_per_s"])
    f, nv = max(fast_runs), max(naive_runs)
    return {"trainer_images_per_s": f, "naive_images_per_s": nv,
            "ratio": f / nv, "trainer_runs": fast_runs, "naive_runs": naive_runs,
            "repeats": repeats, "trainer_batch": bs, "naive_batch": 128,
            "trainer_steps": steps, "naive_steps": naive_steps, "depth": spec.depth,
            "spec": spec.to_query(), "amp": fast.meta["amp"],
            "channels_last": fast.meta["channels_last"], "compile": compile,
            **describe(dev), "threads": torch.get_num_threads()}
