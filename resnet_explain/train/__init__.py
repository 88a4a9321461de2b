"""Training: the trainer (:mod:`.trainer`), its options (:mod:`.config`), what it records about
gradients while it learns (:mod:`.snapshots`), checkpoints (:mod:`.checkpoints`), runs — one
object for every trained model, fixed by its inputs and stored (:mod:`.runs`) —, the shipped
trained twins (:mod:`.shipped`), He et al.'s degradation experiment (:mod:`.degradation`), the
learning-rate sweep (:mod:`.lr_sweep`), the speed benchmark (:mod:`.benchmark`) and the time
estimate made before a run starts (:mod:`.estimate`)."""

from .checkpoints import load_checkpoint, save_checkpoint
from .config import SCHEDULES, TrainConfig, TrainError, lr_at
from .degradation import (EXPERIMENTS, DegradationResult, Experiment, StoredRuns, chance_error,
                          load_stored, run_degradation)
from .estimate import Throughput, estimate_seconds, planned_epochs
from .trainer import TrainResult, evaluate, train

__all__ = ["DegradationResult", "EXPERIMENTS", "Experiment", "SCHEDULES", "StoredRuns", "Throughput",
           "TrainConfig", "TrainError", "TrainResult", "chance_error", "estimate_seconds", "evaluate",
           "load_checkpoint", "load_stored", "lr_at", "planned_epochs", "run_degradation",
           "save_checkpoint", "train"]
