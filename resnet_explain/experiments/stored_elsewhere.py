"""Stored results that another machine or the real data made, read when they are there: the
``gpu`` degradation experiment (``scripts/gpu_check.sh`` writes it; copied into
``assets/degradation-gpu/``) and He et al.'s own CIFAR-10 recipe (``scripts/make_assets.py
--experiment cifar10-he2015`` writes ``assets/cifar10_he2015/``). Each is the degradation
experiment's stored form (:func:`~.degradation.load_stored`); absent, it is None, never an error.
"""

from __future__ import annotations

from pathlib import Path

from ..stored_assets import assets_dir
from .degradation import StoredRuns, load_stored

GPU_DIR = assets_dir("degradation-gpu")
CIFAR_DIR = assets_dir("cifar10_he2015")
FILES = ("results.json", "runs.csv", "curves.csv")


def load_if_there(folder: str | Path) -> StoredRuns | None:
    """The stored experiment in ``folder``, or None when any of its files is missing."""
    folder = Path(folder)
    if not all((folder / f).is_file() for f in FILES):
        return None
    return load_stored(folder)


def gpu_run() -> StoredRuns | None:
    """The ``gpu`` experiment's stored run (read at call time: a test may point ``GPU_DIR`` at
    a fixture)."""
    return load_if_there(GPU_DIR)


def cifar_run() -> StoredRuns | None:
    """He et al.'s CIFAR-10 recipe, stored, or None."""
    return load_if_there(CIFAR_DIR)
