"""Make assets/lr_sweep/: the learning-rate sweep of a degradation experiment's networks.

    python scripts/make_lr_sweep.py                       # cpu-budget, depth 20, 1 thread
    python scripts/make_lr_sweep.py --depths 20,56        # also depth 56 (~95 s a run on 1 thread)
    python scripts/make_lr_sweep.py --lrs 0.025,0.05,0.1,0.2,0.4,0.8,1.6,3.2

Trains ResNet-<depth> and its plain twin with the experiment's exact data recipe and training
config (train/budgets.py EXPERIMENTS), at each learning rate, through the run store: the runs
go to ``--store`` (a temporary folder by default, kept between calls so a rerun or a longer grid
only trains what is new); only the tables are written to ``--out`` (no models).
Writes table.csv, curves.csv, results.json (rows + meta) and README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd
import torch

from resnet_explain.content import training_lr as lr_text
from resnet_explain.device import describe
from resnet_explain.experiments import lr_sweep as sw
from resnet_explain.train.budgets import EXPERIMENTS
from resnet_explain.train.checkpoints import to_plain
from resnet_explain.train.runs import RunStore


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--experiment", default="cpu-budget", choices=sorted(EXPERIMENTS))
    p.add_argument("--depths", default="20", help="e.g. 20 or 20,56")
    p.add_argument("--lrs", default=",".join(f"{v:g}" for v in sw.DEFAULT_LRS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "resnet_explain_lr_sweep_runs"))
    p.add_argument("--out", default=str(ROOT / "assets" / "lr_sweep"))
    p.add_argument("--restate", action="store_true",
                   help="no training: state the stored table.csv again (results.json's statement "
                        "and README.md), after a change to state_result or to this README")
    a = p.parse_args(argv)
    if a.restate:
        out = Path(a.out)
        stored = sw.load_stored(out)
        meta = {**stored.meta, "statement": lr_text.stored_statement(stored)}
        obj = json.loads((out / "results.json").read_text())
        (out / "results.json").write_text(json.dumps({**obj, "meta": meta}, indent=1))
        (out / "README.md").write_text(readme(stored.table, meta))
        print(meta["statement"])
        return 0
    torch.set_num_threads(a.threads)
    depths = [int(d) for d in a.depths.replace(",", " ").split()]
    lrs = sw.parse_lrs(a.lrs)
    store = RunStore(root=Path(a.store), cap_bytes=2 * 2**30)
    t0 = time.perf_counter()

    def progress(rec):
        if rec.get("done"):
            how = "loaded" if rec["loaded"] else "trained"
            print(f"[{rec['run']}/{rec['runs']}] {rec['variant']} lr {rec['lr']:g}: {how}, final "
                  f"train error {rec['train_error']:.4f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        else:
            print(f"  {rec['variant']} lr {rec['lr']:g} epoch {rec['epoch']}/{rec['epochs']}: loss "
                  f"{rec['train_loss']:.3f} err {rec['train_error']:.3f}", flush=True)

    tables, recipes = [], {}
    for depth in depths:
        base = sw.experiment_request(a.experiment, depth, "residual", seed=a.seed, device=a.device)
        recipes[depth] = {k: v for k, v in base.identity().items()}
        tables.append(sw.lr_sweep(None, base, lrs, store=store, progress=progress))
    table = pd.concat(tables, ignore_index=True)
    curves = sw.sweep_curves(table, store)
    wall = time.perf_counter() - t0
    statement = lr_text.state_result(table)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False)
    curves.to_csv(out / "curves.csv", index=False)
    exp = EXPERIMENTS[a.experiment]
    command = "python scripts/make_lr_sweep.py " + " ".join(
        f"--{k} {v}" for k, v in (("experiment", a.experiment), ("depths", ",".join(map(str, depths))),
                                  ("lrs", ",".join(f"{v:g}" for v in lrs)), ("seed", a.seed),
                                  ("threads", a.threads), ("device", a.device)))
    meta = {**describe(torch.device(a.device)), "threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform(),
            "wall_seconds": wall, "train_seconds": float(table["seconds"].sum()),
            "runs_loaded": int(table["loaded"].sum()), "runs": len(table),
            "experiment": a.experiment, "label": exp.label, "depths": depths, "lrs": list(lrs),
            "seed": a.seed, "recipe": {str(d): r for d, r in recipes.items()},
            "lr_is": "peak learning rate of the experiment's schedule (the only input varied)",
            "trains_below": sw.TRAINS_BELOW, "chance": sw.CHANCE, "chance_margin": sw.CHANCE_MARGIN,
            "train_error_is": "eval mode, whole training set, after the last epoch",
            "best_epoch_train_error_is": "lowest per-epoch running training error (train mode)",
            "command": command, "statement": statement, "created": time.strftime("%Y-%m-%d")}
    (out / "results.json").write_text(json.dumps(
        {"rows": [to_plain(r) for r in table.to_dict("records")], "meta": to_plain(meta)}, indent=1))
    (out / "README.md").write_text(readme(table, meta))
    print(statement)
    print(f"wrote {out} in {wall:.0f} s")
    return 0


def readme(table: pd.DataFrame, meta: dict) -> str:
    cfg = next(iter(meta["recipe"].values()))["config"]
    data = next(iter(meta["recipe"].values()))["data"]
    rows = [("| network | lr | final train error | test error | best epoch (train error) | diverged "
             "| run id |"),
            "|---|---:|---:|---:|---|---|---|"]
    for r in table.itertuples(index=False):
        rows.append(f"| {r.variant}-{r.depth} | {r.lr:g} | {100 * r.train_error:.2f} % | "
                    f"{100 * r.test_error:.2f} % | {r.best_epoch} ({100 * r.best_epoch_train_error:.2f} %) | "
                    f"{'yes' if r.diverged else 'no'} | `{r.run_id}` |")
    n = meta["runs_loaded"]
    loaded = (f", {n} of them loaded from the run store (trained by an earlier call with a shorter "
              "--depths or --lrs)") if n else ""
    return f"""# Learning-rate sweep ({meta['label']})

