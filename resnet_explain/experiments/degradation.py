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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..data import ImageSet, shapes_train_test
from ..spec import NetSpec, cifar_resnet
from ..train.checkpoints import to_plain
from ..train.config import HISTORY_COLUMNS, TrainConfig, TrainError
from ..train.trainer import evaluate, train

STORED_DIR = Path(__file__).resolve().parents[2] / "assets" / "degradation"


@dataclass(frozen=True)
class Experiment:
    """One budget for all networks of the comparison: data, widths, depths, seeds, training."""

    name: str
    label: str  # how results must be labelled ("CPU budget", ...)
    n_train: int
    n_test: int
    size: int  # image side
    difficulty: float
    width: int  # first-stage width (He et al.: 16)
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    train: TrainConfig
    data_seed: int = 0
    note: str = ""

    def spec(self, arch: str, depth: int) -> NetSpec:
        """The network: He et al.'s CIFAR ResNet of ``depth`` (option A), or its plain twin."""
        return cifar_resnet(depth, skip=(arch == "residual"), width=self.width, in_size=self.size)

    def data(self) -> tuple[ImageSet, ImageSet]:
        return shapes_train_test(self.n_train, self.n_test, seed=self.data_seed, size=self.size,
                                 difficulty=self.difficulty)

    def with_(self, **kw) -> "Experiment":
        train_kw = {k: kw.pop(k) for k in ("epochs", "device") if k in kw and kw[k] is not None}
        kw = {k: v for k, v in kw.items() if v is not None}
        return replace(self, train=replace(self.train, **train_kw), **kw)


EXPERIMENTS: dict[str, Experiment] = {
    # Small enough for the live page on a 2-vCPU box (about a minute for one seed of 20 vs 56).
    "cpu-live": Experiment(
        name="cpu-live", label="CPU live (small: 16x16 images, width 8)", n_train=1500, n_test=1000,
        size=16, difficulty=0.05, width=8, depths=(20, 56), seeds=(0,),
        train=TrainConfig(epochs=8, batch_size=32, lr=0.05, device="cpu"),
        note="reduced for a 2-core CPU; not He et al.'s setting"),
    # What the stored assets were made with when no GPU was available (~25 min on 2 cores).
    "cpu-budget": Experiment(
        name="cpu-budget", label="CPU budget (16x16 images, width 8)", n_train=5000, n_test=2000,
        size=16, difficulty=0.1, width=8, depths=(20, 56), seeds=(0, 1, 2),
        train=TrainConfig(epochs=12, batch_size=64, lr=0.1, device="cpu"),
        note="reduced for a 2-core CPU; not He et al.'s setting"),
    # The feasibility setting measured on an H200 with a plain-PyTorch reference (see DESIGN).
    "gpu": Experiment(
        name="gpu", label="GPU (32x32 images, width 16, as He et al.'s CIFAR nets)", n_train=20000,
        n_test=5000, size=32, difficulty=0.3, width=16, depths=(20, 56, 110), seeds=(0, 1, 2),
        train=TrainConfig(epochs=6, batch_size=128, lr=0.1, device="auto")),
}


@dataclass
class DegradationResult:
    curves: pd.DataFrame  # arch, depth, seed, epoch + HISTORY_COLUMNS: one row per epoch per run
    runs: pd.DataFrame  # arch, depth, seed, final train_error (eval mode), test_error, seconds...
    table: pd.DataFrame  # arch, depth, train_error, test_error (means), *_std, *_min/max, seeds
    meta: dict
    hypothesis: list[dict]
    models: dict = field(default_factory=dict)  # (arch, depth, seed) -> (model, normalizer)

    def to_json(self) -> dict:
        rows = [to_plain(r) for r in self.table.to_dict("records")]
        return {"rows": rows, "runs": [to_plain(r) for r in self.runs.to_dict("records")],
                "curves": [to_plain(r) for r in self.curves.to_dict("records")],
                "hypothesis": to_plain(self.hypothesis), "meta": to_plain(self.meta)}


