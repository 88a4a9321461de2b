"""The shipped trained twins: runs in ``assets/runs`` named plain20, residual20, plain56, residual56.

They are ordinary runs (:mod:`.runs`): the request that trained them (spec, data recipe, the
``cpu-budget`` experiment's config and seed) names them, so the same inputs asked for live load
them instead of training again. Each carries its own gradient snapshots (``grads.csv``) and per-step
training curve (``steps.csv``), recorded by :func:`add_records` in a training of its request that
gave its weights bit for bit. A name is looked up among the shipped runs' labels only, never
used as a path. Checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd

from ..data import ImageSet, make_shapes
from ..errors import UserError
from .runs import SHIPPED_DIR, DataRecipe, Run, RunRequest, RunStore


class ShippedError(UserError):
    """An unknown shipped model, or one whose test images cannot be regenerated."""


def _store() -> RunStore:
    return RunStore(shipped_root=SHIPPED_DIR)


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """name -> run id of the shipped runs."""
    df = _store().list()
    return {str(r.name): str(r.run_id) for r in df.itertuples() if r.shipped and r.name}


def shipped() -> list[str]:
    """Names of the shipped models, plain before residual, shallow before deep."""
    return sorted(_index(), key=lambda n: (int("".join(c for c in n if c.isdigit()) or 0), n))


def pairs() -> dict[int, tuple[str, str]]:
    """depth -> (plain name, residual name), for depths that ship both twins."""
    out = {}
    for n in shipped():
        if n.startswith("plain"):
            d = n[len("plain"):]
            if f"residual{d}" in shipped():
                out[int(d)] = (n, f"residual{d}")
    return out


def run(name: str) -> Run:
    """The shipped run called ``name``."""
    if name not in _index():
        raise ShippedError(f"unknown model {name[:40]!r}; shipped: {', '.join(shipped()) or 'none'}")
    return _store().get(_index()[name])


def load(name: str, device=None):
    """(model in eval mode, normalizer, meta) of a shipped model."""
    return run(name).load_model(device=device)


def package(model, normalizer, meta: dict, history: pd.DataFrame, budget,
            grads: pd.DataFrame | None = None, steps: pd.DataFrame | None = None) -> Run:
    """Store a network trained by the degradation experiment under ``budget`` (one of
    :data:`~.budgets.EXPERIMENTS`) as a shipped run, named ``{arch}{depth}``, with its gradient
    snapshots and per-step curve where it recorded them (scripts/make_assets.py calls this)."""
    d = meta["data"]
    recipe = DataRecipe(n_train=int(d["n_train"]), n_test=int(d["n_test"]), size=int(d["size"]),
                        difficulty=float(d["difficulty"]), seed=int(d["seed"]))
    req = RunRequest(spec=model.spec.to_query(), data=recipe,
                     config=replace(budget.config, seed=int(meta["seed"])))
    name = f"{meta['arch']}{meta['depth']}"
    run_meta = {**meta, "name": name, "shipped": True, "seconds": float(history["seconds"].sum())}
    _index.cache_clear()
    writer = RunStore(root=SHIPPED_DIR, cap_bytes=2**62, shipped_root=SHIPPED_DIR)
    return writer.put(req, model, normalizer, history, grads, run_meta, steps)


def same_weights(a: dict, b: dict) -> float:
    """The largest absolute difference between two state dicts' floating-point tensors (0.0:
    bit-identical); inf when their names or shapes differ."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        return float("inf")
    return max((float((a[k].double() - b[k].double()).abs().max()) for k in a
                if a[k].is_floating_point()), default=0.0)


def add_records(name: str, snapshot_every: int, curve_every: int, made_by: str) -> dict:
    """Train the shipped run ``name`` again from its own request with gradient snapshots every
    ``snapshot_every`` steps and the per-step curve every ``curve_every`` on (neither changes
    what is learned: tests/unit/test_snapshots.py, test_step_history.py), and, only when the
    weights come out bit-identical to the shipped checkpoint and the history's numbers equal the
    shipped history's, write them beside it (``grads.csv``, ``steps.csv``; ``meta.json`` says how).
    The checkpoint and the run id stay as they are. Returns what was done (``stored`` False and
    the difference when they are not identical: nothing is written then)."""
    import time  # only this regeneration times itself

    from .trainer import train

    r = run(name)
    tr, te = r.request.data.load()
    config = replace(r.request.config, snapshot_every=int(snapshot_every), curve_every=int(curve_every))
    t0 = time.perf_counter()
    res = train(r.spec, tr, te, config)
    seconds = time.perf_counter() - t0
    ref = r.load_model()[0].state_dict()
    diff = same_weights({k: v.cpu() for k, v in res.model.state_dict().items()}, ref)
    cols = ["epoch", "train_loss", "train_error", "test_error", "lr"]
    # the CSV keeps 17 significant digits: equal up to its parsing
    same_history = len(res.history) == len(r.history) and bool(np.allclose(
        res.history[cols].to_numpy(float), r.history[cols].to_numpy(float), rtol=1e-12, atol=0,
        equal_nan=True))
    done = {"name": name, "run_id": r.run_id, "seconds": round(seconds, 1),
            "max_weight_difference": diff, "same_history": bool(same_history),
            "stored": diff == 0.0 and same_history}
    if done["stored"]:
        res.grads.to_csv(r.path / "grads.csv", index=False)
        res.steps.to_csv(r.path / "steps.csv", index=False)
        meta = json.loads((r.path / "meta.json").read_text())
        meta["records"] = {"made_by": made_by, "snapshot_every": int(snapshot_every),
                           "curve_every": int(curve_every), "seconds": round(seconds, 1),
                           "how": "the run's own request trained again with snapshots and the "
                                  "per-step curve on; weights bit-identical to this checkpoint"}
        (r.path / "meta.json").write_text(json.dumps(meta, indent=1))
    return done


def load_readonly(which: Run | str, device=None):
    """``(model, normalizer, meta)`` of a run (a :class:`~.runs.Run`, or a shipped model's name)
    with every parameter's gradient switched off: the copy a process may keep and share between
    visitors (a cache keyed by the run's id), provided nothing ever runs on it but
    :func:`private_copy`."""
    r = run(which) if isinstance(which, str) else which
    model, normalizer, meta = r.load_model(device=device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, normalizer, meta


def private_copy(loaded):
    """``(model, normalizer, meta)`` with a deep copy of the model, for one computation.

    Captum hooks the model it explains (and the lesion study hooks blocks): on a model shared
    between visitors, two computations' hooks would meet. A trained twin is a few MB, so the copy
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
