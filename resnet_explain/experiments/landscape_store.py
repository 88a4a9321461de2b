"""Where landscapes are kept: the stored default views (``assets/landscapes``, read-only) and the
user's cache (capped at ``CACHE_KEEP`` results), one folder per (run, settings, precision,
version). :func:`cached_landscape` is :func:`~resnet_explain.experiments.landscape.landscape` that loads
instead of recomputing when the same inputs come again."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from ..data.cifar import cache_dir
from ..device import choose_device
from ..stored_assets import assets_dir
from .landscape import VERSION, Landscape, LandscapeSettings, landscape
from .landscape_roughness import path_barrier
from .landscape_sharpness import fn_curvature

STORED_DIR = assets_dir("landscapes")
CACHE_KEEP = 200  # results kept in the user's cache (oldest go first; one is ~20-200 kB)


def result_key(run_id: str, settings: LandscapeSettings, dtype: str) -> str:
    """One folder name per (run, settings, precision, version)."""
    blob = json.dumps({"run": run_id, "settings": asdict(settings), "dtype": dtype, "v": VERSION},
                      sort_keys=True)
    return f"{run_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def cache_root() -> Path:
    return cache_dir() / "landscapes"


def _dtype_for(device) -> str:
    dev = torch.device(device) if device is not None else choose_device("auto").device
    return "bf16" if dev.type == "cuda" else "float32"


def save(result: Landscape, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("surface", "line", "path"):
        getattr(result, name).to_csv(folder / f"{name}.csv", index=False)
    (folder / "result.json").write_text(json.dumps({"numbers": result.numbers, "meta": result.meta},
                                                   indent=1, default=float))
    return folder


def load(folder: Path) -> Landscape:
    d = json.loads((folder / "result.json").read_text())
    tables = {n: pd.read_csv(folder / f"{n}.csv") for n in ("surface", "line", "path")}
    d["numbers"].setdefault("path_barrier", path_barrier(tables["path"]))  # results made before it
    if "fn_curvature" not in d["numbers"]:  # results made before it: from their stored slice
        d["numbers"].update(fn_curvature(tables["surface"]))
    return Landscape(tables["surface"], tables["line"], tables["path"], d["numbers"], d["meta"])


def find(run_id: str, settings: LandscapeSettings, dtype: str = "float32",
         roots: tuple[Path, ...] | None = None) -> Landscape | None:
    """A stored or cached result for exactly these inputs, else None."""
    key = result_key(run_id, settings, dtype)
    for root in roots if roots is not None else (STORED_DIR, cache_root()):
        if (root / key / "result.json").exists():
            out = load(root / key)
            out.meta["loaded_from"] = "stored with the app" if root == STORED_DIR else "this server's cache"
            return out
    return None


def cached_landscape(run, settings: LandscapeSettings | None = None, *, device=None,
                     root: Path | None = None, **kw) -> Landscape:
    """:func:`landscape`, loaded instead when the same run, settings and precision were computed
    before (the shipped twins' default views are stored in ``assets/landscapes``); new results
    are written to ``root`` (default: the user's cache)."""
    settings = settings or LandscapeSettings()
    dtype = _dtype_for(device)
    hit = find(run.run_id, settings, dtype)
    if hit is not None:
        return hit
    result = landscape(run, settings, device=device, **kw)
    root = root or cache_root()
    save(result, root / result_key(run.run_id, settings, result.meta["dtype"]))
    if root == cache_root():
        prune(root)
    return result


def prune(root: Path, keep: int = CACHE_KEEP) -> list[str]:
    """Delete all but the ``keep`` newest results under ``root``; returns the deleted names."""
    folders = sorted((p for p in root.iterdir() if (p / "result.json").exists()),
                     key=lambda p: (p / "result.json").stat().st_mtime, reverse=True)
    for p in folders[keep:]:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in folders[keep:]]
