"""Runs: one object for every trained model, shipped or the visitor's own.

A run is fixed by its inputs: the network spec, the data recipe, the training config and its seed.
Their canonical JSON is hashed into the run's id, so the same inputs always name the same run and
load it instead of training again. A run on disk is a folder named by its id:

    <id>/request.json   the inputs (spec query string, data recipe, training config)
    <id>/model.pt       the checkpoint (state_dict + spec + normalizer + meta; weights_only=True)
    <id>/history.csv    one row per epoch
    <id>/steps.csv      the running training loss and error per window of K steps, when recorded
    <id>/grads.csv      gradient snapshots during training (block x step), when recorded
    <id>/meta.json      device, torch, wall time, final errors

Shipped runs live in ``assets/runs`` (read-only); new ones in the user's cache folder
(``$RESNET_EXPLAIN_CACHE/runs``), capped in bytes with least-recently-used eviction. A run's
model is loaded fresh for each caller: no trained model is shared between visitors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd

from ..data import ImageSet, make_shapes, shapes_train_test
from ..data.cifar import cache_dir
from ..data.text import TextRecipe
from ..device import choose_device
from ..errors import Stopped, UserError
from ..spec import NetSpec
from ..stored_assets import assets_dir
from . import trainer  # called as trainer.train: a test that swaps it out reaches this module
from .checkpoints import load_checkpoint, save_checkpoint, to_plain
from .config import TrainConfig, later_at_default
from .step_history import empty_steps
from .lm_trainer import evaluate_lm

SHIPPED_DIR = assets_dir("runs")
DEFAULT_CAP_BYTES = int(float(os.environ.get("RESNET_EXPLAIN_RUNS_CAP_MB", "200")) * 2**20)
# TrainConfig fields that do not change what is learned: left out of the run's identity.
_NOT_IDENTITY = ("device", "check_every", "max_memory_bytes", "eval_batch_size", "compile",
                 "snapshot_every", "curve_every")  # snapshots and the per-step curve are tested
# not to change the training (tests/unit/test_snapshots.py, test_step_history.py)
RUN_ID_LENGTH = 16
TEXT_KINDS = ("stdlib", "sort")  # data/text.py's recipes


class RunError(UserError):
    """An unknown run id, or a run that cannot be read."""


def valid_run_id(run_id) -> bool:
    """A run id is exactly 16 lowercase hex digits: never a path, whatever a link or flag says."""
    return (isinstance(run_id, str) and len(run_id) == RUN_ID_LENGTH
            and all(c in "0123456789abcdef" for c in run_id))


@dataclass(frozen=True)
class DataRecipe:
    """How a run's data are made: the generated shapes of :mod:`resnet_explain.data.shapes`."""

    n_train: int = 1500
    n_test: int = 500
    size: int = 16
    difficulty: float = 0.05
    seed: int = 0
    kind: str = "shapes"

    def load(self) -> tuple[ImageSet, ImageSet]:
        if self.kind != "shapes":
            raise RunError(f"unknown data kind {self.kind[:20]!r}; runs train on the generated shapes")
        return shapes_train_test(self.n_train, self.n_test, seed=self.seed, size=self.size,
                                 difficulty=self.difficulty)

    def test_images(self, n: int | None = None) -> ImageSet:
        """The first ``n`` images of the run's test split (with their masks)."""
        test = self.load_test()
        return test if n is None else test.subset(min(int(n), len(test)))

    def load_test(self) -> ImageSet:
        return make_shapes(self.n_test, seed=self.seed, size=self.size, difficulty=self.difficulty,
                           split="test")


