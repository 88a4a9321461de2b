"""He et al.'s degradation experiment: plain vs residual at two depths, one budget for all.

Degradation (He et al. 2015, arXiv 1512.03385, sec. 4.2 and fig. 6): on CIFAR-10 a 56-layer
*plain* net has higher *training* error than a 20-layer one, so the problem is optimisation, not
overfitting; with identity shortcuts ResNet-56 trains at least as well as ResNet-20. Here the same
comparison runs on the generated shapes (:mod:`resnet_explain.data`), with the same budget for every
network, and reports what it measured (``hypothesis`` in the result says whether the numbers agree).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..chance import chance_error, near_chance
from ..content.training import claim_text
from ..errors import Stopped
from ..spec import NetSpec, cifar_resnet
from ..stored_assets import assets_dir
from ..train.budgets import EXPERIMENTS, Budget, named
from ..train.checkpoints import to_plain
from ..train.concurrent import Job, train_all
from ..train.config import HISTORY_COLUMNS
from ..train.step_history import STEP_COLUMNS
from ..train.estimate import estimate_requests_seconds
from ..train.runs import RunRequest
from ..train.trainer import evaluate
from .convergence import THRESHOLDS, convergence_table, steps_are, steps_per_epoch

STORED_DIR = assets_dir("degradation")


def network(budget: Budget, arch: str, depth: int) -> NetSpec:
    """The network: He et al.'s CIFAR ResNet of ``depth`` (option A) at the budget's width and
    image size, or its plain twin."""
    return cifar_resnet(depth, skip=(arch == "residual"), width=budget.width, in_size=budget.data.size)


def requests(budget: Budget, archs: Sequence[str]) -> list[RunRequest]:
    """The runs the experiment trains under ``budget`` for ``archs``: one per (architecture,
    depth, seed), with the budget's data recipe and training config."""
    return [RunRequest(spec=network(budget, a, d).to_query(), data=budget.data,
                       config=replace(budget.config, seed=s))
            for a in archs for d in budget.depths for s in budget.seeds]


def planned_epochs(budget: Budget, archs: Sequence[str]) -> int:
    """Epochs a full run of ``budget`` trains, all networks together (one progress record each)."""
    return len(archs) * len(budget.depths) * len(budget.seeds) * budget.config.epochs


def estimate_experiment_seconds(budget: Budget, archs: Sequence[str], speed=None) -> float:
    """Rough time of the experiment on this host: every run of it, one after another, at
    ``speed`` (:func:`~..train.estimate.estimate_requests_seconds`; default: this host's one
    measurement)."""
    return estimate_requests_seconds(requests(budget, archs), speed)


@dataclass
class DegradationResult:
    curves: pd.DataFrame  # arch, depth, seed, epoch + HISTORY_COLUMNS: one row per epoch per run
    runs: pd.DataFrame  # arch, depth, seed, final train_error (eval mode), test_error, seconds...
    table: pd.DataFrame  # arch, depth, train_error, test_error (means), *_std, *_min/max, seeds
    meta: dict
    hypothesis: list[dict]
    models: dict = field(default_factory=dict)  # (arch, depth, seed) -> (model, normalizer, grads)
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)  # arch, depth, seed + the per-step
    # curve (train/step_history.py STEP_COLUMNS) of each run that recorded one

    @property
    def convergence(self) -> pd.DataFrame:
        return convergence(self.curves, self.meta, steps=self.steps)

    def to_json(self) -> dict:
        rows = [to_plain(r) for r in self.table.to_dict("records")]
        return {"rows": rows, "runs": [to_plain(r) for r in self.runs.to_dict("records")],
                "curves": [to_plain(r) for r in self.curves.to_dict("records")],
                "convergence": convergence_json(self.curves, self.meta, steps=self.steps),
                "hypothesis": to_plain(self.hypothesis), "meta": to_plain(self.meta)}


