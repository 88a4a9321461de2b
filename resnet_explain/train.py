"""The trainer, a naive reference loop, checkpoints, and He et al.'s degradation experiment.

Degradation (He et al. 2015, arXiv 1512.03385, sec. 4.2 and fig. 6): on CIFAR-10 a 56-layer
*plain* net has higher *training* error than a 20-layer one, so the problem is optimisation, not
overfitting; with identity shortcuts ResNet-56 trains at least as well as ResNet-20. Here the same
comparison runs on any data set from :mod:`resnet_explain.data`, with the same budget for every
network, and reports what it measured (``hypothesis`` in the result says whether the numbers agree).

The trainer keeps the whole data set on the device as uint8 and normalises each batch there (no
DataLoader, no host->device copy per step). On CUDA it also uses bf16 autocast, channels_last and,
optionally, ``torch.compile``. SGD with momentum 0.9 and weight decay, as He et al.; the default
schedule is one-cycle (Smith & Topin 2017, arXiv 1708.07120: linear warm-up then linear decay to
zero), which reaches a given error in far fewer epochs than He et al.'s step schedule (lr 0.1,
divided by 10 at 50 % and 75 % of training), which is available as ``schedule="step"``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .data import ImageSet, shapes_train_test, sub_seed
from .device import choose_device, describe, synchronize
from .model import Net, build_model
from .spec import NetSpec, SpecError, check_budget, cifar_resnet

SCHEDULES = ("onecycle", "step", "constant")
HISTORY_COLUMNS = ["epoch", "train_loss", "train_error", "test_error", "seconds", "images_per_s",
                   "lr"]


class TrainError(ValueError):
    """A training request that cannot be honoured (bad option)."""


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 6
    batch_size: int = 128  # He et al. used 128 (on two GPUs)
    lr: float = 0.1  # peak learning rate (He et al.: 0.1 at batch 128)
    momentum: float = 0.9  # He et al.
    weight_decay: float = 1e-4  # He et al. (CIFAR)
    schedule: str = "onecycle"  # "onecycle", "step" (He et al.) or "constant"
    warmup: float = 0.15  # one-cycle: fraction of steps spent rising linearly to ``lr``
    nesterov: bool = False
    label_smoothing: float = 0.0
    augment: bool = False  # random 4-pixel-padded crop + horizontal flip (He et al., for CIFAR)
    seed: int = 0  # model initialisation and batch order
    device: str = "auto"
    amp: str = "auto"  # "auto" = bf16 autocast on CUDA and on AMX CPUs; "off"; "bf16"
    channels_last: str = "auto"  # "auto" = on CUDA and on AMX CPUs; "on"; "off"
    compile: bool | str = False  # torch.compile the model: True, or a mode such as
    # "reduce-overhead" (CUDA graphs) or "max-autotune"; the first epoch pays for compiling
    eval_batch_size: int = 1024
    check_every: int = 1  # steps between should_stop() calls
    max_memory_bytes: int | None = None  # refuse (SpecError "budget") before allocating if the
    # cost estimate of a training step exceeds this (the app sets it; None = no limit)

    def validate(self) -> "TrainConfig":
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 10_000):
            raise TrainError(f"epochs must be a whole number from 1 to 10000, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 65_536):
            raise TrainError(f"batch_size must be from 1 to 65536, got {self.batch_size!r}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise TrainError(f"lr must be a number in (0, 10], got {self.lr!r}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.amp not in ("auto", "off", "bf16"):
            raise TrainError(f"amp must be auto, off or bf16, got {self.amp!r}")
        if self.channels_last not in ("auto", "on", "off"):
            raise TrainError(f"channels_last must be auto, on or off, got {self.channels_last!r}")
        return self


def lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate for ``step`` (0-based) of ``total`` steps."""
    t = step / max(1, total)
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":  # He et al. 2015 sec. 4.2: /10 at 32k and 48k of 64k iterations
        return config.lr * (0.1 ** ((t >= 0.5) + (t >= 0.75)))
    w = config.warmup
    if t < w:  # one-cycle: linear warm-up from lr/10 ...
        return config.lr * (0.1 + 0.9 * t / w)
    return config.lr * max(0.0, (1.0 - t) / (1.0 - w))  # ... then linear decay to zero


