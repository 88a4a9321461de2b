"""He et al. 2015's CIFAR-10 experiment itself (sec. 4.2, fig. 6): the recipe on the real data.

The recipe is the budget :func:`~..train.budgets.he2015_cifar` (named ``cifar10-he2015`` in
:data:`~..train.budgets.EXPERIMENTS`, ``cifar10-he2015-val`` on their 45k/5k split); it runs
through the degradation experiment like any budget, so one command reproduces fig. 6 on a GPU:

    python -m resnet_explain degradation --experiment cifar10-he2015 --run --json

This module says whether the CIFAR-10 files are here (and, when not, what is missing and how to
get them), runs the recipe, and sets He et al.'s table 6 beside what it measured.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..content.papers import HE15_FIG6_PLAIN110, HE15_TABLE6
from ..data.cifar import ARCHIVE, CIFAR10_DIR, data_dir, missing_text
from ..train.budgets import he2015_cifar
from .degradation import DegradationResult, run_degradation


def missing(root: str | Path | None = None) -> str | None:
    """None when the CIFAR-10 archive or its extracted folder is in the data folder; else what
    is missing and how to get it (one paragraph)."""
    root = Path(root) if root else data_dir()
    if (root / CIFAR10_DIR).is_dir() or (root / ARCHIVE).is_file():
        return None
    return missing_text(root, "no archive or extracted folder there yet")


def reproduce(root: str = "", split: str = "50k/10k", iterations: int = 64_000,
              n_train: int | None = None, n_test: int | None = None, **kw) -> DegradationResult:
    """Train He et al.'s plain and residual nets on CIFAR-10 with their recipe (fewer
    ``iterations`` or images scale it down; the milestones scale with it). ``kw`` goes to
    :func:`~.degradation.run_degradation` (depths, seeds, device, progress, should_stop, ...)."""
    budget = he2015_cifar(split, iterations, n_train, n_test, root)
    return run_degradation(budget, **kw)


def paper_test_error(arch: str, depth: int) -> tuple[float | None, str]:
    """He et al.'s CIFAR-10 test error (%) for the network, as printed, and where it is from:
    table 6 for the ResNets; fig. 6's caption for plain-110 ("higher than 60 %"); the other plain
    nets appear only as curves in fig. 6 (no number printed)."""
    if arch == "residual":
        for row in HE15_TABLE6:
            if row.label == f"ResNet-{depth}":
                return row.number, row.cite
    if arch == "plain" and depth == 110:
        return None, f"{HE15_FIG6_PLAIN110.shown} ({HE15_FIG6_PLAIN110.cite})"
    return None, "not printed (fig. 6 curves only)" if arch == "plain" else "not in table 6"


def beside_paper(table: pd.DataFrame) -> pd.DataFrame:
    """The measured table (arch, depth, train_error, test_error as fractions) with He et al.'s
    test error beside each row: ``paper_test_error`` (%) and ``paper_source``."""
    out = table.copy()
    pairs = [paper_test_error(str(a), int(d)) for a, d in zip(out["arch"], out["depth"])]
    out["paper_test_error"] = pd.Series([p[0] for p in pairs], index=out.index, dtype=object)  # None stays
    out["paper_source"] = [p[1] for p in pairs]
    return out
