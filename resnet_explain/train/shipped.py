"""The shipped trained checkpoints (assets/checkpoints) and the test images they were trained for.

Names are the file stems (plain20, residual20, plain56, residual56); a name is looked up in that
folder only, never used as a path. Checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

from ..data import ImageSet, make_shapes
from ..errors import UserError

CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


class ShippedError(UserError):
    """An unknown shipped model, or one whose test images cannot be regenerated."""


def shipped() -> list[str]:
    """Names of the shipped checkpoints, plain before residual, shallow before deep."""
    names = [p.stem for p in CHECKPOINT_DIR.glob("*.pt")]
    return sorted(names, key=lambda n: (int("".join(c for c in n if c.isdigit()) or 0), n))


def pairs() -> dict[int, tuple[str, str]]:
    """depth -> (plain name, residual name), for depths that ship both twins."""
    out = {}
    for n in shipped():
        if n.startswith("plain"):
            d = n[len("plain"):]
            if f"residual{d}" in shipped():
                out[int(d)] = (n, f"residual{d}")
    return out


def load(name: str, device=None):
    """(model in eval mode, normalizer, meta) of a shipped checkpoint."""
    from .checkpoints import load_checkpoint

    if name not in shipped():
        raise ShippedError(f"unknown model {name[:40]!r}; shipped: {', '.join(shipped()) or 'none'}")
    return load_checkpoint(CHECKPOINT_DIR / f"{name}.pt", device=device)


def load_readonly(name: str, device=None):
    """:func:`load` with every parameter's gradient switched off: the copy a process may keep and
    share between visitors (a cache), provided nothing ever runs on it but :func:`private_copy`."""
    model, normalizer, meta = load(name, device=device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, normalizer, meta


def private_copy(loaded):
    """``(model, normalizer, meta)`` with a deep copy of the model, for one computation.

    Captum hooks the model it explains (and the lesion study hooks blocks): on a model shared
    between visitors, two computations' hooks would meet. A shipped model is a few MB, so the copy
    takes milliseconds. The normalizer is frozen and the meta is only read, so both are shared."""
    model, normalizer, meta = loaded
    return copy.deepcopy(model), normalizer, meta


@lru_cache(maxsize=4)
def _test_images(n: int, seed: int, size: int, difficulty: float) -> ImageSet:
    return make_shapes(n, seed=seed, size=size, difficulty=difficulty, split="test")


def test_images(meta: dict, n: int = 256) -> ImageSet:
    """The first ``n`` images of the test split the checkpoint was evaluated on (regenerated from
    the data recipe stored in its meta; the generator is deterministic)."""
    d = meta.get("data") or {}
    if d.get("kind") != "shapes":
        raise ShippedError("this checkpoint was not trained on the generated shapes")
    total = int(d.get("n_test", n))
    full = _test_images(total, int(d["seed"]), int(d["size"]), float(d["difficulty"]))
    return full.subset(min(int(n), total))
