"""How long will long work take here, before it starts: THE estimator of every page and the CLI.

One measurement of this host (:func:`measure_host`), made once per host — per device type and
thread count (:func:`host_key`), never per request or per minute — and every estimate is
arithmetic on it: a training step, a forward pass, making the generated images, for any network.

Why a line in layers and FLOPs, not FLOPs alone: on a CPU a small network's step is dominated by
the fixed cost of each layer's kernels, a wide one's by its multiply-adds. A ResNet-20 of width 8
(16×16 images, batch 32) took 62 ms a step here and one of width 16 (4× the FLOPs) 146 ms, not
4 × 62 (scripts in the est helper's note, 2 cores under load). So the host is timed on two
networks of the same depth and different width, and a step costs
``calls × layers × per_layer + FLOPs × per_flop`` (:class:`Line`), which serves every network:
one measurement, scaled by each network's layers and FLOPs counted from its spec.

Robust by construction: the two networks' steps are timed in turns (a burst of another process's
work lands on both, not on one), each timing is the fastest of a few steps after one warm step
(the first pays for allocation; Python's ``timeit`` keeps the minimum for the same reason: slower
repeats are other processes' interference, not this host's speed), a line that noise tilts the
wrong way is measured again (up to MEASURE_TRIES), and the caller measures on an idle compute slot (the app: ui.long_job.host_speed
holds the warm-up back and takes the compute slot first), so a busy minute does not become every
visitor's estimate. Rough by design: it is a line, not a profile.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import make_shapes
from ..device import choose_device, synchronize
from ..model import build_model
from ..seeding import global_rng
from ..spec import NetSpec, cifar_resnet, estimate_cost
from .config import steps_total

REFERENCE_DEPTH = 20  # He et al.'s ResNet-20, the app's default network's depth
REFERENCE_WIDTHS = (8, 16)  # same layers, 4x the FLOPs: separates the two costs of a step
REFERENCE_SIZE = 16  # the CPU budgets' image side
TRAIN_BATCH, FORWARD_BATCH = 32, 128
TIMED_STEPS = 5  # timed after one warm step; the fastest is kept
MEASURE_TRIES = 3  # a line that noise tilted (Line.valid is False) is measured again, this often
DATA_IMAGES = 64  # generated images timed to price the shapes task
SNAPSHOT_COST = 0.5  # a snapshot step's extra hooks and host copy, in training steps (rough)


@dataclass(frozen=True)
class Line:
    """Seconds of ``calls`` passes of a network: ``calls × layers × per_layer + flops × per_flop``
    (``flops``: every multiply-add of all the calls together, 2 per multiply-add)."""

    per_layer: float  # seconds per layer per call: the kernels' fixed cost
    per_flop: float  # seconds per FLOP

    def seconds(self, layers: int, flops: float, calls: float = 1.0) -> float:
        return float(calls * layers * self.per_layer + flops * self.per_flop)

    @staticmethod
    def valid(small: tuple[float, float], large: tuple[float, float]) -> bool:
        """Whether two timings (flops, seconds) make a line with positive costs: the larger
        network slower, and by at most its FLOPs' ratio (else noise tilted them)."""
        (f1, t1), (f2, t2) = small, large
        return f2 > f1 and t1 < t2 <= t1 * f2 / f1

    @classmethod
    def through(cls, layers: int, small: tuple[float, float], large: tuple[float, float]) -> Line:
        """The line through two timings (flops, seconds) of networks with ``layers`` layers. Noise
        that tilts it the wrong way (a negative cost) falls back to FLOPs alone at the slower
        rate, which over-estimates rather than under."""
        (f1, t1), (f2, t2) = small, large
        per_flop = (t2 - t1) / (f2 - f1) if f2 > f1 else 0.0
        per_layer = (t1 - f1 * per_flop) / layers
        if per_flop <= 0 or per_layer < 0:
            return cls(0.0, max(t1 / f1, t2 / f2))
        return cls(per_layer, per_flop)