@dataclass(frozen=True)
class StoredRuns:
    """A stored run of the experiment (``scripts/make_assets.py``): what the page shows at once."""

    curves: pd.DataFrame  # curves.csv: one row per epoch per network and seed
    runs: pd.DataFrame  # runs.csv: one row per network and seed, final errors and speed
    meta: dict  # results.json's "meta": the budget, the machine, how it was made

    @property
    def table(self) -> pd.DataFrame:
        return summarise(self.runs)

    @property
    def n_seeds(self) -> int:
        return len(self.meta["seeds"])


def load_stored(folder: str | Path = STORED_DIR) -> StoredRuns:
    """Read curves.csv, runs.csv and the meta of results.json from ``folder``."""
    folder = Path(folder)
    return StoredRuns(pd.read_csv(folder / "curves.csv"), pd.read_csv(folder / "runs.csv"),
                      json.loads((folder / "results.json").read_text())["meta"])


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


def check_hypothesis(table: pd.DataFrame) -> list[dict]:
    """He et al.'s three claims, checked on the measured means (and whether the seed ranges
    overlap, so a reader sees when a difference is within seed-to-seed spread)."""
    def row(arch, depth):
        m = table[(table["arch"] == arch) & (table["depth"] == depth)]
        return None if m.empty else m.iloc[0]

    depths = sorted(set(int(d) for d in table["depth"])) if len(table) else []
    out = []
    if len(depths) < 2:
        return out
    lo, hi = depths[0], depths[-1]
    claims = [
        (f"plain-{hi} trains worse than plain-{lo} (degradation)", ("plain", hi), ("plain", lo), ">"),
        (f"residual-{hi} trains at least as well as residual-{lo}", ("residual", hi), ("residual", lo), "<="),
        (f"residual-{hi} trains better than plain-{hi}", ("residual", hi), ("plain", hi), "<"),
    ]
    for text, a, b, op in claims:
        ra, rb = row(*a), row(*b)
        if ra is None or rb is None:
            continue
        x, y = float(ra["train_error"]), float(rb["train_error"])
        holds = {">": x > y, "<=": x <= y, "<": x < y}[op]
        overlap = not (ra["train_error_min"] > rb["train_error_max"]
                       or ra["train_error_max"] < rb["train_error_min"])
        out.append({"claim": text, "a": f"{a[0]}-{a[1]}", "b": f"{b[0]}-{b[1]}",
                    "a_train_error": x, "b_train_error": y, "holds": bool(holds),
                    "seed_ranges_overlap": bool(overlap)})
    return out


