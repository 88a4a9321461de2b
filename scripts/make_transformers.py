"""Make the stored results of the Transformers page (assets/transformers/), on one CPU thread.

    python scripts/make_transformers.py                 # everything: init, trained, grid, seeds, sort
    python scripts/make_transformers.py --only init     # or: trained, grid, seeds, sort
    python scripts/make_transformers.py --store /tmp/runs --out /tmp/tf

Stages (each writes its CSVs as soon as it has them; the grid appends one cell at a time and
skips the cells already in grid_finals.csv, so an interrupted run resumes and a partial grid is
still a true one):

1. init: ‖∂L/∂x‖ per sublayer, per-matrix gradient norms, stream norms and branch shares at
   initialisation for pre-LN, post-LN and no skips at depths 6, 12, 24, with GPT-2's init and with
   Xavier's (init_streams.csv,
   init_params.csv);
2. trained: the three networks of the default view (lr 1e-3, warm-up 15: the budget's own
   setting, fixed before anything was trained), then a lesion of each layer and sublayer and the
   logit lens on each (lesion.csv, lens.csv);
3. grid: pre-LN and post-LN at 4 learning rates x 3 warm-ups, the no-skip twin at 4 learning rates
   (grid_finals.csv, grid_curves.csv), the most telling cells first (:func:`priority`);
4. seeds: post-LN at lr 1e-3 with 0, 15 and 60 warm-up steps again with seeds 1 and 2
   (grid_seeds.csv, grid_seeds_curves.csv; ``tfg.SEED_CELLS``);
5. sort: the sorting task, pre-LN, post-LN and no skips at depths 2, 6, 12 (planned) and 1 (a
   declared follow-up) under one recipe (sort_finals.csv with held-out accuracies, sort_curves.csv,
   sort_baselines.csv; ``experiments/transformers_sort.py``). About 10 minutes of one idle core.

meta.json records the machine, versions, corpus hash and each stage's seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resnet_explain.data.text import read_corpus, unigram_entropy, unigram_loss  # noqa: E402
from resnet_explain.experiments import transformers as tfx  # noqa: E402
from resnet_explain.experiments import transformers_trained as tft  # noqa: E402
from resnet_explain.experiments import transformers_train as tfg  # noqa: E402
from resnet_explain.experiments import transformers_sort as tfs  # noqa: E402
from resnet_explain.train.budgets import LM_BUDGETS  # noqa: E402
from resnet_explain.train.runs import RunStore  # noqa: E402

DEFAULT_CELL = dict(lr=1e-3, warmup_steps=15)


def _meta(out: Path, **kw) -> None:
    p = out / "meta.json"
    meta = json.loads(p.read_text()) if p.is_file() else {}
    meta.update(kw)
    p.write_text(json.dumps(meta, indent=1, sort_keys=True))


def stage_init(out: Path) -> None:
    t = time.perf_counter()
    streams, params = tfx.init_measurements(inits=tuple(tfx.INITS))
    streams.to_csv(out / "init_streams.csv", index=False)
    params.to_csv(out / "init_params.csv", index=False)
    _meta(out, init_seconds=round(time.perf_counter() - t, 1))
    print(tfx.first_last(params).to_string(), flush=True)


def stage_trained(out: Path, store: RunStore) -> None:
    t = time.perf_counter()
    cells = [tfg.Cell(v, **DEFAULT_CELL) for v in ("pre-LN", "post-LN", "no skips")]
    runs = tfg.train_cells(cells, store, device="cpu", progress=_say)
    _, val = LM_BUDGETS["lm-quick"].data.load()
    les, lens = [], []
    for cell, run in runs:
        model, _, _ = run.load_model()
        les.append(tft.lesion(model, val).assign(variant=cell.variant))
        lens.append(tft.logit_lens(model, val).assign(variant=cell.variant))
    pd.concat(les).to_csv(out / "lesion.csv", index=False)
    pd.concat(lens).to_csv(out / "lens.csv", index=False)
    _append(out, runs)
    _meta(out, trained_seconds=round(time.perf_counter() - t, 1))


def priority(cell: tfg.Cell) -> tuple:
    """The most telling cells first, so that a grid cut short still answers the main question:
    no warm-up vs the longest warm-up for both norm placements, then the no-skip twin, then the
    middle warm-up; within each, the largest learning rate first, post-LN before pre-LN."""
    if cell.variant == "no skips":
        rank = 2
    else:
        rank = {0: 0, max(tfg.GRID_WARMUPS): 1}.get(cell.warmup_steps, 3)
    return rank, -cell.lr, cell.variant != "post-LN"


def stage_grid(out: Path, store: RunStore) -> None:
    t = time.perf_counter()
    have = _done(out)
    for cell in sorted(tfg.grid_cells(), key=priority):
        if (cell.variant, cell.lr, cell.warmup_steps) in have:
            continue
        _append(out, tfg.train_cells([cell], store, device="cpu", progress=_say))
    _meta(out, grid_seconds_last_call=round(time.perf_counter() - t, 1))


def stage_seeds(out: Path, store: RunStore) -> None:
    """Post-LN at lr 1e-3 with 0, 15 and 60 warm-up steps again with seeds 1 and 2 (the grid's seed-0
    cell with 15 steps stayed at byte frequencies while 0 and 60 trained): grid_seeds.csv and
    grid_seeds_curves.csv, one cell at a time, resuming like the grid."""
    t = time.perf_counter()
    for cell in tfg.seed_cells():
        if (cell.variant, cell.lr, cell.warmup_steps, cell.seed) in _done(out, "grid_seeds.csv", True):
            continue
        _append(out, tfg.train_cells([cell], store, device="cpu", progress=_say),
                ("grid_seeds.csv", "grid_seeds_curves.csv"))
    _meta(out, seeds_seconds_last_call=round(time.perf_counter() - t, 1))


def stage_sort(out: Path, store: RunStore, sizes: dict | None = None) -> None:
    """The sorting task: pre-LN, post-LN and no skips at each of tfs.SORT_DEPTHS under one recipe
    (tfs.SORT_BUDGET), one network at a time (resumes: networks already in sort_finals.csv are
    skipped); the baselines that do not read the input (sort_baselines.csv)."""
    t, cpu = time.perf_counter(), time.process_time()
    train, val = tfs.SORT_DATA.load()
    tfs.baselines(train, val, tfs.SORT_DATA.n_symbols).to_csv(out / "sort_baselines.csv", index=False)
    for cell in tfs.sort_cells() + tfs.sort_cells(tfs.FOLLOW_UP_DEPTHS):  # the planned nine first
        if (cell.variant, cell.lr, cell.warmup_steps, cell.seed, cell.depth) in _done_sort(out):
            continue
        runs = tfs.train_sort([cell], store, device="cpu", progress=_say, sizes=sizes)
        finals, curves = tfs.sort_frames(runs, val)
        for name, df in (("sort_finals.csv", finals), ("sort_curves.csv", curves)):
            p = out / name
            df.to_csv(p, index=False, mode="a", header=not p.is_file())
        print(finals[["variant", "depth", "token_acc", "exact_acc", "val_loss", "seconds"]].to_string(), flush=True)
    b = tfs.SORT_BUDGET
    _meta(out, sort_seconds_last_call=round(time.perf_counter() - t, 1),
          sort_cpu_seconds_last_call=round(time.process_time() - cpu, 1), sort_budget=b.label,
          sort_config=repr(b.config), sort_data=repr(b.data), sort_sizes=sizes or {},
          sort_dropped_as_in_validation=train.meta.get("dropped_as_in_validation"))


def _done_sort(out: Path) -> set:
    p = out / "sort_finals.csv"
    if not p.is_file():
        return set()
    f = pd.read_csv(p)
    return set(zip(f["variant"], f["lr"], f["warmup_steps"], f["seed"], f["depth"]))


def _done(out: Path, name: str = "grid_finals.csv", seeds: bool = False) -> set:
    p = out / name
    if not p.is_file():
        return set()
    f = pd.read_csv(p)
    keys = [f["variant"], f["lr"], f["warmup_steps"]] + ([f["seed"]] if seeds else [])
    return set(zip(*keys))


def _append(out: Path, runs, names=("grid_finals.csv", "grid_curves.csv")) -> None:
    """Add the runs' rows to the grid's CSVs (a cell already there is not written twice)."""
    finals, curves = tfg.grid_frames(runs)
    have = _done(out, names[0], True)
    keep = [(r.variant, r.lr, r.warmup_steps, r.seed) not in have for r in finals.itertuples()]
    finals = finals[keep]
    if not len(finals):
        return
    on = ["variant", "lr", "warmup_steps", "seed"]
    curves = curves.merge(finals[on], on=on)
    for name, df in zip(names, (finals, curves)):
        p = out / name
        df.to_csv(p, index=False, mode="a", header=not p.is_file())


def _say(done, total, row) -> None:
    if "step" in row:
        print(f"  {row['variant']} lr {row['lr']:g} warm-up {row['warmup_steps']}: step {row['step']} "
              f"train {row['train_loss']:.3f} val {row['val_loss']:.3f} ({row['seconds']:.0f} s)", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("init", "trained", "grid", "seeds", "sort", "meta"), action="append")
    ap.add_argument("--out", default=str(ROOT / "assets" / "transformers"))
    ap.add_argument("--store", default=None, help="run store folder (default: the user's cache)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(root=Path(a.store)) if a.store else RunStore()
    c = read_corpus()
    train, val = LM_BUDGETS["lm-quick"].data.load()
    _meta(out, machine=platform.machine(), processor=platform.processor(), node_cpus=torch.get_num_threads(),
          python=platform.python_version(), torch=torch.__version__, threads=a.threads,
          corpus_sha256=c.sha256, corpus_bytes=len(c.data), corpus_files=list(c.files),
          corpus_missing=list(c.missing), unigram_entropy=unigram_entropy(train),
          unigram_loss=unigram_loss(train, val), budget=LM_BUDGETS["lm-quick"].label,
          config=repr(LM_BUDGETS["lm-quick"].config), data=repr(LM_BUDGETS["lm-quick"].data))
    stages = a.only or ["init", "trained", "grid", "seeds", "sort"]
    for stage in stages:
        t = time.perf_counter()
        print(f"== {stage}", flush=True)
        {"init": lambda: stage_init(out), "trained": lambda: stage_trained(out, store),
         "grid": lambda: stage_grid(out, store),
         "seeds": lambda: stage_seeds(out, store),
         "sort": lambda: stage_sort(out, store), "meta": lambda: None}[stage]()
        print(f"== {stage} done in {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
