"""Pre-compute the Architectures page's default view into assets/architectures/.

    python scripts/make_architectures.py [--depth 20] [--seed 0] [--variants a,b,...]
                                         [--max-minutes 12]

probes.csv: first/last gradient ratio of every variant and its twin at initialisation
(experiments/architectures.probe_row, batch 32). runs.csv: each variant trained once with the quick budget
(train/runs.train_run, stored in the user's run cache as usual); the table keeps each run's id,
the id without the host-resolved precision, its errors, seconds, device and torch, not the
weights. Both files are rewritten after every row, so a run cut short still leaves what finished.
Training stops starting new runs after --max-minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_explain.experiments import architectures as A
from resnet_explain.spec.zoo import DEFAULT_VARIANTS
from resnet_explain.train.runs import RunStore, train_run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=A.DEFAULT_DEPTH)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=A.PROBE_BATCH)
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    ap.add_argument("--max-minutes", type=float, default=12.0)
    ap.add_argument("--skip-probes", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.variants.split(",") if n]
    A.ASSETS.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    if not args.skip_probes:
        old = pd.read_csv(A.STORED_PROBES) if A.STORED_PROBES.is_file() else pd.DataFrame()
        rows = []
        for n in names:
            r = A.probe_row(n, args.depth, args.seed, args.batch)
            rows.append({"variant": n, "depth": args.depth, **r})
            print(f"probe {n}: ratio {r['ratio']:.3g} twin {r['twin_ratio']:.3g} ({r['probe_seconds']:.1f} s)",
                  flush=True)
        new = pd.DataFrame(rows)
        if len(old):  # a variant's row at this depth, seed and batch is replaced (its recipe may have changed)
            same = (old["variant"].isin(new["variant"]) & (old["depth"] == args.depth) & (old["seed"] == args.seed)
                    & (old["batch"] == args.batch))
            old = old[~same]
        pd.concat([old, new], ignore_index=True).to_csv(A.STORED_PROBES, index=False, float_format="%.6g")
        print(f"probes: {time.perf_counter() - t0:.0f} s", flush=True)

    store = RunStore()
    runs = A.stored_runs()
    for n in names:
        if (time.perf_counter() - t0) / 60 > args.max_minutes:
            print(f"stopping: past {args.max_minutes} min; not trained from {n} on", flush=True)
            break
        req = A.request(n, args.depth, args.seed)
        t1 = time.perf_counter()
        run, loaded = train_run(req, store, name=f"{n}-{args.depth}", label="architectures page")
        m = run.meta
        row = {"variant": n, "depth": args.depth, "seed": args.seed, "budget": A.BUDGET,
               "run_id": req.run_id, "base_id": A.base_id(req), "spec": req.spec,
               "amp": req.identity()["config"]["amp"], "train_error": m["train_error"],
               "test_error": m["test_error"], "seconds": m.get("seconds"), "device": m.get("detail", m.get("device")),
               "torch": m.get("torch")}
        if len(runs):  # this variant's row at this depth and seed is replaced
            runs = runs[(runs["run_id"] != req.run_id)
                        & ~((runs["variant"] == n) & (runs["depth"] == args.depth) & (runs["seed"] == args.seed))]
        runs = pd.concat([runs, pd.DataFrame([row])], ignore_index=True)
        runs.to_csv(A.STORED_RUNS, index=False, float_format="%.6g")
        print(f"train {n}: error {m['train_error']:.3f} ({'loaded' if loaded else 'trained'}, "
              f"{time.perf_counter() - t1:.0f} s)", flush=True)
    print(f"total: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
