"""``--model NAME`` or ``--run ID``: the trained run a command reads (``attribute``,
``attribution-scores``, ``lesion``, ``landscape``), its twin, and what the JSON says about it."""

from __future__ import annotations

from dataclasses import asdict

from ..jsonable import json_value
from ..train import shipped
from ..train.runs import RunStore


def add_run_flags(p) -> None:
    """``--model NAME`` or ``--run ID``, exactly one of them."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="a shipped model, e.g. plain20, residual56")
    g.add_argument("--run", help="a stored run id (16 hex digits; `runs` lists them)")


def resolve_run(a):
    """The run ``--model`` or ``--run`` names (ShippedError / RunError, both UserErrors, if none)."""
    return RunStore().get(a.run) if a.run else shipped.run(a.model)


def twin_of(run):
    """The stored twin of ``run`` (the same request with every skip toggled), else None. A shipped
    twin is also found by name (plain20 <-> residual20)."""
    store = RunStore()
    twin_id = run.request.twin().run_id
    if store.has(twin_id):
        return store.get(twin_id)
    if run.shipped:
        for plain, residual in shipped.pairs().values():
            if run.name in (plain, residual):
                return shipped.run(residual if run.name == plain else plain)
    return None


def run_meta(run) -> dict:
    """What the JSON says about a run: id, name, errors, its data recipe and budget."""
    m = run.meta
    return {"run_id": run.run_id, "name": run.name, "shipped": run.shipped, "spec": run.request.spec,
            "data": asdict(run.request.data), "epochs": run.request.config.epochs,
            "seed": run.request.config.seed, "train_error": json_value(m.get("train_error")),
            "test_error": json_value(m.get("test_error"))}