# ---------------------------------------------------------------------------------------------
# Normalisation: travels with checkpoints so a page can feed a stored model the right input.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Normalizer:
    mean: tuple[float, ...]  # per channel, of [0, 1] images
    std: tuple[float, ...]

    @classmethod
    def of(cls, data: ImageSet) -> "Normalizer":
        m, s = data.channel_stats()
        return cls(tuple(m), tuple(s))

    def tensors(self, device, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift), each (1, C, 1, 1), so that normalised = uint8 * scale - shift. Made
        once per run: building them per batch on CUDA would be a blocking host->device copy."""
        c = len(self.mean)
        scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], dtype=dtype).view(1, c, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(self.mean, self.std)], dtype=dtype).view(1, c, 1, 1)
        return scale.to(device), shift.to(device)

    def __call__(self, x_uint8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        """uint8 (N, C, H, W) -> normalised float."""
        scale, shift = self.tensors(x_uint8.device, dtype)
        return x_uint8.to(dtype) * scale - shift


# ---------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    history: pd.DataFrame  # one row per finished epoch, HISTORY_COLUMNS
    model: nn.Module  # the trained model (the uncompiled module, on the training device)
    normalizer: Normalizer
    meta: dict = field(default_factory=dict)  # device, torch, seconds, stopped, params, config


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random crop from the 4-pixel zero-padded image and random horizontal flip, per example,
    on the device (He et al. 2015 sec. 4.2, following Lee et al. 2015)."""
    n, c, h, w = x.shape
    pad = F.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=g).to(x.device)
    dy = torch.randint(0, 9, (n,), generator=g).to(x.device)
    flip = (torch.rand(n, generator=g) < 0.5).to(x.device)
    cols = torch.arange(w, device=x.device).view(1, w) + dx.view(n, 1)
    cols = torch.where(flip.view(n, 1), dx.view(n, 1) + (w - 1) - torch.arange(w, device=x.device).view(1, w), cols)
    rows = torch.arange(h, device=x.device).view(1, h) + dy.view(n, 1)
    pad = pad.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 8))
    return pad.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


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
    """
    config.validate()
    if spec.family != "cnn":
        raise SpecError("family", "the trainer trains image (cnn) networks")
    if train_set.x.shape[1:] != spec.input_shape(1)[1:]:
        raise SpecError("in_size", f"the network expects inputs {tuple(spec.input_shape(1)[1:])}, "
                                   f"the data are {tuple(train_set.x.shape[1:])}")
    if int(train_set.y.max()) >= spec.classes:
        raise SpecError("classes", f"the data have {int(train_set.y.max()) + 1} classes, "
                                   f"the network {spec.classes} outputs")
    if config.max_memory_bytes is not None:
        check_budget(spec, config.batch_size, config.max_memory_bytes)
    choice = choose_device(config.device)
    dev = choice.device
    cuda = dev.type == "cuda"
    use_amp = _use(config.amp, dev) and dev.type in ("cuda", "cpu")
    use_cl = _use(config.channels_last, dev)
    t_setup = time.perf_counter()

    net = model if model is not None else build_model(spec, seed=config.seed)
    net = net.to(dev)
    if use_cl:
        net = net.to(memory_format=torch.channels_last)
    net.train()
    if config.compile:
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
    total = steps_per_epoch * config.epochs

    opt_kw = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                  nesterov=config.nesterov)
    if cuda:
        opt_kw["fused"] = True
    else:
        opt_kw["foreach"] = True
    try:
        opt = torch.optim.SGD(net.parameters(), **opt_kw)
    except (TypeError, RuntimeError):
        opt_kw.pop("fused", None)
        opt = torch.optim.SGD(net.parameters(), **opt_kw)
    # Batch order and augmentation: their own seeded generator (CPU, then indices go to device).
    g = torch.Generator().manual_seed(sub_seed(config.seed, "batches"))

    records: list[dict] = []
    stopped = False
    step = 0
    setup_s = time.perf_counter() - t_setup
    t_all = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        synchronize(dev)
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g)[: steps_per_epoch * bs].to(dev)
        loss_sum = torch.zeros((), device=dev)
        wrong = torch.zeros((), device=dev)
        for i in range(steps_per_epoch):
            if should_stop is not None and step % config.check_every == 0 and should_stop():
                stopped = True
                break
            idx = perm[i * bs:(i + 1) * bs]
            xb = x_all.index_select(0, idx).float() * scale - shift
            yb = y_all.index_select(0, idx)
            if config.augment:
                xb = _augment(xb, g)
            if use_cl:
                xb = xb.contiguous(memory_format=torch.channels_last)
            lr = lr_at(config, step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                out = fwd(xb)
                loss = F.cross_entropy(out.float(), yb, label_smoothing=config.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # Accumulate on the device: no host sync per step.
            loss_sum = loss_sum + loss.detach()
            wrong = wrong + (out.detach().argmax(1) != yb).sum()
            step += 1
            if step_progress is not None:
                step_progress(step, total)
        if stopped:
            break
        synchronize(dev)
        train_s = time.perf_counter() - t0
        test_err = float("nan")
        if test_set is not None and len(test_set):
            test_err, _ = evaluate(net, test_set, normalizer, dev, config.eval_batch_size, use_amp)
        rec = {"epoch": epoch, "train_loss": float(loss_sum) / steps_per_epoch,
               "train_error": float(wrong) / (steps_per_epoch * bs), "test_error": test_err,
               "seconds": time.perf_counter() - t0, "images_per_s": steps_per_epoch * bs / train_s,
               "lr": lr_at(config, step - 1, total)}
        records.append(rec)
        if progress is not None:
            progress(dict(rec))
    history = pd.DataFrame(records, columns=HISTORY_COLUMNS)
    meta = {**describe(dev), "device_note": choice.note, "seconds": time.perf_counter() - t_all,
            "setup_seconds": setup_s, "stopped": stopped, "steps": step,
            "params": sum(p.numel() for p in net.parameters()), "spec": spec.to_query(),
            "n_train": n, "n_test": len(test_set) if test_set is not None else 0,
            "amp": "bf16" if use_amp else "off", "channels_last": use_cl,
            "config": asdict(config)}
    if use_cl:  # hand back an ordinary (contiguous) model: hooks and checkpoints expect it
        net = net.to(memory_format=torch.contiguous_format)
    return TrainResult(history, net, normalizer, meta)


def train_naive(spec: NetSpec, train_set: ImageSet, steps: int, batch_size: int = 128,
                device="auto", seed: int = 0, lr: float = 0.1) -> dict:
    """The baseline for the benchmark: the eager PyTorch loop of a first tutorial. A float32
    TensorDataset on the host, a shuffling DataLoader with batch 128, a host->device copy per
    batch, no autocast, no channels_last. Returns images/s over ``steps`` steps (after 2 warm-up
    steps)."""
    from torch.utils.data import DataLoader, TensorDataset

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


# ---------------------------------------------------------------------------------------------
# Checkpoints (state_dict + spec string + plain-data meta; loadable with weights_only=True)
# ---------------------------------------------------------------------------------------------
def save_checkpoint(model: Net, path, normalizer: Normalizer | None = None, meta: dict | None = None,
                    half: bool = False) -> Path:
    """Save a small checkpoint. ``half`` stores float16 weights (half the size; float32 again
    on load). Only tensors, strings, numbers, lists and dicts: torch.load(weights_only=True)
    reads it without running any pickled code."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu())
          for k, v in model.state_dict().items()}
    ck = {"format": "resnet-explain-checkpoint/1", "spec": model.spec.to_query(), "state_dict": sd,
          "normalizer": ({"mean": list(normalizer.mean), "std": list(normalizer.std)}
                         if normalizer else None),
          "meta": _plain(meta or {})}
    torch.save(ck, path)
    return path