def convergence(curves: pd.DataFrame, meta: dict, thresholds=THRESHOLDS,
                steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Steps and epochs to each training-error threshold and the curve's area, per network
    with the seed spread (:func:`.convergence.convergence_table`), from a result's curves (and
    its per-step curves, where it has them: step resolution)."""
    return convergence_table(curves, steps_per_epoch(meta), thresholds, steps)


def convergence_json(curves: pd.DataFrame, meta: dict, thresholds=THRESHOLDS,
                     steps: pd.DataFrame | None = None) -> dict:
    """:func:`convergence` as JSON: its rows (null: never reached), the thresholds, the steps per
    epoch, the resolution and what the numbers are."""
    table = convergence(curves, meta, thresholds, steps)
    return {"rows": [to_plain(r) for r in table.to_dict("records")], **to_plain(table.attrs),
            "steps_are": steps_are(table.attrs)}


@dataclass(frozen=True)
class StoredRuns:
    """A stored run of the experiment (``scripts/make_assets.py``): what the page shows at once."""

    curves: pd.DataFrame  # curves.csv: one row per epoch per network and seed
    runs: pd.DataFrame  # runs.csv: one row per network and seed, final errors and speed
    meta: dict  # results.json's "meta": the budget, the machine, how it was made
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)  # steps.csv, where it was stored

    @property
    def table(self) -> pd.DataFrame:
        return summarise(self.runs)

    @property
    def n_seeds(self) -> int:
        return len(self.meta["seeds"])

    @property
    def convergence(self) -> pd.DataFrame:
        return convergence(self.curves, self.meta, steps=self.steps)


def load_stored(folder: str | Path = STORED_DIR) -> StoredRuns:
    """Read curves.csv, runs.csv, the meta of results.json and (stored since the per-step curve
    exists) steps.csv from ``folder``."""
    folder = Path(folder)
    steps = pd.read_csv(folder / "steps.csv") if (folder / "steps.csv").is_file() else pd.DataFrame()
    return StoredRuns(pd.read_csv(folder / "curves.csv"), pd.read_csv(folder / "runs.csv"),
                      json.loads((folder / "results.json").read_text())["meta"], steps)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, depth): mean, std (over seeds, ddof=1 where 2+), min, max, seed list."""
    out = []
    for (arch, depth), g in runs.groupby(["arch", "depth"], sort=True):
        r = {"arch": arch, "depth": int(depth)}
        for col in ("train_error", "test_error"):
            v = g[col].to_numpy(dtype=float)
            r[col] = float(np.mean(v))
            r[f"{col}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            r[f"{col}_min"] = float(np.min(v))
            r[f"{col}_max"] = float(np.max(v))
        r["seeds"] = [int(s) for s in g["seed"]]
        r["seconds"] = float(g["seconds"].mean())
        r["params"] = int(g["params"].iloc[0])
        out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df["arch"] = pd.Categorical(df["arch"], ["plain", "residual"])
        df = df.sort_values(["arch", "depth"]).reset_index(drop=True)
        df["arch"] = df["arch"].astype(str)
    return df


# He et al.'s three claims: (kind, network a, network b, how a's training error compares with b's);
# "lo"/"hi" are the shallowest and deepest depth measured.
CLAIMS = (("degradation", ("plain", "hi"), ("plain", "lo"), ">"),
          ("residual_deeper", ("residual", "hi"), ("residual", "lo"), "<="),
          ("residual_beats_plain", ("residual", "hi"), ("plain", "hi"), "<"))


def check_hypothesis(table: pd.DataFrame, chance: float | None = None) -> list[dict]:
    """He et al.'s three claims, checked on the measured means (and whether the seed ranges
    overlap, so a reader sees when a difference is within seed-to-seed spread). Each claim's
    ``claim`` names it in words (:func:`resnet_explain.content.training.claim_text`).

    A claim resting on a network that never left chance (``chance``: the error of guessing,
    default the shapes'; :func:`~resnet_explain.chance.near_chance` on its mean training error)
    is not testable here: ``testable`` False, ``untestable`` names the networks, ``holds`` False.
    He et al.'s claims are about networks that train (their plain-56 does, only worse)."""
    def row(arch, depth):
        m = table[(table["arch"] == arch) & (table["depth"] == depth)]
        return None if m.empty else m.iloc[0]

    depths = sorted(set(int(d) for d in table["depth"])) if len(table) else []
    if len(depths) < 2:
        return []
    at = {"lo": depths[0], "hi": depths[-1]}
    chance = chance_error() if chance is None else chance
    out = []
    for kind, (arch_a, da), (arch_b, db), op in CLAIMS:
        a, b = (arch_a, at[da]), (arch_b, at[db])
        ra, rb = row(*a), row(*b)
        if ra is None or rb is None:
            continue
        x, y = float(ra["train_error"]), float(rb["train_error"])
        stuck = [f"{n[0]}-{n[1]}" for n, e in ((a, x), (b, y)) if near_chance(1 - e, 1 - chance)]
        holds = not stuck and {">": x > y, "<=": x <= y, "<": x < y}[op]
        overlap = not (ra["train_error_min"] > rb["train_error_max"]
                       or ra["train_error_max"] < rb["train_error_min"])
        out.append({"claim": claim_text(kind, at["lo"], at["hi"]), "kind": kind,
                    "a": f"{a[0]}-{a[1]}", "b": f"{b[0]}-{b[1]}",
                    "a_train_error": x, "b_train_error": y, "holds": bool(holds),
                    "testable": not stuck, "untestable": stuck,
                    "seed_ranges_overlap": bool(overlap)})
    return out


RUN_COLUMNS = ["arch", "depth", "seed", "train_error", "train_loss", "test_error", "seconds", "params",
               "images_per_s"]
DEVICE_KEYS = ("device", "name", "detail", "torch", "amp", "device_note")


def run_degradation(exp: Budget | str = "cpu-live", depths=None, seeds=None, epochs=None,
                    device=None, progress: Callable[[dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, keep_models: bool = False,
                    archs=("plain", "residual"), together: bool | None = None) -> DegradationResult:
    """Train plain and residual nets at each depth and seed with the same budget (``exp``: a
    budget or the name of one of :data:`~..train.budgets.EXPERIMENTS`).

    ``progress(record)`` gets every epoch record plus ``arch``, ``depth``, ``seed``, ``run`` and
    ``runs``. ``should_stop()`` ends the experiment cooperatively: the finished networks are kept
    and ``meta["stopped"]`` says so (the one place that decides it: the ``except Stopped`` below).
    The final ``train_error`` in ``runs``/``table`` is measured in eval mode on the whole training
    set after training (the curves keep the running train-mode error).

    ``together``: train every network at once through :func:`..train.concurrent.train_all` (a
    network's seeds stacked under vmap; on CUDA the networks concurrently, on their own streams,
    as CUDA graphs; the same curves up to float rounding); None = on CUDA (on a CPU it is slower:
    ``scripts/bench_many.py``). False: one at a time, each exactly :func:`~..train.trainer.train`.
    """
    exp = named(exp, EXPERIMENTS) if isinstance(exp, str) else exp
    exp = exp.with_(depths=tuple(depths) if depths else None, seeds=tuple(seeds) if seeds else None,
                    epochs=epochs, device=device)
    for d in exp.depths:
        network(exp, "plain", d)  # raises SpecError for a depth that is not 6n+2
    exp.config.validate()
    t0 = time.perf_counter()
    train_set, test_set = exp.data.load()
    data_s = time.perf_counter() - t0
    if together is None:
        from ..device import choose_device

        # On CUDA every network at once (the runner trains alone what cannot stack: He et al.'s
        # CIFAR recipe, with its iteration stop and warm-up); on a CPU one at a time (faster there).
        together = choose_device(exp.config.device).device.type == "cuda"
    out = _Collected()
    try:
        _train_all(exp, archs, together, (train_set, test_set), out, progress, should_stop, keep_models)
    except Stopped:
        out.stopped = True  # finished networks stay in the result
    runs_df = pd.DataFrame(out.runs, columns=RUN_COLUMNS)
    table = summarise(runs_df)
    meta = _meta(exp, out, wall=time.perf_counter() - t0, data_s=data_s, together=bool(together))
    meta["steps_per_epoch"] = max(1, len(train_set) // min(exp.config.batch_size, len(train_set)))
    curves_df = pd.DataFrame(out.curves, columns=["arch", "depth", "seed"] + HISTORY_COLUMNS)
    steps_df = pd.DataFrame(out.steps, columns=["arch", "depth", "seed"] + STEP_COLUMNS)
    return DegradationResult(curves_df, runs_df, table, meta, check_hypothesis(table), out.models,
                             steps_df)


@dataclass
class _Collected:
    curves: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    models: dict = field(default_factory=dict)
    device: dict = field(default_factory=dict)
    done: int = 0
    stopped: bool = False


def _groups(exp: Budget, archs, together: bool) -> list[tuple[str, int, tuple[int, ...]]]:
    """(arch, depth, seeds) trained at once: all of a network's seeds together, or one by one."""
    if together:
        return [(a, d, tuple(exp.seeds)) for d in exp.depths for a in archs]
    return [(a, d, (s,)) for s in exp.seeds for d in exp.depths for a in archs]


def _train_all(exp: Budget, archs, together: bool, data, out: _Collected, progress, should_stop,
               keep_models: bool) -> None:
    """Every (arch, depth, seed) through the concurrent runner (:mod:`..train.concurrent`):
    ``together``, a network's seeds share a vmapped stack and, on CUDA, the networks run at once
    on their own streams; otherwise each trains alone, exactly :func:`~..train.trainer.train`.
    The finished networks go to ``out``; raises Stopped when a stop was asked."""
    if should_stop is not None and should_stop():
        raise Stopped
    names = [(a, d, s) for a, d, seeds in _groups(exp, archs, together) for s in seeds]
    tags = [{"arch": a, "depth": d, "seed": s, "run": i + 1, "runs": len(names)}
            for i, (a, d, s) in enumerate(names)]
    # He et al. warm up only their 110-layer net (config_for); such a net trains alone
    jobs = [Job(network(exp, a, d), replace(exp.config_for(d), seed=s), *data) for a, d, s in names]
    cb = (lambda i, rec: progress({**tags[i], **rec})) if progress else None
    results = train_all(jobs, stack=together, progress=cb, should_stop=should_stop)
    for (arch, depth, seed), res in zip(names, results):
        if res is not None and not res.meta["stopped"]:
            _collect(arch, depth, seed, res, data[0], out, keep_models)
    if any(res is None or res.meta["stopped"] for res in results):
        raise Stopped


def _collect(arch: str, depth: int, seed: int, res, train_set, out: _Collected, keep_models: bool) -> None:
    """One finished network's curves, per-step curve and final rows (eval-mode training error)
    into ``out``."""
    out.device = {k: res.meta[k] for k in DEVICE_KEYS if k in res.meta}
    for rec in res.history.to_dict("records"):
        out.curves.append({"arch": arch, "depth": depth, "seed": seed, **rec})
    for rec in res.steps.to_dict("records"):
        out.steps.append({"arch": arch, "depth": depth, "seed": seed, **rec})
    tr_err, tr_loss = evaluate(res.model, train_set, res.normalizer)
    out.runs.append({"arch": arch, "depth": depth, "seed": seed, "train_error": tr_err,
                     "train_loss": tr_loss, "test_error": float(res.history["test_error"].iloc[-1]),
                     "seconds": res.meta["seconds"], "params": res.meta["params"],
                     "images_per_s": float(res.history["images_per_s"].mean())})
    if keep_models:  # the snapshots too: a shipped run carries them (scripts/make_assets.py)
        out.models[(arch, depth, seed)] = (res.model, res.normalizer, res.grads)
    out.done += 1


def _meta(exp: Budget, out: _Collected, wall: float, data_s: float, together: bool) -> dict:
    """What the result says about how it was made (stored as results.json's meta)."""
    return {"experiment": exp.name, "label": exp.label, "note": exp.note, **out.device,
            "epochs": exp.config.epochs, "depths": list(exp.depths), "seeds": list(exp.seeds),
            "n_train": exp.data.n_train, "n_test": exp.data.n_test, "size": exp.data.size,
            "difficulty": exp.data.difficulty, "width": exp.width, "data_seed": exp.data.seed,
            "wall_seconds": wall, "data_seconds": data_s, "stopped": out.stopped,
            "seeds_together": together,
            "threads": torch.get_num_threads(), "train_config": asdict(exp.config),
            "train_error_is": "eval mode, whole training set, after the last epoch",
            "source": "He et al. 2015, arXiv 1512.03385, fig. 6 / table 6 (degradation)",
            "dataset": exp.data.kind if exp.data.kind != "shapes" else "generated shapes (data.make_shapes)"}
