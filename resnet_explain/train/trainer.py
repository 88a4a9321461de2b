"""The trainer: train a spec on an ImageSet, evaluate it.

The trainer keeps the whole data set on the device as uint8 and normalises each batch there (no
DataLoader, no host->device copy per step). On CUDA it also uses bf16 autocast, channels_last and,
optionally, ``torch.compile``. Schedules and options: :mod:`resnet_explain.train.config`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data import ImageSet, Normalizer
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..seeding import sub_seed
from ..spec import NetSpec, SpecError, check_budget
from .config import HISTORY_COLUMNS, WARMUP_WINDOW, TrainConfig, lr_at, steps_total
from .graphs import GraphedStep, apply_augment, draw_augment, graphed_epoch
from .snapshots import GradSnapshots, empty_grads
from .step_history import StepCurve, empty_steps, frame


@dataclass
class TrainResult:
    history: pd.DataFrame  # one row per finished epoch, HISTORY_COLUMNS
    model: nn.Module  # the trained model (the uncompiled module, on the training device)
    normalizer: Normalizer
    meta: dict = field(default_factory=dict)  # device, torch, seconds, stopped, params, config
    grads: pd.DataFrame = field(default_factory=empty_grads)  # snapshots.GRAD_COLUMNS: one row
    # per (snapshot step, block) when config.snapshot_every > 0 (see train/snapshots.py)
    steps: pd.DataFrame = field(default_factory=empty_steps)  # step_history.STEP_COLUMNS: the
    # running training loss and error per window of config.curve_every steps (0: none)


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random crop from the 4-pixel zero-padded image and random horizontal flip, per example
    (He et al. 2015 sec. 4.2), drawn from ``g`` (:mod:`.graphs` holds the draws and the gathers)."""
    return apply_augment(x, *draw_augment(x.shape[0], g))


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has AMX tiles (Intel Sapphire Rapids and later): there oneDNN runs bf16
    convolutions about twice as fast as float32 (measured: ResNet-20, 1 thread, 159 -> 354
    images/s with bf16 autocast + channels_last). Elsewhere bf16 on a CPU is slower."""
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def _use(flag: str, dev: torch.device) -> bool:
    """"auto" = on for CUDA, and for a CPU with fast bf16 (AMX)."""
    if flag in ("on", "bf16"):
        return True
    if flag == "auto":
        return dev.type == "cuda" or (dev.type == "cpu" and cpu_has_fast_bf16())
    return False


def precision(config: TrainConfig, dev: torch.device) -> tuple[bool, bool]:
    """(bf16 autocast, channels_last) as the trainer will use them for ``config`` on ``dev``:
    the one place "auto" is resolved (it changes the numbers, so runs.py makes the resolved values
    part of a run's identity)."""
    return _use(config.amp, dev) and dev.type in ("cuda", "cpu"), _use(config.channels_last, dev)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet, normalizer: Normalizer, device=None,
             batch_size: int = 1024, amp: bool | None = None) -> tuple[float, float]:
    """(error, mean loss) of ``model`` in eval mode on ``data``. Restores the model's mode."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    amp = _use("auto", dev) if amp is None else amp
    was_training = model.training
    model.eval()
    wrong = torch.zeros((), device=dev)
    loss = torch.zeros((), device=dev, dtype=torch.float64)
    scale, shift = normalizer.tensors(dev)
    try:
        for start in range(0, len(data), batch_size):
            xb = data.x[start:start + batch_size].to(dev, non_blocking=True).float() * scale - shift
            yb = data.y[start:start + batch_size].to(dev, non_blocking=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                out = model(xb)
            wrong = wrong + (out.argmax(1) != yb).sum()
            loss = loss + F.cross_entropy(out.float(), yb, reduction="sum").double()
    finally:
        model.train(was_training)
    n = max(1, len(data))
    return float(wrong) / n, float(loss) / n


@contextmanager
def _noise_rng(seed: int, dev: torch.device):
    """The global generator (and the CUDA device's), forked and seeded from ``seed``: the random
    numbers the model itself draws in training (DropPath's masks, the dropout shortcut) are then
    the same for the same seed, whatever the caller drew before."""
    devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(sub_seed(seed, "noise"))
        yield


def train(spec: NetSpec, train_set: ImageSet, test_set: ImageSet | None = None,
          config: TrainConfig = TrainConfig(),
          progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          step_progress: Callable[[int, int], None] | None = None,
          model: nn.Module | None = None) -> TrainResult:
    """Train ``spec`` (or ``model``) on ``train_set``; evaluate on ``test_set`` after each epoch.

    ``progress(record)`` gets each finished epoch's record (a dict of HISTORY_COLUMNS);
    ``should_stop()`` is polled every ``config.check_every`` steps and, when it returns True, the
    run ends at once (the unfinished epoch is not recorded; ``meta["stopped"]`` is True);
    ``step_progress(done, total)`` reports steps. ``train_error`` is the running error of the
    epoch's own mini-batches in train mode (as the curves in He et al. fig. 1/6); use
    :func:`evaluate` for an eval-mode error on the training set.

    With ``config.curve_every`` = K > 0 the same running loss and error are also kept per window
    of K steps (``TrainResult.steps``, :mod:`.step_history`; finished epochs only, as the history).
    With ``config.snapshot_every`` = K > 0 every K-th step (0, K, 2K, ...) also records per-block
    gradient, weight and update norms from that step's own forward and backward
    (:mod:`.snapshots`, in ``TrainResult.grads``; the snapshots of a stopped epoch are kept).

    The random numbers the network draws in training (stochastic depth, the dropout shortcut) come
    from a generator seeded by ``config.seed`` too: a run is reproducible for its seed.
    """
    if spec.family == "transformer":  # token windows, next-token loss: train/lm_trainer.py
        # lazy: lm_trainer imports this module (TrainResult, precision)
        from .lm_trainer import train_lm

        return train_lm(spec, train_set, test_set, config, progress, should_stop, step_progress, model)
    _check(spec, train_set, config)
    r = _prepare(spec, train_set, config, model)
    records: list[dict] = []
    step_rows: list[dict] = []
    stopped = False
    step = 0
    t_all = time.perf_counter()
    # Dropout and stochastic depth draw from the global generator: seed it from config.seed
    # (a fork, so the caller's generator is left as it was), so a run is reproducible.
    with _noise_rng(config.seed, r.dev):
        for epoch in range(1, config.epochs + 1):
            synchronize(r.dev)
            t0 = time.perf_counter()
            start = step
            step, loss_sum, wrong, stopped = _train_epoch(r, config, epoch, step, should_stop,
                                                          step_progress)
            if stopped or step == start:
                break
            synchronize(r.dev)
            train_s = time.perf_counter() - t0
            test_err = float("nan")
            if test_set is not None and len(test_set):
                test_err, _ = evaluate(r.net, test_set, r.normalizer, r.dev, config.eval_batch_size,
                                       r.use_amp)
            seen = (step - start) * r.bs  # fewer than an epoch's when max_steps ends it
            rec = {"epoch": epoch, "train_loss": float(loss_sum) / (step - start),
                   "train_error": float(wrong) / seen, "test_error": test_err,
                   "seconds": time.perf_counter() - t0, "images_per_s": seen / train_s,
                   "lr": config.warmup_lr if r.warming else lr_at(config, step - 1, r.total)}
            records.append(rec)
            if r.curve is not None:
                step_rows += r.curve.rows(epoch, start, step - start)[0]
            if progress is not None:
                progress(dict(rec))
            if step >= r.total:
                break
    return _result(r, spec, config, records, test_set, stopped, step, t_all, step_rows)


@dataclass
class _Prepared:
    """What one training run works with, set up before its first step."""

    choice: object  # device.DeviceChoice
    dev: torch.device
    use_amp: bool
    use_cl: bool
    net: nn.Module
    fwd: Callable  # net, or its torch.compile'd form
    normalizer: Normalizer
    scale: torch.Tensor
    shift: torch.Tensor
    x_all: torch.Tensor  # the training images on the device (uint8)
    y_all: torch.Tensor
    n: int
    bs: int
    steps_per_epoch: int
    total: int
    opt: torch.optim.Optimizer
    g: torch.Generator  # batch order and augmentation
    snaps: GradSnapshots | None
    setup_s: float
    graphed: GraphedStep | None = None  # compile="graphs" (train/graphs.py)
    warming: bool = False  # in a constant warm-up (config.warmup_lr) still
    window_wrong: torch.Tensor | None = None  # wrong answers in the warm-up's current window
    warmup_steps: int = 0  # iterations the constant warm-up lasted
    curve: StepCurve | None = None  # the per-step curve's device buffers (config.curve_every)


def _check(spec: NetSpec, train_set: ImageSet, config: TrainConfig) -> None:
    """Refuse (TrainError / SpecError) what the trainer cannot train, before anything is built."""
    config.validate()
    if spec.family != "cnn":
        raise SpecError("family", "the trainer trains image (cnn) networks and language models "
                                  "(transformer)")
    if train_set.x.shape[1:] != spec.input_shape(1)[1:]:
        raise SpecError("in_size", f"the network expects inputs {tuple(spec.input_shape(1)[1:])}, "
                                   f"the data are {tuple(train_set.x.shape[1:])}")
    if int(train_set.y.max()) >= spec.classes:
        raise SpecError("classes", f"the data have {int(train_set.y.max()) + 1} classes, "
                                   f"the network {spec.classes} outputs")
    if config.max_memory_bytes is not None:
        check_budget(spec, config.batch_size, config.max_memory_bytes)


def _prepare(spec: NetSpec, train_set: ImageSet, config: TrainConfig,
             model: nn.Module | None) -> _Prepared:
    """Device, precision, the model (compiled when asked), the data on the device, the optimizer,
    the batch generator and the snapshot recorder."""
    choice = choose_device(config.device)
    dev = choice.device
    use_amp, use_cl = precision(config, dev)
    t_setup = time.perf_counter()

    net = model if model is not None else build_model(spec, seed=config.seed)
    net = net.to(dev)
    if use_cl:
        net = net.to(memory_format=torch.channels_last)
    net.train()
    if config.compile and config.compile != "graphs":
        mode = config.compile if isinstance(config.compile, str) else None
        fwd = torch.compile(net, mode=mode)
    else:
        fwd = net
    normalizer = Normalizer.of(train_set)
    scale, shift = normalizer.tensors(dev)
    # Data resident on the device as uint8 (a quarter of float32's memory); batches are
    # gathered and normalised there.
    x_all = train_set.x.to(dev)
    y_all = train_set.y.to(dev)
    n = len(train_set)
    bs = min(config.batch_size, n)
    steps_per_epoch = n // bs  # drop the ragged last batch: every step has the same shape
    opt = _optimizer(net, config, dev.type == "cuda")
    # Batch order and augmentation: their own seeded generator (CPU, then indices go to device).
    g = torch.Generator().manual_seed(sub_seed(config.seed, "batches"))
    snaps = GradSnapshots(net, config.snapshot_every) if config.snapshot_every else None
    r = _Prepared(choice, dev, use_amp, use_cl, net, fwd, normalizer, scale, shift, x_all, y_all,
                  n, bs, steps_per_epoch, steps_total(config, steps_per_epoch), opt, g, snaps,
                  time.perf_counter() - t_setup, warming=config.warmup_lr > 0,
                  curve=(StepCurve(config.curve_every, steps_per_epoch, bs, dev)
                         if config.curve_every else None))
    # The graphed step runs whole epochs at the schedule's lr: snapshot hooks, a constant warm-up
    # and a mid-epoch stop (max_steps) need the eager step.
    if config.compile == "graphs" and snaps is None and not config.warmup_lr and not config.max_steps:
        r.graphed = GraphedStep(r, config)
    return r


def _optimizer(net: nn.Module, config: TrainConfig, cuda: bool) -> torch.optim.Optimizer:
    """SGD with momentum: fused on CUDA, foreach elsewhere (plain where fused is unavailable)."""
    opt_kw = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                  nesterov=config.nesterov)
    if cuda:
        opt_kw["fused"] = True
    else:
        opt_kw["foreach"] = True
    try:
        return torch.optim.SGD(net.parameters(), **opt_kw)
    except (TypeError, RuntimeError):
        opt_kw.pop("fused", None)
        return torch.optim.SGD(net.parameters(), **opt_kw)


def _train_epoch(r: _Prepared, config: TrainConfig, epoch: int, step: int, should_stop,
                 step_progress) -> tuple[int, torch.Tensor, torch.Tensor, bool]:
    """One epoch's steps: (steps done so far, summed loss, wrong answers, stopped). A stop asked
    for ends the epoch at once (``should_stop()`` polled every ``config.check_every`` steps)."""
    if r.graphed is not None:
        return graphed_epoch(r, config, step, should_stop, step_progress)
    dev, bs, snaps, net, fwd, opt = r.dev, r.bs, r.snaps, r.net, r.fwd, r.opt
    perm = torch.randperm(r.n, generator=r.g)[: r.steps_per_epoch * bs].to(dev)
    loss_sum = torch.zeros((), device=dev)
    wrong = torch.zeros((), device=dev)
    for i in range(r.steps_per_epoch):
        if step >= r.total:
            break
        if should_stop is not None and step % config.check_every == 0 and should_stop():
            return step, loss_sum, wrong, True
        idx = perm[i * bs:(i + 1) * bs]
        xb = r.x_all.index_select(0, idx).float() * r.scale - r.shift
        yb = r.y_all.index_select(0, idx)
        if config.augment:
            xb = _augment(xb, r.g)
        if r.use_cl:
            xb = xb.contiguous(memory_format=torch.channels_last)
        lr = config.warmup_lr if r.warming else lr_at(config, step, r.total)
        for group in opt.param_groups:
            group["lr"] = lr
        # A snapshot step hooks the block outputs; a compiled graph would not see the hooks,
        # so that step runs the eager module (same weights).
        snap = snaps is not None and snaps.start(step, epoch)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=r.use_amp):
            out = (net if snap else fwd)(xb)
            loss = F.cross_entropy(out.float(), yb, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if snap:
            snaps.before_update()
        opt.step()
        if snap:
            snaps.after_update()
        # Accumulate on the device: no host sync per step.
        loss_sum = loss_sum + loss.detach()
        batch_wrong = (out.detach().argmax(1) != yb).sum()
        wrong = wrong + batch_wrong
        if r.curve is not None:  # device writes; copied to the host once per epoch
            r.curve.record(i, loss.detach(), batch_wrong)
        step += 1
        if r.warming:
            _warmup_check(r, config, step, batch_wrong)
        if step_progress is not None:
            step_progress(step, r.total)
    return step, loss_sum, wrong, False


def _warmup_check(r: _Prepared, config: TrainConfig, step: int, batch_wrong: torch.Tensor) -> None:
    """End the constant warm-up once the running training error of the last WARMUP_WINDOW steps
    is below ``config.warmup_until`` (one host sync per window, none per step)."""
    r.window_wrong = batch_wrong if r.window_wrong is None else r.window_wrong + batch_wrong
    if step % WARMUP_WINDOW == 0:
        if float(r.window_wrong) / (WARMUP_WINDOW * r.bs) < config.warmup_until:
            r.warming, r.warmup_steps = False, step
        r.window_wrong = None


def _result(r: _Prepared, spec: NetSpec, config: TrainConfig, records: list[dict],
            test_set: ImageSet | None, stopped: bool, step: int, t_all: float,
            step_rows: list[dict]) -> TrainResult:
    """The history, the model (contiguous again), its meta, the snapshots and the step curve."""
    history = pd.DataFrame(records, columns=HISTORY_COLUMNS)
    meta = {**describe(r.dev), "device_note": r.choice.note, "seconds": time.perf_counter() - t_all,
            "setup_seconds": r.setup_s, "stopped": stopped, "steps": step,
            "warmup_steps": step if r.warming else r.warmup_steps,
            "params": sum(p.numel() for p in r.net.parameters()), "spec": spec.to_query(),
            "n_train": r.n, "n_test": len(test_set) if test_set is not None else 0,
            "amp": "bf16" if r.use_amp else "off", "channels_last": r.use_cl,
            "graphed": r.graphed is not None and r.graphed.graph is not None,
            "config": asdict(config)}
    if r.graphed is not None and r.graphed.capture_error:
        meta["graph_error"] = r.graphed.capture_error
    net = r.net
    if r.use_cl:  # hand back an ordinary (contiguous) model: hooks and checkpoints expect it
        net = net.to(memory_format=torch.contiguous_format)
    grads = r.snaps.frame() if r.snaps is not None else empty_grads()
    return TrainResult(history, net, r.normalizer, meta, grads, frame(step_rows))