def load_checkpoint(path, device=None) -> tuple[Net, Normalizer | None, dict]:
    """(model in eval mode, normalizer, meta). Always ``torch.load(..., weights_only=True)``."""
    ck = torch.load(Path(path), map_location="cpu", weights_only=True)
    spec = NetSpec.from_query(ck["spec"])
    model = build_model(spec, seed=0)
    sd = {k: (v.float() if v.dtype == torch.float16 else v) for k, v in ck["state_dict"].items()}
    model.load_state_dict(sd)
    if device is not None:
        model = model.to(device)
    nz = ck.get("normalizer")
    norm = Normalizer(tuple(nz["mean"]), tuple(nz["std"])) if nz else None
    return model.eval(), norm, ck.get("meta", {})


def _plain(obj):
    """JSON-like data only (what weights_only=True accepts and json can write)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):  # also str subclasses such as torch.__version__ (TorchVersion),
        return str(obj)  # which weights_only=True refuses to unpickle
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return str(obj)


# ---------------------------------------------------------------------------------------------
# The degradation experiment (He et al. 2015, fig. 1, fig. 6 and table 6)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    """One budget for all networks of the comparison: data, widths, depths, seeds, training."""

    name: str
    label: str  # how results must be labelled ("CPU budget", ...)
    n_train: int
    n_test: int
    size: int  # image side
    difficulty: float
    width: int  # first-stage width (He et al.: 16)
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    train: TrainConfig
    data_seed: int = 0
    note: str = ""

    def spec(self, arch: str, depth: int) -> NetSpec:
        """The network: He et al.'s CIFAR ResNet of ``depth`` (option A), or its plain twin."""
        return cifar_resnet(depth, skip=(arch == "residual"), width=self.width, in_size=self.size)

    def data(self) -> tuple[ImageSet, ImageSet]:
        return shapes_train_test(self.n_train, self.n_test, seed=self.data_seed, size=self.size,
                                 difficulty=self.difficulty)

    def with_(self, **kw) -> "Experiment":
        train_kw = {k: kw.pop(k) for k in ("epochs", "device") if k in kw and kw[k] is not None}
        kw = {k: v for k, v in kw.items() if v is not None}
        return replace(self, train=replace(self.train, **train_kw), **kw)


