"""The Architectures page's numbers: every variant of :mod:`..spec.zoo` at one depth, one row each.

A row: what the variant changes (label, idea, citation), its size (weighted layers, parameters and
forward FLOPs per image, counted from the spec by :func:`~..spec.cost.estimate_cost`: exact, the
built model's count), the first/last block gradient ratio at initialisation of the network and of
its twin (every skip off; :func:`~..probe.probe_spec`, one seeded batch, train mode), He et al.
2016's published CIFAR-10 error of the same idea where table 1 has it (ResNet-110: the depth
differs from ours) or, for DenseNet, ResNeXt and stochastic depth, their own paper's figure
(``content.papers.ZOO_PUBLISHED``: their nets), and the training error after one budget (``quick``, the Train-your-network
page's: :data:`~..train.runs.BUDGETS`).

Training results come from the run store (runs the visitor trained) or from
``assets/architectures/runs.csv``: the default view's results made by
``scripts/make_architectures.py``, the run's meta without its weights (a few kB instead of a few
MB of checkpoints). A stored row is found by the run's id; failing that, by the id of the same
request with the host-resolved precision left out (``base_id``): a host without bf16 then still
shows the stored bf16 run, marked as such in ``train_source``.

Fixup zeroes its classifier (Zhang et al. 2019, rule 1), so at initialisation no gradient reaches
any block: its ratio is 0/0, NaN by design, and ``ratio_note`` says so in words.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..content.architectures import FIXUP_NOTE
from ..content.papers import HE16_TABLE1, ZOO_PUBLISHED, Published
from ..errors import Stopped
from ..probe import probe_spec
from ..spec import NetSpec, estimate_cost
from ..spec.zoo import DEFAULT_VARIANTS, VARIANTS, Variant, variant
from ..stored_assets import assets_dir
from ..train.budgets import BUDGETS
from ..train.concurrent import Job, on_cuda, train_runs
from ..train.estimate import estimate_run_seconds
from ..train.runs import RunStore, train_run

DEPTHS = (8, 14, 20, 32, 44, 56)
DEFAULT_DEPTH = 20
PROBE_BATCH = 32
BUDGET = "quick"
ASSETS = assets_dir("architectures")
STORED_RUNS = ASSETS / "runs.csv"
STORED_PROBES = ASSETS / "probes.csv"
# Where table 1 has several rows for one idea, the one whose setting matches the variant's.
_ROW_DETAIL = {"scale": "F ×0.5 (", "gate": "initialised −6", "sgate": "initialised −6"}
PUBLISHED_NOTE = "He et al. 2016 table 1, ResNet-110"

COLUMNS = ["variant", "label", "idea", "cite", "layers", "params", "flops", "ratio", "twin_ratio",
           "log10_ratio", "log10_twin_ratio", "ratio_note", "twin_note", "published_error", "published_value",
           "published_source", "published_detail", "train_error", "test_error", "train_source",
           "run_id", "spec", "twin_spec", "depth", "seed", "batch"]


# ---------------------------------------------------------------------------------------------
# Published numbers
# ---------------------------------------------------------------------------------------------
def published(v: Variant) -> Published | None:
    """The row of He et al. 2016 table 1 that ``v.published`` names; where the label repeats
    (constant scaling, the gatings), the one with the variant's own setting. For an idea from
    another paper, that paper's own CIFAR-10 figure (``content.papers.ZOO_PUBLISHED``)."""
    if not v.published:
        return ZOO_PUBLISHED.get(v.name)
    rows = [p for p in HE16_TABLE1 if p.label == v.published]
    if len(rows) > 1:
        rows = [p for p in rows if _ROW_DETAIL.get(v.name, "\0") in p.detail]
    return rows[0] if len(rows) == 1 else None


# ---------------------------------------------------------------------------------------------
# Probe rows (network and twin at initialisation)
# ---------------------------------------------------------------------------------------------
def probe_key(name: str, depth: int, seed: int, batch: int) -> tuple[str, int, int]:
    """What a probe row is cached by: the spec's query string, the seed, the batch."""
    return variant(name, depth).to_query(), int(seed), int(batch)


def probe_row(name: str, depth: int, seed: int = 0, batch: int = PROBE_BATCH, device=None) -> dict:
    """First/last gradient ratio of the variant and of its twin: :func:`~..probe.probe_spec`."""
    return probe_query(variant(name, depth).to_query(), seed, batch, device)


