"""Training: the trainer (:mod:`.trainer`), its options (:mod:`.config`), checkpoints
(:mod:`.checkpoints`), the shipped trained twins (:mod:`.shipped`), He et al.'s degradation
experiment (:mod:`.degradation`), the speed benchmark (:mod:`.benchmark`) and the time estimate
made before a run starts (:mod:`.estimate`)."""

from .checkpoints import load_checkpoint, save_checkpoint
from .config import SCHEDULES, TrainConfig, TrainError, lr_at
from .degradation import EXPERIMENTS, DegradationResult, Experiment, run_degradation
from .trainer import TrainResult, evaluate, train

__all__ = ["DegradationResult", "EXPERIMENTS", "Experiment", "SCHEDULES", "TrainConfig", "TrainError",
           "TrainResult", "evaluate", "load_checkpoint", "lr_at", "run_degradation", "save_checkpoint",
           "train"]
