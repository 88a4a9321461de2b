"""Checkpoints: state_dict + spec string + plain-data meta, loadable with weights_only=True."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..data import Normalizer
from ..model import Net, build_model
from ..spec import NetSpec


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
          "meta": to_plain(meta or {})}
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


def to_plain(obj):
    """JSON-like data only (what weights_only=True accepts and json can write)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
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
