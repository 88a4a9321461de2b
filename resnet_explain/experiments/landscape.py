"""Loss landscapes around a trained run (Li et al. 2018, "Visualizing the Loss Landscape of Neural
Nets", arXiv 1712.09913): one run's landscape, its settings and its result.

What is computed, for one run (a trained network) on a fixed sample of its training images, with
the network in eval mode (BatchNorm uses its stored running statistics, as in Li et al.'s code):

* a **2-D slice** L(θ* + α·d1 + β·d2) on a grid of α, β in [−span, span], and a denser **1-D
  slice** along d1 (Li et al.'s fig. 1: "The loss surfaces of ResNet-56 with/without skip
  connections"), along filter-normalised directions (:mod:`.landscape_directions`), evaluated
  many points at a time (:mod:`.landscape_points`);
* the **straight line from the initial weights to the trained ones** (Goodfellow et al. 2015,
  "Qualitatively characterizing neural network optimization problems", arXiv 1412.6544), t = 0 the
  initial weights the run started from (rebuilt from its seed), t = 1 the trained ones;
* the **extreme Hessian eigenvalues** at the trained weights (:mod:`.landscape_hessian`);
* the slice's **roughness** (:mod:`.landscape_roughness`).

The straight line moves every parameter and BatchNorm's running statistics together (both are
part of the state that eval mode uses).

A 2-D slice of a function of ~10^5 variables shows a plane through it, chosen at random: it cannot
show directions it does not contain, and a smooth slice does not prove a smooth landscape
(Li et al. discuss exactly this, and check their slices against Hessian eigenvalues). Where results
are kept: :mod:`.landscape_store`; what they say in words: :mod:`resnet_explain.content.landscape`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..device import synchronize
from ..errors import UserError
from .landscape_directions import directions
from .landscape_hessian import hessian_extremes
from .landscape_points import evaluate_points, float_state
from .landscape_roughness import summarise

IMAGE_BATCH = 1024  # evaluate_points' default image batch
VERSION = 1  # bump when a change alters stored results; part of every result's key


class LandscapeError(UserError):
    """Settings that cannot make a landscape (grid, span, sample), or a run without its data."""


@dataclass(frozen=True)
class LandscapeSettings:
    """Everything that decides a landscape's numbers besides the run (part of the cache key)."""

    grid: int = 21  # points per axis of the 2-D slice; odd, so the trained weights are the centre
    span: float = 1.0  # α, β in [-span, span], in units of the filter-normalised directions
    images: int = 512  # the first `images` images of the run's training split
    seed: int = 0  # seed of the two random directions and of the power iteration's start
    line: int = 0  # points of the 1-D slice and of the init→trained line; 0: 2·grid + 1
    hessian_iters: int = 30  # most power-iteration steps per eigenvalue
    hessian_tol: float = 1e-3  # stop when the eigenvalue estimate changes by less (relative)

    def validate(self) -> LandscapeSettings:
        if not (3 <= int(self.grid) <= 101) or int(self.grid) % 2 == 0:
            raise LandscapeError(f"grid must be an odd number from 3 to 101 (got {self.grid})")
        if not (0.01 <= float(self.span) <= 10.0) or not math.isfinite(float(self.span)):
            raise LandscapeError(f"span must be between 0.01 and 10 (got {self.span})")
        if not (8 <= int(self.images) <= 50_000):
            raise LandscapeError(f"images must be between 8 and 50,000 (got {self.images})")
        if int(self.line) and (not (3 <= int(self.line) <= 401) or int(self.line) % 2 == 0):
            raise LandscapeError(f"line must be 0 (automatic) or an odd number of points from 3 "
                                 f"to 401 (got {self.line})")
        if not (1 <= int(self.hessian_iters) <= 500):
            raise LandscapeError("hessian_iters must be between 1 and 500")
        return self

    @property
    def line_points(self) -> int:
        return int(self.line) or 2 * int(self.grid) + 1

    @property
    def axis(self) -> np.ndarray:
        return np.linspace(-self.span, self.span, int(self.grid))

    @property
    def line_axis(self) -> np.ndarray:
        return np.linspace(-self.span, self.span, self.line_points)

    @property
    def path_axis(self) -> np.ndarray:
        """t of the init→trained line, a quarter beyond each end (as Goodfellow et al. plot), in
        steps of 0.25/k so that t = 0 and t = 1 are points: about ``line_points`` of them."""
        k = max(1, round((self.line_points - 1) / 6))
        return np.linspace(-0.25, 1.25, 6 * k + 1)


@dataclass
class Landscape:
    """A run's landscape: tidy tables and the numbers, with what made them."""

    surface: pd.DataFrame  # alpha, beta, loss, accuracy
    line: pd.DataFrame  # alpha, loss, accuracy (along d1)
    path: pd.DataFrame  # t, loss, accuracy (init -> trained)
    numbers: dict  # lambda_max, lambda_min, ratio, nonconvex_share, ... (see summarise)
    meta: dict = field(default_factory=dict)  # run, settings, device, dtype, seconds, method


