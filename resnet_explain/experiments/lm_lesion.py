"""Lesion Study of a Transformer pair: delete one layer (or one sublayer) at a time and measure the
validation loss, for a network and its twin (every skip off, the same weights at the start).

The deletion and the measurement are the Transformers page's own
(:func:`resnet_explain.experiments.transformers_trained.lesion`: a sublayer with a skip keeps its
skip and drops its branch; one without a skip passes its input on, a path the network never trained
with — Veit et al. 2016, arXiv 1605.06431). Here they run on any stored Transformer pair (the
visitor's own, from Train Your Network), as a background job with an estimate from the one host
measurement (:mod:`resnet_explain.train.estimate`), or are read from the Transformers page's stored
results for its default pair (pre-LN and its twin without skips, lr 0.001, 15 warm-up steps, seed 0:
assets/transformers/README.md), which ships the tables and not the weights.

A side that never left the byte-frequency loss learnt no context, so deleting its layers cannot
show what they do: :func:`findings` flags it by the one rule of a fair pair
(:func:`resnet_explain.chance.unfair_lm_sides`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..chance import unfair_lm_sides
from ..errors import Stopped
from . import transformers_trained as tft
from .transformers_stored import load_stored
from .transformers_train import pair_cells
from .your_lm import reference_loss

WINDOWS = tft.LESION_WINDOWS  # validation windows per forward pass (the stored tables' count)
FORWARD_BATCH = 32  # transformers_trained's batch of windows
# The Transformers page's stored pair: its variant names, as this page's architectures.
STORED_VARIANTS = {"no skips": "plain", "pre-LN": "residual"}
LONG_COLUMNS = ["arch", "net", "unit", "removed", "layer", "val_loss", "delta", "base_loss"]


def lesion_passes(spec) -> int:
    """Forward passes over the windows a study of ``spec`` makes: the whole network, each layer
    deleted, each sublayer deleted (:func:`~.transformers_trained.lesion`)."""
    return 1 + 3 * spec.depth


def estimate_seconds(spec, windows: int, speed) -> float:
    """Rough seconds of a study of ``spec`` on ``windows`` validation windows: its passes × one
    forward pass at ``speed`` (:class:`~resnet_explain.train.estimate.HostSpeed`)."""
    return lesion_passes(spec) * speed.forward_seconds(spec, int(windows), FORWARD_BATCH)


def study_pair(twins: dict, windows: int = WINDOWS, progress: Callable[[int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> tuple[dict, dict]:
    """Lesion studies of a pair, one network after the other. ``twins`` maps an architecture
    ("plain", "residual") to (load, val): ``load()`` returns (model, ...) as ``Run.load_model``
    does, ``val`` the run's validation windows. ``progress(done)`` counts forward passes;
    ``should_stop()`` is polled before each network (a study of one is seconds):
    :class:`~resnet_explain.errors.Stopped`. Returns ({arch: table}, {arch: seconds})."""
    tables, secs, done = {}, {}, 0
    for arch, (load, val) in twins.items():
        if should_stop is not None and should_stop():
            raise Stopped(f"stopped before {arch}")
        model = load()[0]
        t = time.perf_counter()
        tables[arch] = tft.lesion(model, val, windows)
        secs[arch] = time.perf_counter() - t
        done += lesion_passes(model.spec)
        if progress is not None:
            progress(done)
    return tables, secs


def lesion_long(tables: dict[str, pd.DataFrame], depth: int) -> pd.DataFrame:
    """Stack per-arch lesion tables: one row per deleted layer or sublayer, with the net's name
    and the whole network's loss (``base_loss``) beside each."""
    parts = []
    for arch, t in tables.items():
        base = float(t.loc[t["unit"] == "none", "val_loss"].iloc[0])
        parts.append(t[t["unit"] != "none"].assign(arch=arch, net=f"{arch}-{depth}", base_loss=base))
    if not parts:
        return pd.DataFrame(columns=LONG_COLUMNS)
    return pd.concat(parts, ignore_index=True)[LONG_COLUMNS]


@dataclass(frozen=True)
class StoredPair:
    """The Transformers page's stored lesion of its default pair: tables, reference, provenance."""

    tables: dict  # arch -> lesion table (transformers_trained.LESION_COLUMNS)
    reference: float  # the byte-frequency loss on the same validation windows
    run_ids: tuple[str, str]  # (plain, residual): the runs the tables were measured on
    depth: int
    same_corpus: bool  # this Python's corpus hashes to the one they were trained on
    meta: dict


def stored_pair() -> StoredPair | None:
    """The stored lesion of pre-LN and its twin without skips (assets/transformers/lesion.csv),
    or None when it is not shipped."""
    s = load_stored()
    if not len(s.lesion) or s.meta.get("unigram_loss") is None:
        return None
    tables = {arch: s.lesion[s.lesion["variant"] == v].drop(columns="variant").reset_index(drop=True)
              for v, arch in STORED_VARIANTS.items() if (s.lesion["variant"] == v).any()}
    if len(tables) != 2:
        return None
    cells = {c.variant: c for c in pair_cells()}  # the pair the stored tables were measured on
    requests = [cells[v].request() for v in STORED_VARIANTS]
    depth = int(tables["residual"]["layer"].max()) + 1
    # the reference on the windows the tables were measured on; another Python's corpus: the
    # stored whole-split value (meta.json), as its bytes are not here to count
    ref = (reference_loss(requests[0].data, WINDOWS) if s.same_corpus else float(s.meta["unigram_loss"]))
    return StoredPair(tables, ref, tuple(r.run_id for r in requests), depth, s.same_corpus, s.meta)


def findings(long: pd.DataFrame, reference: float, unit: str = "layer") -> dict:
    """Per arch, what deleting one ``unit`` (layer or sublayer) costs: the whole network's loss,
    median, mean and largest loss added (nats per byte), the worst unit, how many are deletable;
    and ``flag``: the fair-pair rule on the whole networks' losses against ``reference``."""
    out = {}
    for arch, d in long[long["unit"] == unit].groupby("arch", sort=False):
        worst = d.loc[d["delta"].idxmax()]
        out[arch] = {"net": str(d["net"].iloc[0]), "base_loss": float(d["base_loss"].iloc[0]),
                     "median_delta": float(d["delta"].median()), "mean_delta": float(d["delta"].mean()),
                     "max_delta": float(worst["delta"]), "worst": str(worst["removed"]), "units": len(d),
                   "deltas": [float(v) for v in d["delta"]]}
    flags = unfair_lm_sides({a: f["base_loss"] for a, f in out.items()}, reference)
    for a, f in out.items():
        f["flag"] = flags.get(a)
    return out
