"""``train``, ``runs`` and ``grad-history``: train a network (and its twin) as stored runs.

    python -m resnet_explain train --spec "fam=cnn&net=b8*3~b16/2,b16*2~b32/2,b32*2" --twin --json
    python -m resnet_explain runs --json
    python -m resnet_explain grad-history --run 506ac7f8dea3b9cf --json

A run is fixed by its inputs; asking again for the same ones loads it (``"loaded": true``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from ..errors import UserError
from ..jsonable import json_rows, json_value
from ..spec import NetSpec, block_label, check_budget
from ..train.budgets import BUDGETS
from ..train.config import SNAPSHOT_EVERY
from ..train.estimate import estimate_run_seconds
from ..train.runs import RunStore, train_run

MAX_TRAIN_MEMORY = 16 * 2**30  # estimated training-step memory the CLI accepts (as `probe`)


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="train a network (and with --twin its twin) as stored runs")
    t.add_argument("--spec", required=True, help="a NetSpec query string (as in the app's URL)")
    t.add_argument("--twin", action="store_true", help="also train the twin (every skip toggled)")
    t.add_argument("--budget", choices=sorted(BUDGETS), default="quick",
                   help="; ".join(f"{b.name}: {b.label}" for b in BUDGETS.values()))
    t.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--snapshot-every", type=int, default=SNAPSHOT_EVERY,
                   help=f"record gradient snapshots every K steps (default {SNAPSHOT_EVERY}, as Train "
                        "Your Network does, so the same spec, seed and budget give the page's run id; "
                        "0 = off)")
    t.add_argument("--max-seconds", type=float, default=None,
                   help="refuse (exit 2) when the estimated time is over this")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", help="list the stored runs (shipped and yours)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_runs)

    g = sub.add_parser("grad-history", help="the gradient snapshots a run recorded while training")
    g.add_argument("--run", required=True, help="a run id (see `runs`)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_grad_history)


def _request(a):
    spec = NetSpec.from_query(a.spec)  # SpecError (a UserError) for a bad spec: exit 2
    if spec.family != "cnn":
        raise UserError("--spec: the trainer trains image (cnn) networks")
    req = BUDGETS[a.budget].request(spec, seed=a.seed, device=a.device)
    changes = {}
    if a.epochs is not None:
        changes["epochs"] = a.epochs
    if a.snapshot_every != req.config.snapshot_every:
        changes["snapshot_every"] = a.snapshot_every
    if changes:
        req = replace(req, config=replace(req.config, **changes))
    req.config.validate()
    return req


def cmd_train(a) -> int:
    req = _request(a)
    reqs = [req, req.twin()] if a.twin else [req]
    for r in reqs:  # a SpecError (exit 2) before anything is allocated
        check_budget(r.netspec, r.config.batch_size, max_memory_bytes=MAX_TRAIN_MEMORY)
    store = RunStore()
    todo = [r for r in reqs if not store.has(r.run_id)]
    est = sum(estimate_run_seconds(r) for r in todo)
    if a.max_seconds is not None and est > a.max_seconds:
        raise UserError(f"estimated {est:.0f} s on this machine is over --max-seconds "
                        f"{a.max_seconds:.0f}; use a smaller budget or fewer epochs")

    def progress(rec):
        print(f"epoch {rec['epoch']}: train error {rec['train_error']:.3f}, test error "
              f"{rec['test_error']:.3f}, {rec['images_per_s']:.0f} img/s", file=sys.stderr, flush=True)

    rows = []
    for r in reqs:
        run, loaded = train_run(r, store, progress=progress)
        m = run.meta
        rows.append({"run_id": run.run_id, "name": run.name, "loaded": loaded,
                     "arch": run.spec.arch, "depth": run.spec.depth,
                     "train_error": json_value(m.get("train_error")), "test_error": json_value(m.get("test_error")),
                     "seconds": json_value(m.get("seconds")), "device": m.get("device")})
    if a.json:
        print(json.dumps({"runs": rows, "estimate_seconds": est, "budget": a.budget}))
    else:
        print(f"{'run':<18}{'arch':<10}{'depth':>6}{'train err':>11}{'test err':>10}{'seconds':>9}")
        for r in rows:
            print(f"{r['run_id']:<18}{r['arch']:<10}{r['depth']:>6}{r['train_error']:>11.3f}"
                  f"{r['test_error']:>10.3f}{r['seconds'] or 0:>9.1f}" + ("  (loaded)" if r["loaded"] else ""))
    return 0


def cmd_runs(a) -> int:
    df = RunStore().list().drop(columns=["used"])
    if a.json:
        print(json.dumps({"runs": json_rows(df)}))
    else:
        print(df.to_string(index=False) if len(df) else "no stored runs")
    return 0


def cmd_grad_history(a) -> int:
    run = RunStore().get(a.run)  # RunError (a UserError) for an unknown id: exit 2
    g = run.grads
    if g.empty:
        raise UserError(f"run {run.run_id} recorded no gradient snapshots (trained with "
                        "snapshots off)")
    if a.json:
        print(json.dumps({"run_id": run.run_id, "name": run.name, "rows": json_rows(g)}))
    else:  # the block as people read it first (stage 1 · block 1), its code name beside it
        print(g.assign(label=g["block"].map(block_label))[["label", *g.columns]].to_string(index=False))
    return 0