EXPERIMENTS: dict[str, Experiment] = {
    # Small enough for the live page on a 2-vCPU box (about a minute for one seed of 20 vs 56).
    "cpu-live": Experiment(
        name="cpu-live", label="CPU live (small: 16x16 images, width 8)", n_train=1500, n_test=1000,
        size=16, difficulty=0.05, width=8, depths=(20, 56), seeds=(0,),
        train=TrainConfig(epochs=8, batch_size=32, lr=0.05, device="cpu"),
        note="reduced for a 2-core CPU; not He et al.'s setting"),
    # What the stored assets were made with when no GPU was available (~25 min on 2 cores).
    "cpu-budget": Experiment(
        name="cpu-budget", label="CPU budget (16x16 images, width 8)", n_train=5000, n_test=2000,
        size=16, difficulty=0.1, width=8, depths=(20, 56), seeds=(0, 1, 2),
        train=TrainConfig(epochs=12, batch_size=64, lr=0.1, device="cpu"),
        note="reduced for a 2-core CPU; not He et al.'s setting"),
    # The feasibility setting measured on an H200 with a plain-PyTorch reference (see DESIGN).
    "gpu": Experiment(
        name="gpu", label="GPU (32x32 images, width 16, as He et al.'s CIFAR nets)", n_train=20000,
        n_test=5000, size=32, difficulty=0.3, width=16, depths=(20, 56, 110), seeds=(0, 1, 2),
        train=TrainConfig(epochs=6, batch_size=128, lr=0.1, device="auto")),
}


