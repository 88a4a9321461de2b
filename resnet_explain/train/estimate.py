"""How long will a training run take, before it starts.

For a visitor's run: a few real training steps of that network are timed here and now
(:func:`measure_images_per_second`), because a shared 2-vCPU server under load trains several
times slower than the machine that made the stored runs; :func:`flop_estimate_seconds` scales the
measured runs (``runs``: the caller passes them, e.g. the stored degradation runs) by FLOPs when
nothing may run; :func:`estimate_requests_seconds` times several runs, one measurement per network
and its twin. Every page's estimate goes through this module; an experiment passes what it
knows (its requests, its measured runs), the estimator imports no experiment.

Measured runs (e.g. ``assets/degradation/runs.csv``) record each network's mean training speed in
images per second. The time a CIFAR net spends on one image grows about linearly with its depth
(every block costs about the same), so a straight line through the measured seconds per image at
the shallowest and the deepest depth gives every other depth (:class:`Throughput`). It is rough by
design: it leaves out evaluation and data generation, and a busy server is slower than the
machine that made the stored runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..data import make_shapes
from ..device import choose_device, synchronize
from ..model import build_model
from ..spec import cifar_resnet, estimate_cost
from .trainer import train

if TYPE_CHECKING:
    from .budgets import Budget

MIN_SECONDS_PER_IMAGE = 1e-6  # a line extrapolated below the shallowest depth never goes to 0


@dataclass(frozen=True)
class Throughput:
    """Seconds per training image (one epoch, one network) as a line in depth."""

    depth0: float  # the shallowest measured depth
    seconds0: float  # measured seconds per image at depth0
    slope: float  # extra seconds per image per layer

    @classmethod
    def fit(cls, runs: pd.DataFrame) -> Throughput:
        """Fit to measured runs (columns ``depth``, ``images_per_s``): through the mean seconds
        per image at the shallowest and the deepest depth; with one depth, proportional to depth."""
        if runs is None or len(runs) == 0:
            raise ValueError("no measured runs to fit a training speed to")
        speed = runs.groupby("depth")["images_per_s"].mean()
        if not (np.isfinite(speed) & (speed > 0)).all():
            raise ValueError("measured speeds must be positive and finite")
        per = 1.0 / speed
        d0, d1 = float(per.index.min()), float(per.index.max())
        t0, t1 = float(per.loc[per.index.min()]), float(per.loc[per.index.max()])
        slope = (t1 - t0) / (d1 - d0) if d1 > d0 else t0 / d0
        return cls(d0, t0, slope)

    def seconds_per_image(self, depth: float) -> float:
        return max(self.seconds0 + self.slope * (float(depth) - self.depth0), MIN_SECONDS_PER_IMAGE)


def estimate_seconds(budget: Budget, archs: Sequence[str], runs: pd.DataFrame) -> float:
    """Rough training time of the CIFAR nets of ``budget`` (its depths and seeds) for ``archs``,
    from the speed measured in ``runs``: seconds per image at each depth x images x epochs x
    seeds x architectures."""
    fit = Throughput.fit(runs)
    images = budget.data.n_train * budget.config.epochs * len(budget.seeds) * len(archs)
    return images * sum(fit.seconds_per_image(d) for d in budget.depths)


def seconds_per_flop(runs: pd.DataFrame, width: int = 8, size: int = 16) -> float:
    """Measured training seconds per forward FLOP per image, from runs of He et al.'s CIFAR nets
    of first-stage ``width`` at ``size``×``size`` (the stored degradation runs: width 8, 16×16).
    One training image costs about three forward passes (forward, backward for activations and for
    weights), which this constant absorbs."""
    speed = runs.groupby("depth")["images_per_s"].mean()
    per_flop = [1.0 / (float(s) * estimate_cost(cifar_resnet(int(d), width=width, in_size=size)).flops)
                for d, s in speed.items()]
    return float(np.mean(per_flop))


def flop_estimate_seconds(request, runs: pd.DataFrame) -> float:
    """Rough CPU time to train ``request`` without running anything: its network's forward FLOPs
    (from the spec, before anything is built) x images x epochs x the seconds per FLOP measured on
    ``runs`` (:func:`seconds_per_flop`; e.g. the stored degradation runs, one CPU thread).
    Evaluation and data generation are left out; a busy server is slower."""
    flops = estimate_cost(request.netspec).flops
    return float(request.data.n_train * request.config.epochs * flops * seconds_per_flop(runs))


WARMUP_STEPS = 4  # timed training steps (the first, which pays for allocation, is not counted)


def measure_images_per_second(request, steps: int = WARMUP_STEPS) -> float:
    """Train ``request``'s network for a few real steps on its own data, here and now, and return
    the images per second of those steps: the speed of this host under its present load (a
    shared server is much slower when busy than the machine that made the stored runs). Costs
    about ``steps + 1`` training steps; nothing is stored."""
    cfg = request.config
    bs = min(cfg.batch_size, request.data.n_train)
    data = make_shapes(bs * (steps + 1), seed=request.data.seed, size=request.data.size,
                       difficulty=request.data.difficulty)
    timings: list[float] = []
    dev = choose_device(cfg.device).device
    clock = [0.0]

    def tick(done, total):
        synchronize(dev)
        now = time.perf_counter()
        if done > 1:  # the first step pays for allocation and autotuning
            timings.append(now - clock[0])
        clock[0] = now

    clock[0] = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        train(request.netspec, data, None, replace(cfg, epochs=1, snapshot_every=0),
              step_progress=tick, model=build_model(request.netspec, seed=cfg.seed))
    if not timings:
        raise ValueError("too few steps to time")
    return bs / float(np.median(timings))


def estimate_run_seconds(request, runs: pd.DataFrame | None = None) -> float:
    """Rough time to train ``request`` (a :class:`~resnet_explain.train.runs.RunRequest`) here:
    :func:`step_images` at the speed measured now by :func:`measure_images_per_second`, or, when
    measured ``runs`` are given instead, scaled from them by the network's forward FLOPs
    (:func:`flop_estimate_seconds`: nothing runs)."""
    if runs is not None:
        return flop_estimate_seconds(request, runs)
    return float(step_images(request) / measure_images_per_second(request))


def step_images(request) -> float:
    """A run's work in training-image equivalents: its training images x epochs, plus a
    forward-only pass over the test images each epoch and over the training images at the end
    (about a third of a training step each)."""
    d, epochs = request.data, request.config.epochs
    return float(d.n_train * epochs + (d.n_test * epochs + d.n_train) / 3.0)


def estimate_requests_seconds(requests: Sequence, measure: Callable | None = None) -> float:
    """Rough time of several runs here and now: :func:`step_images` of each at the speed of a few
    real training steps, measured once per network and its twin (they cost the same to within one
    addition per block). ``measure(request) -> images/s`` defaults to
    :func:`measure_images_per_second`."""
    measure = measure or measure_images_per_second
    speed: dict[frozenset, float] = {}
    total = 0.0
    for req in requests:
        key = frozenset((req.spec, req.netspec.twin().to_query(), req.data, _speed_config(req)))
        if key not in speed:
            speed[key] = float(measure(req))
        total += step_images(req) / speed[key]
    return total


def _speed_config(request) -> tuple:
    """The config fields that change a step's speed (not the seed, the lr or the schedule)."""
    c = request.config
    return (c.batch_size, c.device, c.amp, c.channels_last, c.compile, c.augment)