@dataclass(frozen=True)
class RunRequest:
    """Everything that decides what a run learns."""

    spec: str  # NetSpec query string
    data: DataRecipe | TextRecipe = DataRecipe()  # images (cnn, mlp) or text (transformer)
    config: TrainConfig = TrainConfig()

    def __post_init__(self):
        s = NetSpec.from_query(self.spec)  # raises SpecError for a bad spec
        object.__setattr__(self, "spec", s.to_query())  # canonical form: one id per network
        if (s.family == "transformer") != isinstance(self.data, TextRecipe):
            raise RunError(f"a {s.family} network trains on "
                           f"{'text' if s.family == 'transformer' else 'images'}; the data recipe "
                           f"is {type(self.data).__name__}")
        if isinstance(self.data, TextRecipe):
            return
        if s.in_size != self.data.size:
            raise RunError(f"the network expects {s.in_size}x{s.in_size} images, the data recipe "
                           f"makes {self.data.size}x{self.data.size}")

    @property
    def netspec(self) -> NetSpec:
        return NetSpec.from_query(self.spec)

    def identity(self) -> dict:
        """The inputs that fix the run, as plain JSON data. ``amp`` and ``channels_last`` are
        stored as the trainer resolves them on this host ("auto" is bf16 + channels_last on CUDA
        and AMX CPUs, float32 elsewhere): a float32 run and a bf16 run of the same network learn
        different numbers, so they are different runs."""
        cfg = {k: v for k, v in asdict(self.config).items()
               if k not in _NOT_IDENTITY and not later_at_default(k, v)}
        amp, channels_last = trainer.precision(self.config, choose_device(self.config.device).device)
        cfg.update(amp="bf16" if amp else "off", channels_last="on" if channels_last else "off")
        # A text recipe's identity carries the SHA-256 of the corpus read (data/text.py).
        data = self.data.identity() if isinstance(self.data, TextRecipe) else asdict(self.data)
        return {"spec": self.spec, "data": data, "config": to_plain(cfg)}

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:RUN_ID_LENGTH]

    def twin(self) -> "RunRequest":
        """The same request for the network's twin (every skip toggled)."""
        return replace(self, spec=self.netspec.twin().to_query())

    @classmethod
    def from_identity(cls, d: dict) -> "RunRequest":
        cfg_names = {f.name for f in fields(TrainConfig)}
        cfg = TrainConfig(**{k: v for k, v in d["config"].items() if k in cfg_names})
        data = (TextRecipe.from_identity(d["data"]) if d["data"].get("kind") in TEXT_KINDS
                else DataRecipe(**d["data"]))
        return cls(spec=d["spec"], data=data, config=cfg)


@dataclass
class Run:
    """A finished (or stopped) run as stored: its request, curves, snapshots and meta."""

    run_id: str
    request: RunRequest
    history: pd.DataFrame
    # The gradient snapshots (snapshots.GRAD_COLUMNS) and the per-step curve
    # (step_history.STEP_COLUMNS); None: read from ``path`` when first asked for. A page that only
    # lists or names runs (every visit of Lesion, Landscape, Attribution) then reads neither: the
    # shipped runs' snapshots are ~85 KB of CSV each.
    _grads: pd.DataFrame | None
    meta: dict
    path: Path
    shipped: bool = False
    _steps: pd.DataFrame | None = field(default_factory=empty_steps)

    @property
    def grads(self) -> pd.DataFrame:
        if self._grads is None:
            self._grads = self._read("grads.csv", pd.DataFrame)
        return self._grads

    @property
    def steps(self) -> pd.DataFrame:
        if self._steps is None:
            self._steps = self._read("steps.csv", empty_steps)
        return self._steps

    def _read(self, name: str, empty) -> pd.DataFrame:
        f = self.path / name
        try:
            return pd.read_csv(f) if f.is_file() else empty()
        except (OSError, ValueError) as exc:
            raise RunError(f"run {self.run_id} cannot be read: {exc}") from None

    @property
    def spec(self) -> NetSpec:
        return self.request.netspec

    @property
    def name(self) -> str:
        """A short name: the shipped twins' (plain20, ...) or e.g. "residual-20 (1fb939)"."""
        kind = self.spec.arch
        return self.meta.get("name") or f"{kind}-{self.spec.depth} ({self.run_id[:6]})"

    def load_model(self, device=None):
        """(model in eval mode, normalizer, checkpoint meta): a fresh copy for each caller."""
        return load_checkpoint(self.path / "model.pt", device=device)

    def test_images(self, n: int | None = None) -> ImageSet:
        return self.request.data.test_images(n)


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------
_RUN_FILES = ("request.json", "history.csv", "meta.json")


