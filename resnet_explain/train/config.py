"""What a training run is asked to do: TrainConfig and its learning-rate schedule.

SGD with momentum 0.9 and weight decay, as He et al. 2015 (arXiv 1512.03385, sec. 4.2); the
default schedule is one-cycle (Smith & Topin 2017, arXiv 1708.07120: linear warm-up then linear
decay to zero), which reaches a given error in far fewer epochs than He et al.'s step schedule
(lr 0.1, divided by 10 at 50 % and 75 % of training, or at the iterations ``milestones`` names:
32k and 48k of 64k in sec. 4.2), available as ``schedule="step"``. He et al.'s 110-layer net also
warms up at a constant 0.01 until its training error is below 80 % (``warmup_lr``), and their
training stops at an iteration count (``max_steps``), not at an epoch's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UserError

SCHEDULES = ("onecycle", "step", "constant", "cosine")
OPTIMIZERS = ("sgd", "adamw")
# Gradient snapshots every K steps (train/snapshots.py) as the app asks for them: the live budget
# (budgets.EXPERIMENTS["cpu-live"]: 1500 images, batch 32 -> 46 steps an epoch) then gets
# 5 or 6 snapshots an epoch (steps 0, 8, ..., 40 in epoch 1), 46 over its 8 epochs. The overhead at
# this K is measured by scripts/bench_snapshots.py.
SNAPSHOT_EVERY = 8
# The per-step training curve (train/step_history.py): one window every K steps. The cpu-budget
# recipe's 78 steps an epoch give 10 windows an epoch; a window of 8 batches of 64 estimates an
# error near 20 % within about 1.8 points (one binomial standard error of 512 answers).
STEP_EVERY = 8
HISTORY_COLUMNS = ["epoch", "train_loss", "train_error", "test_error", "seconds", "images_per_s",
                   "lr"]


class TrainError(UserError):
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
    snapshot_every: int = 0  # record gradient snapshots every K steps (0 = off; the app uses
    # SNAPSHOT_EVERY); they do not change what is learned
    curve_every: int = STEP_EVERY  # the running training loss and error per window of K steps
    # (train/step_history.py; 0 = off); they do not change what is learned
    max_memory_bytes: int | None = None  # refuse (SpecError "budget") before allocating if the
    # cost estimate of a training step exceeds this (the app sets it; None = no limit)
    milestones: tuple[int, ...] = ()  # "step": divide lr by 10 at these iterations (He et al.:
    # 32000, 48000); empty = at 50 % and 75 % of the steps
    max_steps: int = 0  # stop after this many iterations, mid-epoch if need be (0 = epochs decide)
    warmup_lr: float = 0.0  # > 0: train at this constant lr until the running training error
    # is below ``warmup_until`` (He et al.'s 110-layer net: 0.01 until < 80 %, ~400 iterations)
    warmup_until: float = 0.8
    # Language models (the transformer family, train/lm_trainer.py): AdamW as is usual for
    # Transformers (Loshchilov & Hutter 2019, arXiv 1711.05101), a linear warm-up over the first
    # ``warmup_steps`` iterations on top of any schedule (Vaswani et al. 2017 sec. 5.3; Xiong et al.
    # 2020, arXiv 2002.04745, ask whether post-LN needs it), gradient clipping by global norm and a
    # validation loss every ``eval_every`` steps.
    optimizer: str = "sgd"  # "sgd" (momentum, as above) or "adamw"
    warmup_steps: int = 0  # linear warm-up from lr/warmup_steps to lr over these iterations
    grad_clip: float = 0.0  # clip the global gradient norm to this (0 = never)
    eval_every: int = 0  # language models: record the losses every K steps (0 = once, at the end)

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
        if not (isinstance(self.snapshot_every, int) and not isinstance(self.snapshot_every, bool)
                and 0 <= self.snapshot_every <= 1_000_000):
            raise TrainError("snapshot_every must be a whole number of steps from 0 (off) to "
                             f"1000000, got {self.snapshot_every!r}")
        if not (isinstance(self.curve_every, int) and not isinstance(self.curve_every, bool)
                and 0 <= self.curve_every <= 1_000_000):
            raise TrainError("curve_every must be a whole number of steps from 0 (off) to "
                             f"1000000, got {self.curve_every!r}")
        if not (all(isinstance(m, int) and m > 0 for m in self.milestones)
                and list(self.milestones) == sorted(self.milestones)):
            raise TrainError(f"milestones must be increasing iteration counts, got {self.milestones!r}")
        if not (isinstance(self.max_steps, int) and self.max_steps >= 0):
            raise TrainError(f"max_steps must be a whole number (0 = none), got {self.max_steps!r}")
        if not (math.isfinite(self.warmup_lr) and 0 <= self.warmup_lr <= 10
                and 0 < self.warmup_until <= 1):
            raise TrainError("warmup_lr must be in [0, 10] (0 = none) and warmup_until in (0, 1], "
                             f"got {self.warmup_lr!r}, {self.warmup_until!r}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("warmup_steps", "eval_every"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10_000_000):
                raise TrainError(f"{name} must be a whole number of steps (0 = none), got {v!r}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise TrainError(f"grad_clip must be a number >= 0 (0 = never), got {self.grad_clip!r}")
        return self


# Fields added after runs were shipped: left out of a run's identity while at these defaults,
# so every run trained before they existed keeps its id (train/runs.py).
LATER_DEFAULTS = {"milestones": (), "max_steps": 0, "warmup_lr": 0.0, "warmup_until": 0.8,
                  "optimizer": "sgd", "warmup_steps": 0, "grad_clip": 0.0, "eval_every": 0}


def later_at_default(name: str, value) -> bool:
    """True for a field of :data:`LATER_DEFAULTS` at its default (left out of a run's identity)."""
    return name in LATER_DEFAULTS and LATER_DEFAULTS[name] == value


WARMUP_WINDOW = 20  # steps whose running training error decides the end of a constant warm-up


def steps_total(config: TrainConfig, steps_per_epoch: int) -> int:
    """Iterations a run trains: its epochs', or ``max_steps`` when that comes first."""
    total = steps_per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps else total


def lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate for ``step`` (0-based) of ``total`` steps: the schedule's, scaled by the
    linear warm-up while ``step < warmup_steps``."""
    lr = _schedule_lr(config, step, total)
    if step < config.warmup_steps:
        return lr * (step + 1) / config.warmup_steps
    return lr


def _schedule_lr(config: TrainConfig, step: int, total: int) -> float:
    t = step / max(1, total)
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":  # He et al. 2015 sec. 4.2: /10 at 32k and 48k of 64k iterations
        if config.milestones:
            return config.lr * (0.1 ** sum(step >= m for m in config.milestones))
        return config.lr * (0.1 ** ((t >= 0.5) + (t >= 0.75)))
    if config.schedule == "cosine":  # after the warm-up, a half cosine from lr to lr/10 (nanoGPT)
        w = min(config.warmup_steps, total - 1) if total > 1 else 0
        u = min(1.0, max(0.0, (step - w) / max(1, total - w)))
        return config.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * u)))
    w = config.warmup
    if t < w:  # one-cycle: linear warm-up from lr/10 ...
        return config.lr * (0.1 + 0.9 * t / w)
    return config.lr * max(0.0, (1.0 - t) / (1.0 - w))  # ... then linear decay to zero