def run_degradation(exp: Experiment | str = "cpu-live", depths=None, seeds=None, epochs=None,
                    device=None, progress: Callable[[dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, keep_models: bool = False,
                    archs=("plain", "residual"), together: bool | None = None) -> DegradationResult:
    """Train plain and residual nets at each depth and seed with the same budget.

    ``progress(record)`` gets every epoch record plus ``arch``, ``depth``, ``seed``, ``run`` and
    ``runs``. ``should_stop()`` ends the experiment cooperatively (finished runs are kept;
    ``meta["stopped"]``). The final ``train_error`` in ``runs``/``table`` is measured in eval mode
    on the whole training set after training (the curves keep the running train-mode error).

    ``together``: train the seeds of each network at once (:func:`.many.train_seeds`, the same
    curves up to float rounding); None = on CUDA when there are several seeds (on a CPU it is
    slower: ``scripts/bench_many.py``).
    """
    if isinstance(exp, str):
        if exp not in EXPERIMENTS:
            raise TrainError(f"unknown experiment {exp[:30]!r}; known: {', '.join(EXPERIMENTS)}")
        exp = EXPERIMENTS[exp]
    exp = exp.with_(depths=tuple(depths) if depths else None, seeds=tuple(seeds) if seeds else None,
                    epochs=epochs, device=device)
    for d in exp.depths:
        exp.spec("plain", d)  # raises SpecError for a depth that is not 6n+2
    exp.train.validate()
    t0 = time.perf_counter()
    train_set, test_set = exp.data()
    data_s = time.perf_counter() - t0
    if together is None:
        from ..device import choose_device

        together = len(exp.seeds) > 1 and choose_device(exp.train.device).device.type == "cuda"
    if together:  # one group per network, all its seeds at once
        groups = [(a, d, tuple(exp.seeds)) for d in exp.depths for a in archs]
    else:
        groups = [(a, d, (s,)) for s in exp.seeds for d in exp.depths for a in archs]
    n_runs = len(exp.seeds) * len(exp.depths) * len(archs)
    curves, runs, models = [], [], {}
    stopped = False
    dev_info: dict = {}
    done = 0
    for arch, depth, seeds in groups:
        if should_stop is not None and should_stop():
            stopped = True
            break
        tags = [{"arch": arch, "depth": depth, "seed": s, "run": done + i + 1, "runs": n_runs}
                for i, s in enumerate(seeds)]
        if len(seeds) == 1:
            cb = (lambda rec, tag=tags[0]: progress({**tag, **rec})) if progress else None
            results = [train(exp.spec(arch, depth), train_set, test_set, replace(exp.train, seed=seeds[0]),
                             progress=cb, should_stop=should_stop)]
        else:
            from ..train.many import train_seeds

            cb = (lambda i, rec, tags=tags: progress({**tags[i], **rec})) if progress else None
            results = train_seeds(exp.spec(arch, depth), train_set, test_set, exp.train, seeds,
                                  progress=cb, should_stop=should_stop)
        for seed, res in zip(seeds, results):
            dev_info = {k2: res.meta[k2] for k2 in ("device", "name", "detail", "torch", "amp",
                                                    "device_note") if k2 in res.meta}
            if res.meta["stopped"]:
                stopped = True
                break
            for rec in res.history.to_dict("records"):
                curves.append({"arch": arch, "depth": depth, "seed": seed, **rec})
            tr_err, tr_loss = evaluate(res.model, train_set, res.normalizer)
            te_err = float(res.history["test_error"].iloc[-1])
            runs.append({"arch": arch, "depth": depth, "seed": seed, "train_error": tr_err,
                         "train_loss": tr_loss, "test_error": te_err, "seconds": res.meta["seconds"],
                         "params": res.meta["params"],
                         "images_per_s": float(res.history["images_per_s"].mean())})
            if keep_models:
                models[(arch, depth, seed)] = (res.model, res.normalizer)
        done += len(seeds)
        if stopped:
            break
    curves_df = pd.DataFrame(curves, columns=["arch", "depth", "seed"] + HISTORY_COLUMNS)
    runs_df = pd.DataFrame(runs, columns=["arch", "depth", "seed", "train_error", "train_loss",
                                          "test_error", "seconds", "params", "images_per_s"])
    table = summarise(runs_df)
    meta = {"experiment": exp.name, "label": exp.label, "note": exp.note, **dev_info,
            "epochs": exp.train.epochs, "depths": list(exp.depths), "seeds": list(exp.seeds),
            "n_train": exp.n_train, "n_test": exp.n_test, "size": exp.size,
            "difficulty": exp.difficulty, "width": exp.width, "data_seed": exp.data_seed,
            "wall_seconds": time.perf_counter() - t0, "data_seconds": data_s, "stopped": stopped,
            "seeds_together": bool(together),
            "threads": torch.get_num_threads(), "train_config": asdict(exp.train),
            "train_error_is": "eval mode, whole training set, after the last epoch",
            "source": "He et al. 2015, arXiv 1512.03385, fig. 6 / table 6 (degradation)",
            "dataset": "generated shapes (resnet_explain.data.make_shapes)"}
    return DegradationResult(curves_df, runs_df, table, meta, check_hypothesis(table), models)