@dataclass
class DegradationResult:
    curves: pd.DataFrame  # arch, depth, seed, epoch + HISTORY_COLUMNS: one row per epoch per run
    runs: pd.DataFrame  # arch, depth, seed, final train_error (eval mode), test_error, seconds...
    table: pd.DataFrame  # arch, depth, train_error, test_error (means), *_std, *_min/max, seeds
    meta: dict
    hypothesis: list[dict]
    models: dict = field(default_factory=dict)  # (arch, depth, seed) -> (model, normalizer)

    def to_json(self) -> dict:
        rows = [_plain(r) for r in self.table.to_dict("records")]
        return {"rows": rows, "runs": [_plain(r) for r in self.runs.to_dict("records")],
                "curves": [_plain(r) for r in self.curves.to_dict("records")],
                "hypothesis": _plain(self.hypothesis), "meta": _plain(self.meta)}


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, depth): mean, std (over seeds, ddof=1 where 2+), min, max, seed list."""
    out = []
    for (arch, depth), g in runs.groupby(["arch", "depth"], sort=True):
        r = {"arch": arch, "depth": int(depth)}
        for col in ("train_error", "test_error"):
            v = g[col].to_numpy(dtype=float)
            r[col] = float(np.mean(v))
            r[f"{col}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            r[f"{col}_min"] = float(np.min(v))
            r[f"{col}_max"] = float(np.max(v))
        r["seeds"] = [int(s) for s in g["seed"]]
        r["seconds"] = float(g["seconds"].mean())
        r["params"] = int(g["params"].iloc[0])
        out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df["arch"] = pd.Categorical(df["arch"], ["plain", "residual"])
        df = df.sort_values(["arch", "depth"]).reset_index(drop=True)
        df["arch"] = df["arch"].astype(str)
    return df


def check_hypothesis(table: pd.DataFrame) -> list[dict]:
    """He et al.'s three claims, checked on the measured means (and whether the seed ranges
    overlap, so a reader sees when a difference is within seed-to-seed spread)."""
    def row(arch, depth):
        m = table[(table["arch"] == arch) & (table["depth"] == depth)]
        return None if m.empty else m.iloc[0]

    depths = sorted(set(int(d) for d in table["depth"])) if len(table) else []
    out = []
    if len(depths) < 2:
        return out
    lo, hi = depths[0], depths[-1]
    claims = [
        (f"plain-{hi} trains worse than plain-{lo} (degradation)", ("plain", hi), ("plain", lo), ">"),
        (f"residual-{hi} trains at least as well as residual-{lo}", ("residual", hi), ("residual", lo), "<="),
        (f"residual-{hi} trains better than plain-{hi}", ("residual", hi), ("plain", hi), "<"),
    ]
    for text, a, b, op in claims:
        ra, rb = row(*a), row(*b)
        if ra is None or rb is None:
            continue
        x, y = float(ra["train_error"]), float(rb["train_error"])
        holds = {">": x > y, "<=": x <= y, "<": x < y}[op]
        overlap = not (ra["train_error_min"] > rb["train_error_max"]
                       or ra["train_error_max"] < rb["train_error_min"])
        out.append({"claim": text, "a": f"{a[0]}-{a[1]}", "b": f"{b[0]}-{b[1]}",
                    "a_train_error": x, "b_train_error": y, "holds": bool(holds),
                    "seed_ranges_overlap": bool(overlap)})
    return out


def run_degradation(exp: Experiment | str = "cpu-live", depths=None, seeds=None, epochs=None,
                    device=None, progress: Callable[[dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, keep_models: bool = False,
                    archs=("plain", "residual")) -> DegradationResult:
    """Train plain and residual nets at each depth and seed with the same budget.

    ``progress(record)`` gets every epoch record plus ``arch``, ``depth``, ``seed``, ``run`` and
    ``runs``. ``should_stop()`` ends the experiment cooperatively (finished runs are kept;
    ``meta["stopped"]``). The final ``train_error`` in ``runs``/``table`` is measured in eval mode
    on the whole training set after training (the curves keep the running train-mode error).
    """
    if isinstance(exp, str):
        if exp not in EXPERIMENTS:
            raise TrainError(f"unknown experiment {exp[:30]!r}; known: {', '.join(EXPERIMENTS)}")
        exp = EXPERIMENTS[exp]
    exp = exp.with_(depths=tuple(depths) if depths else None, seeds=tuple(seeds) if seeds else None,
                    epochs=epochs, device=device)
    for d in exp.depths:
        exp.spec("plain", d)  # raises SpecError for a depth that is not 6n+2
    exp.train.validate()
    t0 = time.perf_counter()
    train_set, test_set = exp.data()
    data_s = time.perf_counter() - t0
    jobs = [(a, d, s) for s in exp.seeds for d in exp.depths for a in archs]
    curves, runs, models = [], [], {}
    stopped = False
    dev_info: dict = {}
    for k, (arch, depth, seed) in enumerate(jobs):
        if should_stop is not None and should_stop():
            stopped = True
            break
        tag = {"arch": arch, "depth": depth, "seed": seed, "run": k + 1, "runs": len(jobs)}
        cb = (lambda rec, tag=tag: progress({**tag, **rec})) if progress else None
        cfg = replace(exp.train, seed=seed)
        res = train(exp.spec(arch, depth), train_set, test_set, cfg, progress=cb,
                    should_stop=should_stop)
        dev_info = {k2: res.meta[k2] for k2 in ("device", "name", "detail", "torch", "amp",
                                                "device_note")}
        if res.meta["stopped"]:
            stopped = True
            break
        for rec in res.history.to_dict("records"):
            curves.append({"arch": arch, "depth": depth, "seed": seed, **rec})
        tr_err, tr_loss = evaluate(res.model, train_set, res.normalizer)
        te_err = float(res.history["test_error"].iloc[-1])
        runs.append({"arch": arch, "depth": depth, "seed": seed, "train_error": tr_err,
                     "train_loss": tr_loss, "test_error": te_err, "seconds": res.meta["seconds"],
                     "params": res.meta["params"], "images_per_s": float(res.history["images_per_s"].mean())})
        if keep_models:
            models[(arch, depth, seed)] = (res.model, res.normalizer)
    curves_df = pd.DataFrame(curves, columns=["arch", "depth", "seed"] + HISTORY_COLUMNS)
    runs_df = pd.DataFrame(runs, columns=["arch", "depth", "seed", "train_error", "train_loss",
                                          "test_error", "seconds", "params", "images_per_s"])
    table = summarise(runs_df)
    meta = {"experiment": exp.name, "label": exp.label, "note": exp.note, **dev_info,
            "epochs": exp.train.epochs, "depths": list(exp.depths), "seeds": list(exp.seeds),
            "n_train": exp.n_train, "n_test": exp.n_test, "size": exp.size,
            "difficulty": exp.difficulty, "width": exp.width, "data_seed": exp.data_seed,
            "wall_seconds": time.perf_counter() - t0, "data_seconds": data_s, "stopped": stopped,
            "threads": torch.get_num_threads(), "train_config": asdict(exp.train),
            "train_error_is": "eval mode, whole training set, after the last epoch",
            "source": "He et al. 2015, arXiv 1512.03385, fig. 6 / table 6 (degradation)",
            "dataset": "generated shapes (resnet_explain.data.make_shapes)"}
    return DegradationResult(curves_df, runs_df, table, meta, check_hypothesis(table), models)
