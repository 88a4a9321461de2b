"""Regenerate assets/degradation/ (results JSON/CSV) and the shipped runs in assets/runs/ (seed 0 twins).

He et al. 2015 (arXiv 1512.03385) degradation experiment: plain vs residual CIFAR-style nets at
several depths, same budget, several seeds. On a GPU the ``gpu`` experiment runs (32x32, width
16, depths 20/32/44/56/110, 3 seeds); without one, the ``cpu-budget`` experiment (16x16, width 8,
depths 20/56 only), labelled as such in every output. ``--experiment cifar10-he2015`` trains He et
al.'s own recipe on CIFAR-10 (a GPU's job; the files in the data folder, RESNET_EXPLAIN_DATA, or a
download) and writes to assets/cifar10_he2015/ (no shipped runs: those are the generated task's).
He et al.'s table 6 goes beside the measured table in results.json ("papers").

    python scripts/make_assets.py                       # picks gpu or cpu-budget
    python scripts/make_assets.py --experiment cpu-budget --threads 1
    python scripts/make_assets.py --experiment cpu-live --seeds 0 --out /tmp/try --no-runs
    python scripts/make_assets.py --experiment cifar10-he2015       # fig. 6, on a GPU

Checkpoints: the first seed's model of each (arch, depth), float32 state_dict + spec string +
normaliser + meta (how to rebuild its test set), loadable with torch.load(weights_only=True) via
resnet_explain.train.shipped (runs: resnet_explain.train.runs), with its gradient snapshots every
--snapshot-every steps (the stride the "Why plain nets fail" page reads; they do not change what is
learned, but the seeds-together trainer does not take them, so with runs stored each seed trains
alone) and its per-step training curve. steps.csv holds every network's per-step curve (running
training loss and error per window of TrainConfig.curve_every steps): convergence is then read at
step resolution.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from resnet_explain.experiments.cifar_he2015 import beside_paper  # noqa: E402
from resnet_explain.experiments.degradation import run_degradation  # noqa: E402
from resnet_explain.experiments.mechanism_runs import SNAPSHOT_EVERY  # noqa: E402
from resnet_explain.train import shipped  # noqa: E402
from resnet_explain.train.budgets import EXPERIMENTS  # noqa: E402


def _ints(text):
    return [int(v) for v in text.replace(",", " ").split()] if text else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", choices=sorted(EXPERIMENTS), default=None,
                   help="default: gpu when CUDA is present, else cpu-budget")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--depths", default=None, help="e.g. 20,56")
    p.add_argument("--seeds", default=None, help="e.g. 0,1,2")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is steadiest on a shared 2-core machine)")
    p.add_argument("--out", default=None, help="default: assets/degradation, or assets/cifar10_he2015 "
                   "for the CIFAR-10 experiments")
    p.add_argument("--no-runs", action="store_true", help="do not store the seed-0 twins as shipped runs")
    p.add_argument("--snapshot-every", type=int, default=SNAPSHOT_EVERY,
                   help="gradient snapshots every K steps in the stored runs (0 = none)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    name = a.experiment or ("gpu" if torch.cuda.is_available() else "cpu-budget")
    cifar = EXPERIMENTS[name].data.kind != "shapes"
    out = Path(a.out or ROOT / "assets" / ("cifar10_he2015" if cifar else "degradation"))
    a.no_runs = a.no_runs or cifar  # shipped runs are the generated task's
    out.mkdir(parents=True, exist_ok=True)

    def progress(rec):
        print(f"[{rec['run']}/{rec['runs']}] {rec['arch']}-{rec['depth']} seed {rec['seed']} "
              f"epoch {rec['epoch']}: loss {rec['train_loss']:.3f} train err {rec['train_error']:.3f} "
              f"test err {rec['test_error']:.3f} ({rec['seconds']:.1f} s, {rec['images_per_s']:.0f} img/s)",
              file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    exp = EXPERIMENTS[name]
    if not a.no_runs and a.snapshot_every:  # the shipped runs carry their own snapshots
        exp = replace(exp, config=replace(exp.config, snapshot_every=a.snapshot_every))
    res = run_degradation(exp, depths=_ints(a.depths), seeds=_ints(a.seeds), epochs=a.epochs,
                          device=a.device, progress=progress, keep_models=not a.no_runs)
    obj = res.to_json()
    obj["papers"] = [{k: r[k] for k in ("arch", "depth", "paper_test_error", "paper_source")}
                     for r in beside_paper(res.table).to_dict("records")]
    obj["meta"].update({"made_by": "scripts/make_assets.py " + " ".join(sys.argv[1:]),
                        "made_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        "python": platform.python_version(), "script_seconds": time.perf_counter() - t0})
    (out / "results.json").write_text(json.dumps(obj, indent=1, allow_nan=False) + "\n")
    res.table.to_csv(out / "table.csv", index=False)
    res.runs.to_csv(out / "runs.csv", index=False)
    res.curves.to_csv(out / "curves.csv", index=False)
    res.steps.to_csv(out / "steps.csv", index=False)  # the per-step curves: convergence per step
    print(res.table[["arch", "depth", "train_error", "train_error_std", "test_error",
                     "test_error_std", "seeds"]].to_string(index=False))
    for h in res.hypothesis:
        print(f"{h['claim']}: {'holds' if h['holds'] else 'does NOT hold'}"
              f"{' (seed ranges overlap)' if h['seed_ranges_overlap'] else ''}")

    if not a.no_runs and res.models:
        first = res.meta["seeds"][0]
        m = res.meta
        for (arch, depth, seed), (model, norm, grads) in sorted(res.models.items(), key=lambda kv: kv[0]):
            if seed != first:
                continue
            run = res.runs[(res.runs.arch == arch) & (res.runs.depth == depth) & (res.runs.seed == seed)].iloc[0]
            meta = {"arch": arch, "depth": depth, "seed": seed, "experiment": m["experiment"],
                    "label": m["label"], "epochs": m["epochs"], "device": m.get("device"),
                    "torch": m.get("torch"), "train_error": float(run.train_error),
                    "test_error": float(run.test_error),
                    "data": {"kind": "shapes", "n_train": m["n_train"], "n_test": m["n_test"],
                             "size": m["size"], "difficulty": m["difficulty"], "seed": m["data_seed"],
                             "rebuild": "resnet_explain.data.shapes_train_test(n_train, n_test, "
                                        "seed, size, difficulty)"}}
            rows = res.curves[(res.curves.arch == arch) & (res.curves.depth == depth)
                              & (res.curves.seed == seed)]
            steps = res.steps[(res.steps.arch == arch) & (res.steps.depth == depth)
                              & (res.steps.seed == seed)]
            stored = shipped.package(model.cpu(), norm, meta, rows.drop(columns=["arch", "depth", "seed"]),
                                     EXPERIMENTS[m["experiment"]], grads,
                                     steps.drop(columns=["arch", "depth", "seed"]))
            print(f"wrote run {stored.run_id} ({stored.name})")
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