def probe_query(query: str, seed: int = 0, batch: int = PROBE_BATCH, device=None) -> dict:
    """:func:`probe_row` for a network given by its spec query string (the page's cache key)."""
    spec = NetSpec.from_query(query)
    t0 = time.perf_counter()
    net = probe_spec(spec, seed=seed, batch=batch, device=device)
    twin = probe_spec(spec.twin(), seed=seed, batch=batch, device=device)
    return {"spec": spec.to_query(), "seed": int(seed), "batch": int(batch), "ratio": net.ratio,
            "twin_ratio": twin.ratio, "log10_ratio": net.log10_ratio,
            "log10_twin_ratio": twin.log10_ratio, "probe_seconds": time.perf_counter() - t0}


def stored_probes(path: Path = STORED_PROBES) -> dict[tuple[str, int, int], dict]:
    """The probe rows made by scripts/make_architectures.py, by :func:`probe_key`."""
    if not Path(path).is_file():
        return {}
    df = pd.read_csv(path)
    return {(r["spec"], int(r["seed"]), int(r["batch"])): dict(r) for r in df.to_dict("records")}


def probe_seconds_estimate(depth: int, names: Iterable[str], batch: int, speed) -> float:
    """Rough time to probe ``names`` and their twins on this host: a probe is a forward and a
    backward pass on ``batch`` examples, priced as one training step of the network and one of its
    twin at ``speed`` (:class:`~..train.estimate.HostSpeed`, this host's one measurement)."""
    return float(sum(2 * speed.train_step(variant(n, depth), batch) for n in names))


def inline_seconds() -> float:
    """Probes estimated under this many seconds run in the page's script run; longer ones in a
    background job (``RESNET_EXPLAIN_INLINE_PROBE_SECONDS``, default 15)."""
    return float(os.environ.get("RESNET_EXPLAIN_INLINE_PROBE_SECONDS", "15"))


# ---------------------------------------------------------------------------------------------
# Training rows (one budget, the run machinery)
# ---------------------------------------------------------------------------------------------
def request(name: str, depth: int, seed: int = 0, budget: str = BUDGET):
    """The run of the variant under ``budget`` (:meth:`~..train.runs.Budget.request`)."""
    return BUDGETS[budget].request(variant(name, depth), seed)