Made by `scripts/make_lr_sweep.py` on {meta['created']}:

    {meta['command']}

Machine: {meta.get('detail', meta.get('device'))}, torch {meta['torch']}, Python {meta['python']}
({meta['platform']}). Wall time of this call {meta['wall_seconds']:.0f} s for {meta['runs']} runs{loaded};
training time of all runs {meta['train_seconds']:.0f} s. The per-run seconds in `table.csv` are wall
times on a shared 2-core machine where other jobs ran too: they are not a speed benchmark.

**Recipe** — exactly the `{meta['experiment']}` budget of `resnet_explain/train/budgets.py`
(seed {meta['seed']}): He et al.'s CIFAR ResNet-{'/'.join(map(str, meta['depths']))} (option A
shortcuts, first-stage width 8) and its plain twin (the same network, every skip removed), on
{data['n_train']} generated 16×16 shapes (difficulty {data['difficulty']}, {data['n_test']} test
images), {cfg['epochs']} epochs, batch {cfg['batch_size']}, SGD momentum {cfg['momentum']}, weight
decay {cfg['weight_decay']}, `{cfg['schedule']}` schedule (warm-up {cfg['warmup']}). The only
input varied is the peak learning rate, over {', '.join(f'{v:g}' for v in meta['lrs'])} (the
experiment's own is {cfg_lr(meta)}). The full inputs of each run are in `results.json` (`meta.recipe`).

**Definitions** — *final train error*: eval mode, whole training set, after the last epoch.
A run **trains** when that is below {100 * meta['trains_below']:.0f} %; it **diverged** when its
loss became NaN/Inf or its final error is within {100 * meta['chance_margin']:.0f} points of
chance ({100 * meta['chance']:.0f} %, 10 balanced classes). *Best epoch*: the epoch with the
lowest running (train-mode) training error.

## Result

{chr(10).join(rows)}

**What it shows** (computed by `resnet_explain.content.training_lr.state_result` from the table):
{meta['statement']}
{cross_check(table, meta)}
Caveats: one seed, one recipe, a small synthetic data set and short training; batch norm and the
one-cycle warm-up both make plain nets far more tolerant of large steps than the un-normalised
nets in which the effect is usually described, so a small or absent difference here is a
measurement of this setting, not of residual nets in general.

Files: `table.csv` (the table above), `curves.csv` (per-epoch history of every run: `lr_peak` is
the sweep's learning rate, `lr` the schedule's value at the epoch's last step), `results.json`
(rows + meta). The models are not stored here.
"""


def cross_check(table: pd.DataFrame, meta: dict) -> str:
    """The sweep's runs at the experiment's own lr next to the stored degradation runs of the same
    recipe and seed (assets/degradation/runs.csv), when those exist."""
    path = ROOT / "assets" / "degradation" / "runs.csv"
    exp = EXPERIMENTS[meta["experiment"]]
    if meta["experiment"] != "cpu-budget" or not path.is_file():
        return ""
    runs = pd.read_csv(path)
    lines = []
    for r in table[table["lr"] == exp.config.lr].itertuples(index=False):
        m = runs[(runs["arch"] == r.variant) & (runs["depth"] == r.depth) & (runs["seed"] == meta["seed"])]
        if len(m):
            lines.append(f"{r.variant}-{r.depth}: {100 * r.train_error:.2f} % here, "
                         f"{100 * float(m['train_error'].iloc[0]):.2f} % there")
    if not lines:
        return ""
    return (f"\n**Cross-check** — at the experiment's own lr ({exp.config.lr:g}) these runs have the "
            f"same inputs as seed {meta['seed']} of the stored degradation experiment "
            "(`assets/degradation/runs.csv`, made by an earlier version of the code): "
            + "; ".join(lines) + ". Where they differ, the cause has not been tested: the degradation "
            "assets were made by an earlier version of the code, and the two may also differ in precision "
            "(a run's identity records the precision it resolved); the sweep's numbers are today's.\n")


def cfg_lr(meta: dict) -> str:
    return f"{EXPERIMENTS[meta['experiment']].config.lr:g}"


if __name__ == "__main__":
    raise SystemExit(main())
