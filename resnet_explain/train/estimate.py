"""How long will a training run take, before it starts: a throughput fit on measured runs.

The stored degradation runs (``assets/degradation/runs.csv``) record each network's mean training
speed in images per second. The time a CIFAR net spends on one image grows about linearly with
its depth (every block costs about the same), so a straight line through the measured seconds per
image at the shallowest and the deepest stored depth gives every other depth; a run's time is
that, times its images and epochs. It is rough by design: it leaves out evaluation and data
generation, and a busy server is slower than the machine that made the stored runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .degradation import Experiment

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


def planned_epochs(exp: Experiment, archs: Sequence[str]) -> int:
    """Epochs a full run of ``exp`` trains, all networks together (one progress record each)."""
    return len(archs) * len(exp.depths) * len(exp.seeds) * exp.train.epochs


def estimate_seconds(exp: Experiment, archs: Sequence[str], runs: pd.DataFrame) -> float:
    """Rough training time of ``exp`` for ``archs``, from the speed measured in ``runs``:
    seconds per image at each depth x images x epochs x seeds x architectures."""
    fit = Throughput.fit(runs)
    images = exp.n_train * exp.train.epochs * len(exp.seeds) * len(archs)
    return images * sum(fit.seconds_per_image(d) for d in exp.depths)