def base_id(req) -> str:
    """The run id of ``req`` with the host-resolved precision (amp, channels_last) left out."""
    ident = req.identity()
    cfg = {k: v for k, v in ident["config"].items() if k not in ("amp", "channels_last")}
    blob = json.dumps({**ident, "config": cfg}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stored_runs(path: Path = STORED_RUNS) -> pd.DataFrame:
    """The training results shipped in assets (one row per run, no weights)."""
    return pd.read_csv(path, dtype={"run_id": str, "base_id": str}) if Path(path).is_file() else pd.DataFrame()


def run_result(req, store=None, shipped: pd.DataFrame | None = None) -> dict | None:
    """{train_error, test_error, train_source, run_id} of ``req`` when it is stored (the run
    store first, then the shipped table by run id, then by :func:`base_id`), else None."""
    if store is not None and store.has(req.run_id):
        m = store.get(req.run_id).meta
        return {"train_error": float(m["train_error"]), "test_error": float(m["test_error"]),
                "train_source": "stored run", "run_id": req.run_id}
    shipped = stored_runs() if shipped is None else shipped
    if len(shipped):
        for col, how in (("run_id", req.run_id), ("base_id", base_id(req))):
            hit = shipped[shipped[col] == how]
            if len(hit):
                r = hit.iloc[0]
                src = "shipped result" + ("" if col == "run_id" else f" ({r['amp']} run)")
                return {"train_error": float(r["train_error"]), "test_error": float(r["test_error"]),
                        "train_source": src, "run_id": str(r["run_id"])}
    return None


@dataclass(frozen=True)
class PlannedTraining:
    name: str
    request: object  # RunRequest
    estimate: float  # seconds


def plan_training(depth: int, names: Sequence[str], seed: int, store=None,
                  seconds: Callable[[object], float] | None = None) -> list[PlannedTraining]:
    """The variants with no stored result, each with a rough time: ``seconds(request)`` (default
    :func:`~..train.estimate.estimate_run_seconds`, this host's one measurement)."""
    seconds = seconds or estimate_run_seconds
    shipped = stored_runs()
    todo = [(n, request(n, depth, seed)) for n in names]
    return [PlannedTraining(n, r, float(seconds(r))) for n, r in todo
            if run_result(r, store, shipped) is None]


def train_missing(plan: Sequence[PlannedTraining], store, progress: Callable[[dict], None] | None = None,
                  should_stop: Callable[[], bool] | None = None, together: bool | None = None) -> list[str]:
    """Train the planned runs (each stored when it finishes). Epoch records reach ``progress``
    tagged with the variant; a stop ends it (the stopped run is not stored). Returns the names
    trained. ``together``: every variant at once through
    :func:`~..train.concurrent.train_runs` (on CUDA, each on its own stream; the same runs up to
    float rounding); None = on CUDA; False: in turn, each :func:`~..train.runs.train_run`."""
    tags = [{"variant": p.name, "run": i, "runs": len(plan)} for i, p in enumerate(plan, 1)]
    names = [f"{p.name}-{p.request.netspec.depth}" for p in plan]
    if together is None:
        together = on_cuda(Job(p.request.netspec, p.request.config, None) for p in plan)
    if together:
        report = (lambda k, rec: progress({**rec, **tags[k]})) if progress else None
        got = train_runs([p.request for p in plan], store, together=True, progress=report,
                         should_stop=should_stop, names=names, label="architectures page")
        return [p.name for p, g in zip(plan, got) if g is not None]
    done = []
    for p, tag, name in zip(plan, tags, names):
        report = (lambda rec, tag=tag: progress({**rec, **tag})) if progress else None
        try:
            train_run(p.request, store, progress=report, should_stop=should_stop, name=name,
                      label="architectures page")
        except Stopped:  # the stopped run is not stored; the names trained before it are kept
            break
        done.append(p.name)
    return done


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def compare(depth: int = DEFAULT_DEPTH, names: Sequence[str] = DEFAULT_VARIANTS, seed: int = 0,
            batch: int = PROBE_BATCH, store=None, train: bool = False,
            probes: Callable[[str, int, int, int], dict] | None = None) -> pd.DataFrame:
    """One row per variant (columns :data:`COLUMNS`). ``probes(name, depth, seed, batch)`` gives
    the probe row (default :func:`probe_row`; the page passes its cache). Training errors come
    from ``store`` and the shipped table; ``train=True`` trains the missing runs first (into
    ``store``, default the user's RunStore)."""
    probes = probes or probe_row
    if train:
        store = store or RunStore()
        train_missing(plan_training(depth, names, seed, store, seconds=lambda r: 0.0), store)
    shipped = stored_runs()
    rows = []
    for n in names:
        v, spec = VARIANTS[n], variant(n, depth)
        cost, p = estimate_cost(spec), probes(n, depth, seed, batch)
        pub = published(v)
        res = run_result(request(n, depth, seed), store, shipped) or {}
        no_grad = not math.isfinite(p["ratio"]) and spec.init == "fixup"
        twin_no_grad = not math.isfinite(p["twin_ratio"]) and spec.twin().init == "fixup"
        rows.append({
            "variant": n, "label": v.label, "idea": v.idea, "cite": v.cite, "layers": spec.depth,
            "params": cost.params, "flops": cost.flops, "ratio": p["ratio"], "twin_ratio": p["twin_ratio"],
            "log10_ratio": p["log10_ratio"], "log10_twin_ratio": p["log10_twin_ratio"],
            "ratio_note": FIXUP_NOTE if no_grad else "", "twin_note": FIXUP_NOTE if twin_no_grad else "",
            "published_error": pub.number if pub else math.nan,
            "published_value": pub.value if pub else "",
            "published_source": (PUBLISHED_NOTE if pub in HE16_TABLE1 else
                                 f"{pub.paper} {pub.where}, {pub.label}") if pub else "", "published_detail": pub.detail if pub else "",
            "train_error": res.get("train_error", math.nan), "test_error": res.get("test_error", math.nan),
            "train_source": res.get("train_source", "not trained"), "run_id": res.get("run_id", ""),
            "spec": spec.to_query(), "twin_spec": spec.twin().to_query(), "depth": int(depth),
            "seed": int(seed), "batch": int(batch)})
    return pd.DataFrame(rows, columns=COLUMNS)


