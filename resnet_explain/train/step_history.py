"""The training curve at step resolution: the running loss and error of the mini-batches, per
window of K steps.

A run's ``history`` has one row per epoch: the mean over that epoch's own mini-batches (train
mode), as the curves of He et al. 2015 (arXiv 1512.03385, fig. 1/6). That resolves "when did the
network reach 20 % training error" to one epoch (experiments/convergence.py). Here the same numbers
are kept per step, and the run's ``steps`` table holds them per window: the steps are cut at every
multiple of K (global step count, so windows line up across epochs and seeds) and at each epoch's
end, so a window never spans two epochs and the windows of an epoch add up exactly to its history
row (the weighted mean of the windows' errors is the epoch's error).

The cost is two device writes per step and nothing else: each step's loss and wrong-answer count
go into a device buffer of one epoch's length (no host sync per step); the buffer is copied to the
host once per epoch, where the trainer already syncs to read the epoch's sums
(scripts/bench_step_history.py measures it). It needs no extra forward: the numbers are the
step's own. Both trainers (:func:`~.trainer.train`, one network; :func:`~.many.train_seeds`,
several seeds at once) use this class, so their ``steps`` follow one rule.
"""

from __future__ import annotations

import pandas as pd
import torch

STEP_COLUMNS = ["step", "epoch", "steps", "train_loss", "train_error"]
# step: steps done at the window's end (1-based: the window ends after update ``step``);
# steps: mini-batches in the window; train_loss / train_error: their mean loss / error rate


def empty_steps() -> pd.DataFrame:
    """The steps table of a run that recorded none."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("step", "epoch", "steps") else "float64")
                         for c in STEP_COLUMNS})


def window_ends(first: int, done: int, every: int) -> list[int]:
    """The step counts at which the windows of an epoch end: every multiple of ``every`` after
    ``first`` (the steps done before the epoch) up to ``first + done``, and ``first + done``."""
    last = first + done
    ends = [c for c in range(first + 1, last + 1) if c % every == 0]
    return ends if ends and ends[-1] == last else ends + [last]


class StepCurve:
    """One epoch's per-step losses and wrong answers on the device, for ``models`` networks at
    once (None: one network; an int K: the K seeds of :func:`~.many.train_seeds`)."""

    def __init__(self, every: int, steps_per_epoch: int, batch: int, device, models: int | None = None):
        self.every, self.batch, self.models = int(every), int(batch), models
        shape = (steps_per_epoch,) if models is None else (steps_per_epoch, models)
        self.loss = torch.zeros(shape, device=device)
        self.wrong = torch.zeros(shape, device=device)

    def record(self, i: int, loss: torch.Tensor, wrong: torch.Tensor) -> None:
        """Step ``i`` of the epoch (0-based): its mean loss and wrong-answer count (per model)."""
        self.loss[i] = loss
        self.wrong[i] = wrong

    def record_at(self, i: torch.Tensor, loss: torch.Tensor, wrong: torch.Tensor) -> None:
        """:meth:`record` with the step index a (1,) device tensor: what a captured CUDA graph
        can replay (train/graphs.py)."""
        self.loss.index_copy_(0, i, loss.reshape(1, *self.loss.shape[1:]).to(self.loss.dtype))
        self.wrong.index_copy_(0, i, wrong.reshape(1, *self.wrong.shape[1:]).to(self.wrong.dtype))

    def rows(self, epoch: int, first: int, done: int) -> list[list[dict]]:
        """The windows of the epoch's ``done`` steps (``first`` steps were done before it), one list
        of STEP_COLUMNS rows per model: one host copy for the epoch."""
        if done <= 0:
            return [[] for _ in range(self.models or 1)]
        host = torch.stack([self.loss[:done], self.wrong[:done]]).double().cpu().numpy()
        loss, wrong = host[0].reshape(done, -1), host[1].reshape(done, -1)
        out: list[list[dict]] = [[] for _ in range(loss.shape[1])]
        start = first
        for end in window_ends(first, done, self.every):
            a, b = start - first, end - first
            for k in range(loss.shape[1]):
                out[k].append({"step": end, "epoch": int(epoch), "steps": b - a,
                               "train_loss": float(loss[a:b, k].mean()),
                               "train_error": float(wrong[a:b, k].sum()) / ((b - a) * self.batch)})
            start = end
        return out


def frame(rows: list[dict]) -> pd.DataFrame:
    """A run's steps table from its rows (empty: :func:`empty_steps`)."""
    return pd.DataFrame(rows, columns=STEP_COLUMNS) if rows else empty_steps()
