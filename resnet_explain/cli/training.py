"""Command line for the training lab: ``degradation``, ``bench-train`` and ``lr-sweep``.

    python -m resnet_explain degradation --json              # the stored experiment
    python -m resnet_explain degradation --run --epochs 3 --depths 20,56 --seeds 0 --json
    python -m resnet_explain bench-train --json              # trainer vs naive loop, images/s
    python -m resnet_explain lr-sweep --json                 # the stored learning-rate sweep
    python -m resnet_explain lr-sweep --spec "fam=cnn&net=b8*3~b16/2,b16*2~b32/2,b32*2&ins=16" \
        --budget quick --lrs 0.05,0.4,3.2 --epochs 2 --json  # a network and its twin, trained now

``add_parsers(sub)`` adds the subcommands; errors are :class:`~resnet_explain.errors.UserError`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import torch

from ..content import training_lr as lr_text
from ..errors import UserError
from ..experiments import lr_sweep as sw
from ..experiments.convergence import key
from ..experiments.degradation import check_hypothesis, convergence_json, run_degradation
from ..jsonable import json_dict
from ..numbers import count
from ..spec import NetSpec, cifar_resnet
from ..stored_assets import assets_dir
from ..train.benchmark import bench_train
from ..train.budgets import BUDGETS, EXPERIMENTS
from ..train.checkpoints import to_plain

ASSETS = assets_dir()
DEFAULT_RESULTS = ASSETS / "degradation" / "results.json"
DEFAULT_SWEEP = ASSETS / "lr_sweep"


def _ints(values, flag):
    out = []
    for v in values or []:
        for part in str(v).replace(",", " ").split():
            try:
                out.append(int(part))
            except ValueError:
                raise UserError(f"{flag}: expected whole numbers such as 20,56, got {part[:20]!r}") from None
    return out


def add_parsers(sub) -> None:
    d = sub.add_parser("degradation", help="plain vs residual at two depths (He et al. 2015): "
                                           "the stored results, or --run to measure again")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.add_argument("--run", action="store_true", help="train now instead of reading stored results")
    d.add_argument("--experiment", choices=sorted(EXPERIMENTS), default=None,
                   help="budget preset for --run (default: gpu where CUDA is present, else "
                        "cpu-live, under a minute for one seed on 2 CPU cores)")
    d.add_argument("--epochs", type=int, default=None, help="--run: epochs per network")
    d.add_argument("--depths", nargs="+", default=None, help="--run: depths, e.g. 20,56 (6n+2)")
    d.add_argument("--seeds", nargs="+", default=None, help="--run: seeds, e.g. 0,1,2")
    d.add_argument("--device", default=None, help="--run: auto, cuda, mps or cpu")
    d.add_argument("--results", default=str(DEFAULT_RESULTS), help="stored results (JSON) to print")
    d.set_defaults(func=cmd_degradation)

    b = sub.add_parser("bench-train", help="images/s of the trainer vs a naive eager PyTorch loop")
    b.add_argument("--json", action="store_true")
    b.add_argument("--device", default="auto")
    b.add_argument("--depth", type=int, default=20, help="CIFAR ResNet depth (6n+2), default 20")
    b.add_argument("--width", type=int, default=16)
    b.add_argument("--size", type=int, default=32, help="image side")
    b.add_argument("--steps", type=int, default=None, help="timed steps (default 12 on CPU, 200 on GPU)")
    b.add_argument("--batch", type=int, default=None, help="trainer batch (default 128 CPU, 512 GPU)")
    b.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                   help="torch.compile the trainer's model (optionally a mode: reduce-overhead "
                        "uses CUDA graphs)")
    b.add_argument("--repeats", type=int, default=3, help="alternate runs of each, best kept")
    b.set_defaults(func=cmd_bench_train)

    s = sub.add_parser("lr-sweep", help="a network and its twin at each learning rate of a grid: "
                                        "the stored sweep, or --spec to train one now")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--stored", action="store_true", help="print the stored sweep (the default)")
    s.add_argument("--spec", default=None, help="train this network (a NetSpec query string, as in "
                                                "the app's URL) and its twin")
    s.add_argument("--budget", default="quick", help="--spec: the training budget (quick or full)")
    s.add_argument("--lrs", default=None, help="--spec: learning rates, e.g. 0.05,0.4,3.2 "
                                               "(default: the stored sweep's grid)")
    s.add_argument("--epochs", type=int, default=None, help="--spec: epochs (default: the budget's)")
    s.add_argument("--n-train", type=int, default=None, dest="n_train",
                   help="--spec: training images (default: the budget's)")
    s.add_argument("--seed", type=int, default=0, help="--spec: seed for weights and batch order")
    s.add_argument("--device", default="auto", help="--spec: auto, cuda, mps or cpu")
    s.add_argument("--results", default=str(DEFAULT_SWEEP), help="folder of the stored sweep")
    s.set_defaults(func=cmd_lr_sweep)


def _progress(rec: dict) -> None:
    print(f"[{rec['run']}/{rec['runs']}] {rec['arch']}-{rec['depth']} seed {rec['seed']} "
          f"epoch {rec['epoch']}: train error {rec['train_error']:.3f}, test error "
          f"{rec['test_error']:.3f}, {rec['images_per_s']:.0f} img/s", file=sys.stderr, flush=True)


def _print_table(obj: dict) -> None:
    meta = obj.get("meta", {})
    print(f"{meta.get('label', '')}: {meta.get('epochs')} epochs, {meta.get('n_train')} training "
          f"images, device {meta.get('device')} ({meta.get('detail', '')}), torch {meta.get('torch')}, "
          f"{meta.get('wall_seconds', float('nan')):.0f} s")
    print(f"{'architecture':<14}{'depth':>6}{'train error':>22}{'test error':>22}  seeds")
    for r in obj.get("rows", []):
        def cell(k):
            v, s = r.get(k), r.get(f"{k}_std")
            if v is None:
                return "n/a"
            return f"{100 * v:6.2f} % ± {100 * (s or 0):5.2f}"
        print(f"{r['arch']:<14}{r['depth']:>6}{cell('train_error'):>22}{cell('test_error'):>22}  "
              f"{','.join(str(s) for s in r.get('seeds', []))}")
    conv = obj.get("convergence") or {}
    if conv.get("rows"):
        print(f"  convergence: steps to a threshold at {conv.get('resolution', 'epoch')} resolution"
              + (f" (windows of {conv['window_steps']} steps)" if conv.get("window_steps") else ""))
    for r in conv.get("rows", []):
        steps = []
        for t in conv.get("thresholds", []):
            v = r.get(f"{key(t)}_steps_mean")
            steps.append(f"{t:.0%} {'never' if v is None else f'after {v:,.0f} steps'}"
                         f" ({r[f'{key(t)}_reached']}/{r['seeds']} seeds)")
        print(f"  {r['arch']}-{r['depth']}: {', '.join(steps)}; mean training error over the run "
              f"{100 * r['auc_mean']:.1f} %")
    for h in obj.get("hypothesis", []):
        mark = "not testable here" if h.get("testable") is False else "yes" if h["holds"] else "NO"
        extra = " (within seed spread)" if h.get("seed_ranges_overlap") else ""
        print(f"  {h['claim']}: {mark}{extra}")


def _current_rules(obj: dict, folder: Path) -> None:
    """A stored result read with today's rules: its claims checked again from its rows (a claim
    on a network that never left chance is not testable), its convergence numbers from its
    curves (at step resolution where the per-step curves, ``steps.csv``, are stored beside it)
    when it was stored before them or before they said their resolution."""
    if obj.get("rows"):
        obj["hypothesis"] = to_plain(check_hypothesis(pd.DataFrame(obj["rows"])))
    stepwise = (folder / "steps.csv").is_file()
    if obj.get("curves") and obj.get("meta") and (
            stepwise or "resolution" not in (obj.get("convergence") or {})):
        steps = pd.read_csv(folder / "steps.csv") if stepwise else None
        obj["convergence"] = convergence_json(pd.DataFrame(obj["curves"]), obj["meta"], steps=steps)


def cmd_degradation(a) -> int:
    """Print the stored degradation experiment, or re-run it with --run."""
    if not a.run:
        if any(v is not None for v in (a.epochs, a.depths, a.seeds, a.device)):
            raise UserError("--epochs, --depths, --seeds and --device need --run")
        path = Path(a.results)
        if not path.is_file():
            raise UserError(f"no stored results at {path}; run scripts/make_assets.py or pass --run")
        try:
            obj = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None
        _current_rules(obj, path.parent)
    else:
        depths = _ints(a.depths, "--depths") or None
        seeds = _ints(a.seeds, "--seeds") or None
        if depths is not None and (len(depths) > 4 or any(d > 1202 for d in depths)):
            raise UserError("--depths: at most 4 depths, each at most 1202")
        if seeds is not None and len(seeds) > 10:
            raise UserError("--seeds: at most 10 seeds")
        if a.epochs is not None and not 1 <= a.epochs <= 1000:
            raise UserError("--epochs must be from 1 to 1000")
        if a.experiment is None:
            a.experiment = "gpu" if torch.cuda.is_available() else "cpu-live"
        res = run_degradation(a.experiment, depths=depths, seeds=seeds, epochs=a.epochs,
                              device=a.device, progress=_progress)
        obj = res.to_json()
    if a.json:
        print(json.dumps(obj, allow_nan=False))
    else:
        _print_table(obj)
    return 0


def cmd_bench_train(a) -> int:
    """Trainer vs naive loop, images/s, on the same model in the same run."""
    if a.steps is not None and not 1 <= a.steps <= 100_000:
        raise UserError("--steps must be from 1 to 100000")
    if a.batch is not None and not 1 <= a.batch <= 8192:
        raise UserError("--batch must be from 1 to 8192")
    if not 1 <= a.repeats <= 20:
        raise UserError("--repeats must be from 1 to 20")
    spec = cifar_resnet(a.depth, width=a.width, in_size=a.size)
    r = bench_train(spec, device=a.device, steps=a.steps, batch_size=a.batch, compile=a.compile,
                    repeats=a.repeats)
    if a.json:
        print(json.dumps(json_dict(r)))
    else:
        print(f"ResNet-{r['depth']} on {r['detail']} (torch {r['torch']}, {count(r['threads'], 'thread')})")
        print(f"  trainer: {r['trainer_images_per_s']:,.0f} images/s (batch {r['trainer_batch']}, "
              f"amp {r['amp']}, channels_last {r['channels_last']}, compile {r['compile']})")
        print(f"  naive:   {r['naive_images_per_s']:,.0f} images/s (batch 128, eager, DataLoader)")
        print(f"  ratio:   {r['ratio']:.2f}x")
    return 0


def cmd_lr_sweep(a) -> int:
    """Print the stored learning-rate sweep, or train one (--spec) and print it."""
    run_flags = {"--lrs": a.lrs, "--epochs": a.epochs, "--n-train": a.n_train}
    if a.spec is None:
        if given := [k for k, v in run_flags.items() if v is not None]:
            verb = "needs" if len(given) == 1 else "need"
            raise UserError(f"{', '.join(given)} {verb} --spec (the network to sweep)")
        stored = sw.load_stored(a.results)
        table, statement, meta = stored.table, lr_text.stored_statement(stored), stored.meta
    else:
        if a.stored:
            raise UserError("--stored prints the stored sweep; leave it out to train --spec")
        if a.budget not in BUDGETS:
            raise UserError(f"--budget must be one of {', '.join(BUDGETS)}, got {a.budget[:20]!r}")
        if a.epochs is not None and not 1 <= a.epochs <= 1000:
            raise UserError("--epochs must be from 1 to 1000")
        if a.n_train is not None and not 16 <= a.n_train <= 100_000:
            raise UserError("--n-train must be from 16 to 100000")
        lrs = sw.parse_lrs(a.lrs) if a.lrs is not None else sw.DEFAULT_LRS
        base = sw.base_request(NetSpec.from_query(a.spec), a.budget, seed=a.seed, device=a.device,
                               epochs=a.epochs, n_train=a.n_train)
        table = sw.lr_sweep(None, base, lrs, progress=_sweep_progress)
        statement = lr_text.state_result(table)
        meta = {"budget": a.budget, "spec": base.spec, "lrs": list(lrs), "seed": a.seed,
                "recipe": base.identity(), "stopped": table.attrs["stopped"],
                "wall_seconds": table.attrs["wall_seconds"], "trains_below": sw.TRAINS_BELOW,
                "chance": sw.CHANCE}
    if a.json:
        obj = {"rows": [to_plain(r) for r in table.to_dict("records")], "statement": statement,
               "meta": to_plain(meta)}
        print(json.dumps(obj, allow_nan=False))
        return 0
    print(f"{'network':<14}{'lr':>8}{'final train error':>20}{'test error':>12}  diverged  run id")
    for r in table.itertuples(index=False):
        print(f"{f'{r.variant}-{r.depth}':<14}{r.lr:>8g}{100 * r.train_error:>18.2f} %"
              f"{100 * r.test_error:>10.2f} %  {'yes' if r.diverged else 'no ':<8}  {r.run_id}")
    print(statement)
    return 0


def _sweep_progress(rec: dict) -> None:
    if rec.get("done"):
        how = "loaded" if rec["loaded"] else "trained"
        print(f"[{rec['run']}/{rec['runs']}] {rec['variant']} lr {rec['lr']:g}: {how}, final training "
              f"error {rec['train_error']:.3f}", file=sys.stderr, flush=True)