@dataclass(frozen=True)
class HostSpeed:
    """This host's speed: what :func:`measure_host` found (see the module's docstring)."""

    key: tuple[str, int]  # (device type, threads): :func:`host_key`
    train: Line  # one training step: forward, backward, SGD update
    forward: Line  # one eval-mode forward pass, no gradient
    data_per_pixel: float  # seconds to generate one pixel of the shapes task (one image: side²)

    def train_step(self, spec: NetSpec, batch: int) -> float:
        """Seconds of one training step of ``spec`` on ``batch`` examples."""
        return self.train.seconds(spec.depth, estimate_cost(spec).flops * batch)

    def forward_seconds(self, spec: NetSpec, images: int, batch: int = 1024) -> float:
        """Seconds of a forward pass of ``spec`` over ``images`` examples in batches of ``batch``."""
        calls = math.ceil(max(int(images), 0) / max(int(batch), 1))
        return self.forward.seconds(spec.depth, estimate_cost(spec).flops * images, calls)

    def data_seconds(self, images: int, size: int) -> float:
        """Seconds to generate ``images`` shapes of ``size``×``size``."""
        return float(images) * size * size * self.data_per_pixel

    def run_seconds(self, request) -> float:
        """Seconds to train ``request`` (a :class:`~.runs.RunRequest`): its training steps (with
        the snapshot steps' hooks), a forward pass over the test images each epoch and over the
        training images at the end, and making its images when they are generated. A language
        model's: :meth:`lm_run_seconds`."""
        spec, cfg, d = request.netspec, request.config, request.data
        if spec.family == "transformer":
            return self.lm_run_seconds(request)
        bs = min(cfg.batch_size, d.n_train)
        steps = (d.n_train // bs) * cfg.epochs
        if cfg.max_steps:
            steps = min(steps, cfg.max_steps)
        if cfg.snapshot_every:
            steps += SNAPSHOT_COST * math.ceil(steps / cfg.snapshot_every)
        evals = self.forward_seconds(spec, d.n_test * cfg.epochs + d.n_train, cfg.eval_batch_size)
        generated = getattr(d, "kind", "") == "shapes"  # CIFAR-10 is read from disk: ~free
        data = self.data_seconds(d.n_train + d.n_test, d.size) if generated else 0.0
        return float(steps * self.train_step(spec, bs) + evals + data)


    def lm_run_seconds(self, request) -> float:
        """Seconds to train a language model's ``request`` (:mod:`.lm_trainer`): its training steps
        (``max_steps``, or the epochs over the corpus's windows), the validation rows (EVAL_WINDOWS
        windows at step 0 and every ``eval_every`` steps) and the final losses (LM_TRAIN_WINDOWS
        training windows and the whole validation split), each a forward pass per window."""
        from .lm_trainer import EVAL_WINDOWS  # lazy: lm_trainer imports the trainer, which is heavy
        from .runs import LM_TRAIN_WINDOWS

        spec, cfg, d = request.netspec, request.config, request.data
        steps = lm_steps(request)
        every = cfg.eval_every or steps
        rows = 1 + math.ceil(steps / max(1, every))
        windows = rows * min(EVAL_WINDOWS, d.n_val) + LM_TRAIN_WINDOWS + d.n_val
        evals = self.forward_seconds(spec, windows, 64)  # evaluate_lm's batch of 64 windows
        return float(steps * self.train_step(spec, cfg.batch_size) + evals)


def lm_steps(request) -> int:
    """Training steps of a language model's run (:func:`~.config.steps_total`): ``max_steps``, or
    the epochs over the recipe's training windows when they end it first (the corpus's windows are
    counted from its bytes, read once per process)."""
    cfg, d = request.config, request.data
    n = d.n_train if d.kind == "sort" else len(d.load()[0])
    return int(steps_total(cfg, max(1, n // max(1, min(cfg.batch_size, n)))))


def host_key(device: str = "auto") -> tuple[str, int]:
    """What a measurement is kept under: the device type it ran on and torch's thread count."""
    return choose_device(device).device.type, int(torch.get_num_threads())


def _fastest_seconds(steps: Sequence[Callable[[], None]], dev: torch.device, repeats: int) -> list[float]:
    """The fastest of ``repeats`` timings of each of ``steps``, timed in turns after one warm call
    of each (the first pays for allocation)."""
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats + 1):
        for i, step in enumerate(steps):
            synchronize(dev)
            t = time.perf_counter()
            step()
            synchronize(dev)
            times[i].append(time.perf_counter() - t)
    return [float(min(ts[1:])) for ts in times]


def _steps(spec: NetSpec, dev: torch.device) -> tuple[Callable[[], None], Callable[[], None]]:
    """(a training step at TRAIN_BATCH, an eval forward pass at FORWARD_BATCH) of ``spec``."""
    g = torch.Generator().manual_seed(0)
    side = spec.in_size
    x = torch.randn(FORWARD_BATCH, 3, side, side, generator=g).to(dev)
    y = torch.randint(0, spec.classes, (FORWARD_BATCH,), generator=g).to(dev)
    model = build_model(spec, seed=0).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=dev.type != "mps")

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[:TRAIN_BATCH]), y[:TRAIN_BATCH]).backward()
        opt.step()

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)

    return train_step, forward


