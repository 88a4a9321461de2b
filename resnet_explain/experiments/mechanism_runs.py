"""The mechanisms of :mod:`.mechanisms`, measured on the shipped twins (plain and residual, depths
20 and 56), each at initialisation (``build_model`` of the run's spec and seed: the weights its
training started from) and trained (the run's checkpoint); and the gradient snapshots of their
training (:mod:`resnet_explain.train.snapshots`: ‖∂L/∂x‖ and ‖ΔW‖/‖W‖ per block and step).

The results are stored in ``assets/mechanisms`` (``scripts/make_mechanisms.py`` writes them) so
the page shows them at once. The snapshots are the shipped runs' own (``grads.csv`` in each run's
folder, written by ``scripts/make_shipped_records.py``: the run's request trained again with
snapshots on, stored only when the weights came out bit-identical to the shipped checkpoint), read
from the runs and not copied here. A shipped run without stored snapshots is trained again from its
own request with snapshots on (they are tested not to change the training), those snapshots are
stored here (``grads.csv``) and the retrained weights are compared with the shipped ones
(``max_weight_difference`` in the meta).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..model import build_model
from ..train import shipped
from ..train.runs import Run
from . import mechanisms as m

STORE_DIR = Path(__file__).resolve().parents[2] / "assets" / "mechanisms"
TABLES = ("grads", "correlation", "share", "signal")
SNAPSHOT_EVERY = 24  # steps between snapshots (the shipped recipe: 78 steps an epoch)
N_IMAGES = 256  # test images a forward measurement sees (16 lines of 2 images for correlation)


def twin_names() -> list[str]:
    """The shipped twins, plain before residual, shallow before deep."""
    return [n for d in sorted(shipped.pairs()) for n in shipped.pairs()[d]]


def run_seeds() -> set[int]:
    """The seeds the shipped twins were trained (and initialised) with."""
    return {int(shipped.run(n).request.config.seed) for n in twin_names()}


def _label(run: Run, name: str) -> dict:
    return {"net": name, "arch": run.spec.arch, "depth": int(run.spec.depth)}


def measure_states(run: Run, name: str, n_images: int = N_IMAGES, init_seed: int | None = None,
                   trained: bool = True) -> dict[str, pd.DataFrame]:
    """Correlation, branch share and signal of one run, at init and (``trained``) trained (long
    form, with ``state`` "init" / "trained"). Both see the same test images; the init model
    (``build_model`` at ``init_seed``, by default the run's own seed) gets their BatchNorm
    statistics (:func:`.mechanisms.calibrate`), the trained one keeps its own."""
    images = run.test_images(n_images)
    loaded, normalizer, _meta = run.load_model()
    x = normalizer(images.x)
    seed = int(run.request.config.seed if init_seed is None else init_seed)
    states = [("init", m.calibrate(build_model(run.spec, seed=seed), x))]
    states += [("trained", loaded.eval())] if trained else []
    out: dict[str, list[pd.DataFrame]] = {"correlation": [], "share": [], "signal": []}
    for state, model in states:
        for p in model.parameters():
            p.requires_grad_(False)
        parts = {"correlation": m.gradient_correlations(model, x, images.y, n_lines=min(8, len(x) // 2)),
                 "share": m.branch_shares(model, x), "signal": m.signal_propagation(model, x)}
        for key, df in parts.items():
            out[key].append(df.assign(state=state, **_label(run, name)))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def with_init_at(tables: dict[str, pd.DataFrame], seed: int, n_images: int = N_IMAGES) -> dict[str, pd.DataFrame]:
    """The stored ``tables`` with their "init" rows measured again at initialisation ``seed``
    (a few seconds on a CPU: forwards and one backward per network, no training)."""
    out = dict(tables)
    for key in ("correlation", "share", "signal"):
        out[key] = tables[key][tables[key]["state"] != "init"]
    for name in twin_names():
        for key, df in measure_states(shipped.run(name), name, n_images, init_seed=seed, trained=False).items():
            out[key] = pd.concat([out[key], df], ignore_index=True)
    return out


def snapshot_grads(run: Run, name: str, every: int = SNAPSHOT_EVERY) -> tuple[pd.DataFrame, dict]:
    """The run's gradient snapshots, and how they were got: the stored ones, or (none stored)
    the same training again with ``snapshot_every`` on; then ``max_weight_difference`` says how
    far the retrained weights are from the shipped checkpoint's (0 when bit-identical)."""
    if len(run.grads):
        rec = run.meta.get("records", {})  # how they were recorded (train/shipped.py add_records)
        return run.grads.assign(**_label(run, name)), {
            "source": "the run's own, stored with it", "own": True,
            "snapshot_every": rec.get("snapshot_every"), "made_by": rec.get("made_by"),
            "training_seconds": rec.get("seconds")}
    from ..train.trainer import train  # the training engine: only when snapshots must be made

    tr, te = run.request.data.load()
    config = replace(run.request.config, snapshot_every=int(every))
    t0 = time.perf_counter()
    res = train(run.spec, tr, te, config)
    shipped_model, _n, _meta = run.load_model()
    ref = shipped_model.state_dict()
    diff = max(float((v.float() - ref[k].float()).abs().max()) for k, v in res.model.state_dict().items()
               if v.is_floating_point())
    last = "train_error"  # the last epoch's running (train-mode) error, in both histories
    how = {"source": f"retrained from the run's request with snapshot_every={every}",
           "seconds": round(time.perf_counter() - t0, 1), "max_weight_difference": diff,
           "retrained_last_epoch_error": float(res.history[last].iloc[-1]),
           "shipped_last_epoch_error": float(run.history[last].iloc[-1])}
    return res.grads.assign(**_label(run, name)), how


def make(every: int = SNAPSHOT_EVERY, n_images: int = N_IMAGES,
         names: list[str] | None = None, log=print) -> tuple[dict[str, pd.DataFrame], dict]:
    """Every table for the shipped twins (or ``names``), and the meta saying how each was made."""
    tables: dict[str, list[pd.DataFrame]] = {k: [] for k in TABLES}
    meta: dict = {"n_images": n_images, "snapshot_every": every, "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "runs": {}}
    for name in names or twin_names():
        run = shipped.run(name)
        t0 = time.perf_counter()
        for k, df in measure_states(run, name, n_images).items():
            tables[k].append(df)
        grads, how = snapshot_grads(run, name, every)
        tables["grads"].append(grads)
        meta["runs"][name] = {"run_id": run.run_id, "seed": int(run.request.config.seed),
                              "train_error": run.meta.get("train_error"),
                              "seconds": round(time.perf_counter() - t0, 1), **how}
        log(f"{name}: {meta['runs'][name]}")
    strides = {r.get("snapshot_every") or every for r in meta["runs"].values()}
    meta["snapshot_every"] = strides.pop() if len(strides) == 1 else sorted(strides)
    return {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}, meta


def _own(meta: dict) -> list[str]:
    """The runs whose snapshots are their own (read from the shipped run, not stored here)."""
    return [n for n, r in meta.get("runs", {}).items() if r.get("own")]


def save(tables: dict[str, pd.DataFrame], meta: dict, folder: Path = STORE_DIR) -> None:
    """The tables and meta into ``folder``; the snapshots only of runs that do not carry their
    own (a shipped run's own stay in its folder: one copy)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    grads = tables["grads"][~tables["grads"]["net"].isin(_own(meta))]
    for k in TABLES:
        if k != "grads":
            tables[k].to_csv(folder / f"{k}.csv", index=False)
    if len(grads):
        grads.to_csv(folder / "grads.csv", index=False)
    else:
        (folder / "grads.csv").unlink(missing_ok=True)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def load_stored(folder: Path = STORE_DIR) -> tuple[dict[str, pd.DataFrame], dict] | None:
    """The stored tables and meta, or None when they have not been made (or a run whose own
    snapshots they read is no longer the one they were made from)."""
    folder = Path(folder)
    if not (folder / "meta.json").is_file() or not all(
            (folder / f"{k}.csv").is_file() for k in TABLES if k != "grads"):
        return None
    meta = json.loads((folder / "meta.json").read_text())
    tables = {k: pd.read_csv(folder / f"{k}.csv") for k in TABLES if k != "grads"}
    parts = [pd.read_csv(folder / "grads.csv")] if (folder / "grads.csv").is_file() else []
    for name in _own(meta):
        run = shipped.run(name)
        if run.run_id != meta["runs"][name]["run_id"] or not len(run.grads):
            return None
        parts.append(run.grads.assign(**_label(run, name)))
    if not parts:
        return None
    tables["grads"] = pd.concat(parts, ignore_index=True)
    return tables, meta
