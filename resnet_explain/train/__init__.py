"""The training engine: the trainer (:mod:`.trainer`), its options (:mod:`.config`), what it
records about gradients while it learns (:mod:`.snapshots`), several seeds at once
(:mod:`.many`), checkpoints (:mod:`.checkpoints`), runs — one object for every trained model,
fixed by its inputs and stored (:mod:`.runs`) —, the shipped trained twins (:mod:`.shipped`), the
speed benchmark (:mod:`.benchmark`) and the time estimate made before a run starts
(:mod:`.estimate`). The experiments built on it live in :mod:`resnet_explain.experiments`."""

from .checkpoints import load_checkpoint, save_checkpoint
from .config import SCHEDULES, TrainConfig, TrainError, lr_at
from .estimate import HostSpeed, estimate_run_seconds, host_speed
from .trainer import TrainResult, evaluate, train

__all__ = ["SCHEDULES", "HostSpeed", "TrainConfig", "TrainError", "TrainResult", "estimate_run_seconds",
           "evaluate", "host_speed", "load_checkpoint", "lr_at", "save_checkpoint", "train"]