def sample(run, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of the run's training split (uint8) and their labels."""
    train, _ = run.request.data.load()
    if n > len(train):
        raise LandscapeError(f"the run has {len(train):,} training images; asked for {n:,}")
    part = train.subset(n)
    return part.x, part.y


def initial_model(run) -> nn.Module:
    """The weights the run started from: its network built with its training seed (the trainer
    builds ``build_model(spec, seed=config.seed)``)."""
    from ..model import build_model

    return build_model(run.spec, seed=run.request.config.seed)


def work_units(settings: LandscapeSettings) -> dict[str, int]:
    """Forward passes over the sample, per phase (a Hessian-vector product counts as 3)."""
    s = settings
    return {"surface": s.grid**2, "line": s.line_points, "path": len(s.path_axis),
            "hessian": 3 * 2 * s.hessian_iters}


def landscape(run, settings: LandscapeSettings = LandscapeSettings(), *, device=None,
              batched: bool | None = None, progress: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Landscape:
    """Compute ``run``'s landscape (no cache: see :func:`~resnet_explain.experiments.landscape_store.cached_landscape`).

    ``progress(record)`` gets {"phase", "done", "total"} (work units of :func:`work_units`) after
    every chunk; ``should_stop()`` raises :class:`~resnet_explain.errors.Stopped` between chunks."""
    from ..device import choose_device

    s = settings.validate()
    dev = torch.device(device) if device is not None else choose_device("auto").device
    amp = dev.type == "cuda"  # bf16 on CUDA; float32 on CPU (and for the Hessian everywhere)
    t0 = time.perf_counter()
    model, normalizer, _ = run.load_model(device=dev)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    xu, y = sample(run, int(s.images))
    x, y = normalizer(xu.to(dev)), y.to(dev)
    total = sum(work_units(s).values())
    state = {"done": 0}

    seconds = {}

    def tick(phase):
        seconds.setdefault(phase, time.perf_counter())

        def done(n):
            state["done"] += n * (3 if phase == "hessian" else 1)
            if progress is not None:
                progress({"phase": phase, "done": state["done"], "total": total})
        return done

    base = float_state(model)
    d1, d2 = directions(model, s.seed)
    zero = {k: torch.zeros_like(v) for k, v in base.items() if k not in d1}
    d1, d2 = {**d1, **zero}, {**d2, **zero}
    ax = s.axis
    aa, bb = np.meshgrid(ax, ax, indexing="xy")
    grid = np.stack([aa.ravel(), bb.ravel()], axis=1)
    kw = dict(batched=batched, amp=amp, should_stop=should_stop)
    loss, acc = evaluate_points(model, base, [d1, d2], grid, x, y, done=tick("surface"), **kw)
    surface = pd.DataFrame({"alpha": grid[:, 0], "beta": grid[:, 1], "loss": loss, "accuracy": acc})
    la = s.line_axis
    loss, acc = evaluate_points(model, base, [d1], la[:, None], x, y, done=tick("line"), **kw)
    line = pd.DataFrame({"alpha": la, "loss": loss, "accuracy": acc})
    init = float_state(initial_model(run).to(dev))
    if set(init) != set(base):
        raise LandscapeError("the run's initial network does not match its checkpoint")
    # Parameters move along the whole line; BatchNorm's running statistics move with t held to
    # [0, 1] (beyond the ends a linearly extrapolated running variance can turn negative).
    params = {k for k, _ in model.named_parameters()}
    weights = {k: (base[k] - init[k]) if k in params else torch.zeros_like(base[k]) for k in base}
    stats = {k: torch.zeros_like(base[k]) if k in params else (base[k] - init[k]) for k in base}
    t = s.path_axis
    tt = np.stack([t, np.clip(t, 0.0, 1.0)], axis=1)
    loss, acc = evaluate_points(model, init, [weights, stats], tt, x, y, done=tick("path"), **kw)
    path = pd.DataFrame({"t": t, "loss": loss, "accuracy": acc})
    hess = hessian_extremes(model, x, y, iters=s.hessian_iters, tol=s.hessian_tol, seed=s.seed,
                            should_stop=should_stop, done=tick("hessian"))
    synchronize(dev)
    if progress is not None:  # the power iteration may converge before its last planned step
        progress({"phase": "done", "done": total, "total": total})
    ends = list(seconds.values()) + [time.perf_counter()]
    phase_seconds = {p: round(b - a, 3) for p, a, b in zip(seconds, ends, ends[1:])}
    numbers = summarise(surface, hess, path)
    meta = {"run_id": run.run_id, "name": run.name, "spec": run.request.spec,
            "variant": run.spec.arch, "depth": run.spec.depth,
            "classes": int(run.spec.classes),
            "settings": asdict(s), "device": str(dev), "dtype": "bf16" if amp else "float32",
            "method": "vmap" if (batched if batched is not None else dev.type == "cuda") else "loop",
            "seconds": time.perf_counter() - t0, "phase_seconds": phase_seconds, "torch": torch.__version__, "version": VERSION,
            "params": int(sum(v.numel() for v in model.parameters())),
            "moved_params": int(sum(int(bool(d1[k].any())) * d1[k].numel() for k in d1)),
            "train_error": run.meta.get("train_error"), "test_error": run.meta.get("test_error")}
    return Landscape(surface, line, path, numbers, meta)


def estimate_seconds(run, settings: LandscapeSettings, speed) -> float:
    """Rough wall time on this host: the work units × one forward pass of the run's network over
    the sample (in the batches :func:`evaluate_points` uses) at ``speed``
    (:class:`~..train.estimate.HostSpeed`, this host's one measurement)."""
    one = speed.forward_seconds(run.spec, int(settings.images), IMAGE_BATCH)
    return sum(work_units(settings).values()) * one