@lru_cache(maxsize=256)
def _read_run(path: str, stamp: tuple[int, ...]) -> tuple[RunRequest, pd.DataFrame, dict]:
    """A run's request, curves and meta, read once per process while its files' ``stamp`` holds
    (Lesion, Landscape, Attribution name six runs a visit); callers copy what they may change."""
    folder = Path(path)
    return (RunRequest.from_identity(json.loads((folder / "request.json").read_text())),
            pd.read_csv(folder / "history.csv"), json.loads((folder / "meta.json").read_text()))


def default_root() -> Path:
    return cache_dir() / "runs"


@dataclass
class RunStore:
    """The user's runs (``root``, LRU-capped at ``cap_bytes``) plus the shipped ones (read-only)."""

    root: Path = field(default_factory=default_root)
    cap_bytes: int = DEFAULT_CAP_BYTES
    shipped_root: Path = SHIPPED_DIR

    def _folder(self, run_id: str) -> tuple[Path, bool] | None:
        if not valid_run_id(run_id):
            return None  # never a path from user input
        for base, shipped in ((self.root, False), (self.shipped_root, True)):
            p = Path(base) / run_id
            if (p / "model.pt").is_file():
                return p, shipped
        return None

    def has(self, run_id: str) -> bool:
        return self._folder(run_id) is not None

    def get(self, run_id: str) -> Run:
        """The stored run; marks it recently used. Raises RunError when there is none."""
        found = self._folder(run_id)
        if found is None:
            raise RunError(f"no stored run {str(run_id)[:40]!r}; `python -m resnet_explain runs` "
                           "lists them")
        path, shipped = found
        if not shipped:
            try:
                os.utime(path)  # least-recently-used eviction reads the folder's mtime
            except OSError:
                pass  # a read-only cache still serves the run
        try:
            stamp = tuple((path / f).stat().st_mtime_ns for f in _RUN_FILES)
            req, history, meta = _read_run(str(path), stamp)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"run {run_id} cannot be read: {exc}") from None
        return Run(run_id, req, history.copy(), None, copy.deepcopy(meta), path, shipped, None)

    def put(self, request: RunRequest, model, normalizer, history: pd.DataFrame,
            grads: pd.DataFrame | None, meta: dict, steps: pd.DataFrame | None = None) -> Run:
        """Write a run atomically (a temporary folder renamed into place), then evict."""
        run_id = request.run_id
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{run_id}.{os.getpid()}.{time.monotonic_ns()}"
        tmp.mkdir()
        try:
            (tmp / "request.json").write_text(json.dumps(request.identity(), indent=1, sort_keys=True))
            save_checkpoint(model, tmp / "model.pt", normalizer, {**meta, "run_id": run_id})
            history.to_csv(tmp / "history.csv", index=False)
            if grads is not None and len(grads):
                grads.to_csv(tmp / "grads.csv", index=False)
            if steps is not None and len(steps):
                steps.to_csv(tmp / "steps.csv", index=False)
            (tmp / "meta.json").write_text(json.dumps(to_plain({**meta, "run_id": run_id}), indent=1))
            dest = root / run_id
            if dest.exists():
                shutil.rmtree(dest)
            tmp.rename(dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.evict(keep=run_id)
        return self.get(run_id)

    def list(self) -> pd.DataFrame:
        """One row per stored run (shipped and the user's), newest use first."""
        rows = []
        seen = set()
        for base, shipped in ((self.shipped_root, True), (self.root, False)):
            base = Path(base)
            if not base.is_dir() or base.resolve() in seen:
                continue
            seen.add(base.resolve())
            for p in base.iterdir():
                if not (p / "model.pt").is_file():
                    continue
                try:
                    meta = json.loads((p / "meta.json").read_text())
                    req = json.loads((p / "request.json").read_text())
                except (OSError, ValueError):
                    continue
                rows.append({"run_id": p.name, "shipped": shipped, "name": meta.get("name", ""),
                             "label": meta.get("label", ""),
                             "spec": req.get("spec", ""), "train_error": meta.get("train_error"),
                             "test_error": meta.get("test_error"), "seconds": meta.get("seconds"),
                             "device": meta.get("device"), "used": p.stat().st_mtime,
                             "bytes": _size(p)})
        cols = ["run_id", "shipped", "name", "label", "spec", "train_error", "test_error", "seconds", "device",
                "used", "bytes"]
        df = pd.DataFrame(rows, columns=cols)
        return df.sort_values("used", ascending=False).reset_index(drop=True)

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete the least recently used of the user's runs until they fit the cap (the run
        just written, ``keep``, stays even when it alone is over the cap)."""
        root = Path(self.root)
        if not root.is_dir():
            return []
        runs = sorted(((p.stat().st_mtime, p) for p in root.iterdir()
                       if p.is_dir() and not p.name.startswith(".")), key=lambda t: t[0])
        total = sum(_size(p) for _, p in runs)
        gone = []
        for _, p in runs:
            if total <= self.cap_bytes:
                break
            if p.name == keep:
                continue
            total -= _size(p)
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
        return gone


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ---------------------------------------------------------------------------------------------
# Train or load
# ---------------------------------------------------------------------------------------------
def train_run(request: RunRequest, store: RunStore | None = None, *,
              progress: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None, name: str | None = None,
              label: str | None = None,
              data: tuple[ImageSet, ImageSet] | None = None) -> tuple[Run, bool]:
    """(run, loaded): the stored run when these inputs were trained before (``loaded`` True),
    else train now and store it. A run that was stopped is not stored (its inputs did not
    finish): :class:`~resnet_explain.errors.Stopped` is raised. ``data`` may pass the recipe's
    (train, test) already made."""
    store = store or RunStore()
    if store.has(request.run_id):
        return store.get(request.run_id), True
    tr, te = data if data is not None else request.data.load()
    res = trainer.train(request.netspec, tr, te, request.config, progress=progress,
                        should_stop=should_stop)
    return store_trained(request, res, store, (tr, te), name, label), False


def store_trained(request: RunRequest, res, store: RunStore, data: tuple, name: str | None = None,
                  label: str | None = None) -> Run:
    """Store ``res`` (a :class:`~.trainer.TrainResult` of ``request`` trained on ``data``, its
    (train, test)) as a run, with its final errors; a stopped result raises Stopped instead."""
    tr, te = data
    if res.meta.get("stopped"):
        raise Stopped(f"{request.netspec.arch}-{request.netspec.depth} stopped after {res.meta.get('steps', 0)} steps")
    meta = {k: res.meta[k] for k in ("device", "name", "detail", "torch", "seconds", "params", "amp",
                                     "trained_with") if k in res.meta}
    kind = request.netspec.arch
    meta.update(name=name or f"{kind}-{request.netspec.depth}", label=label or "your network",
                created=time.time())
    if isinstance(request.data, TextRecipe):
        meta.update(_lm_summary(res, tr, te))
        return store.put(request, res.model.cpu(), None, res.history, None, meta)
    train_err, train_loss = trainer.evaluate(res.model, tr, res.normalizer)
    meta.update(train_error=train_err,
                train_loss=train_loss, test_error=float(res.history["test_error"].iloc[-1]),
                epochs=int(request.config.epochs),
                train_error_is="eval mode, whole training set, after the last epoch")
    grads = getattr(res, "grads", None)
    return store.put(request, res.model.cpu(), res.normalizer, res.history, grads, meta,
                     getattr(res, "steps", None))


LM_TRAIN_WINDOWS = 256  # training windows a language model's final training loss is measured on


def _lm_summary(res, tr, te) -> dict:
    """A language model's final numbers: eval-mode loss (nats per scored token) on the first
    LM_TRAIN_WINDOWS training windows and on the whole validation split; diverged or not."""
    diverged = bool(res.meta.get("diverged"))
    nan = float("nan")
    return {"train_loss": nan if diverged else evaluate_lm(res.model, tr, max_windows=LM_TRAIN_WINDOWS),
            "val_loss": nan if diverged or te is None else evaluate_lm(res.model, te),
            "diverged": diverged, "steps": int(res.meta.get("steps", 0)),
            "corpus_sha256": tr.meta.get("sha256"),
            "train_loss_is": f"eval mode, first {LM_TRAIN_WINDOWS} training windows, after the last step"}