def measure_host(device: str = "auto", steps: int = TIMED_STEPS) -> HostSpeed:
    """Time this host now: a training step and a forward pass of ResNet-20 at widths 8 and 16
    (16×16 images; the fastest of ``steps`` after a warm one, the four timed in turns), and
    generating a few shapes. About 1 s on an idle 2-core CPU (up to MEASURE_TRIES times that when
    noise tilts the line). Global random state is left as it was."""
    dev = choose_device(device).device
    nets = [cifar_resnet(REFERENCE_DEPTH, width=w, in_size=REFERENCE_SIZE) for w in REFERENCE_WIDTHS]
    flops = [estimate_cost(n).flops for n in nets]
    with global_rng():  # one thread at a time: seeding.global_rng
        (tr_small, fw_small), (tr_large, fw_large) = (_steps(n, dev) for n in nets)
        for _ in range(MEASURE_TRIES):
            tr1, tr2, fw1, fw2 = _fastest_seconds((tr_small, tr_large, fw_small, fw_large), dev, steps)
            if Line.valid((flops[0], tr1), (flops[1], tr2)) and Line.valid((flops[0], fw1), (flops[1], fw2)):
                break
        t = time.perf_counter()
        make_shapes(DATA_IMAGES, seed=0, size=REFERENCE_SIZE, difficulty=0.05)
        data_s = time.perf_counter() - t
    layers, (f1, f2) = nets[0].depth, flops
    train = Line.through(layers, (f1 * TRAIN_BATCH, tr1), (f2 * TRAIN_BATCH, tr2))
    forward = Line.through(layers, (f1 * FORWARD_BATCH, fw1), (f2 * FORWARD_BATCH, fw2))
    return HostSpeed((dev.type, int(torch.get_num_threads())), train, forward,
                     data_s / (DATA_IMAGES * REFERENCE_SIZE**2))


_SPEEDS: dict[tuple[str, int], HostSpeed] = {}  # one measurement per host, for the process
_MEASURING = threading.Lock()  # one measurement at a time: the others wait for it and share it


def known_speed(device: str = "auto") -> HostSpeed | None:
    """This host's measurement when it has been made (nothing runs)."""
    return _SPEEDS.get(host_key(device))


def host_speed(device: str = "auto", measure: Callable[[str], HostSpeed] = measure_host) -> HostSpeed:
    """This host's speed, measured the first time it is asked for and kept for the process.
    Measure on an idle host (the app holds its warm-up back and takes the compute slot)."""
    key = host_key(device)
    if (hit := _SPEEDS.get(key)) is not None:
        return hit
    with _MEASURING:
        if key not in _SPEEDS:
            _SPEEDS[key] = measure(device)
        return _SPEEDS[key]


def estimate_run_seconds(request, speed: HostSpeed | None = None) -> float:
    """Rough seconds to train ``request`` (a :class:`~.runs.RunRequest`) on this host:
    :meth:`HostSpeed.run_seconds` at ``speed`` (default: :func:`host_speed` of the request's
    device)."""
    speed = speed or host_speed(request.config.device)
    return speed.run_seconds(request)


def estimate_requests_seconds(requests: Sequence, speed: HostSpeed | None = None) -> float:
    """Rough seconds to train every run of ``requests`` one after another."""
    return float(sum(estimate_run_seconds(r, speed) for r in requests))
