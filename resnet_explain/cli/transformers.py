"""``transformers``: the Transformers page's measurements from the command line.

    python -m resnet_explain transformers --init --depths 6,12 --json      # gradients, stream at init
    python -m resnet_explain transformers --train --lrs 1e-3 --warmups 0,15 --variants pre-LN,post-LN --json
    python -m resnet_explain transformers --train --lesion --json          # + lesion and logit lens
    python -m resnet_explain transformers --stored --json                  # the stored tables
    python -m resnet_explain transformers --sort --depths 2,6,12 --json    # sorting: accuracy by depth

``--train`` trains (or loads, when trained before) one stored run per (variant, lr, warm-up) under
the ``lm-quick`` budget (``--steps`` changes its length): next-byte prediction on the Python
standard library's own source. ``--sort`` trains (or loads) pre-LN, post-LN and no skips on the
sorting task at ``--depths`` under its one recipe (``experiments/transformers_sort.py``) and prints
their held-out accuracies beside the baselines that do not read the input.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ..errors import UserError
from ..experiments import transformers as tfx
from ..experiments import transformers_trained as tft
from ..experiments import transformers_sort as tfs
from ..experiments import transformers_train as tfg
from ..experiments.transformers_stored import load_stored
from ..jsonable import json_rows
from ..train.budgets import LM_BUDGETS


def add_parsers(sub) -> None:
    p = sub.add_parser("transformers", help="Transformers: gradients and the residual stream at init, "
                                            "the LR x warm-up grid, lesion and logit lens")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--init", action="store_true", help="measure at initialisation")
    mode.add_argument("--train", action="store_true", help="train (or load) grid cells")
    mode.add_argument("--stored", action="store_true", help="print the stored results")
    mode.add_argument("--sort", action="store_true", help="train (or load) the sorting networks")
    p.add_argument("--depths", default=None, help="--init (default 6,12,24), --sort (default 2,6,12): "
                                                  "layers, comma-separated")
    p.add_argument("--variants", default=None, help="comma-separated: pre-LN, post-LN, no skips")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lrs", default="1e-3", help="--train: peak learning rates")
    p.add_argument("--warmups", default="15", help="--train: warm-up steps")
    p.add_argument("--depth", type=int, default=6, help="--train: layers")
    p.add_argument("--steps", type=int, default=None, help="--train, --sort: steps (default: the budget's)")
    p.add_argument("--lesion", action="store_true", help="--train: also the lesion and the logit lens")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transformers)


def _numbers(text: str, kind, name: str) -> list:
    try:
        vals = [kind(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{name} must be comma-separated numbers, got {text[:40]!r}") from None
    if not vals:
        raise UserError(f"{name} is empty")
    return vals


def _variants(text: str | None, default) -> list[str]:
    names = [v.strip() for v in text.split(",")] if text else list(default)
    bad = [v for v in names if v not in tfg.VARIANTS]
    if bad:
        raise UserError(f"unknown variant {bad[0][:20]!r}; known: {', '.join(tfg.VARIANTS)}")
    return names


def _depths(text: str | None, default) -> list[int]:
    depths = _numbers(text, int, "--depths") if text else list(default)
    if not all(1 <= d <= 48 for d in depths):
        raise UserError("--depths must be from 1 to 48")
    return depths


def cmd_transformers(a) -> int:
    if a.init:
        depths = _depths(a.depths, tfx.INIT_DEPTHS)
        streams, params = tfx.init_measurements(depths, _variants(a.variants, tfx.INIT_VARIANTS), a.seed, a.batch)
        out = {"streams": json_rows(streams), "params": json_rows(params),
               "first_last": json_rows(tfx.first_last(params))}
    elif a.stored:
        s = load_stored()
        out = {k: json_rows(getattr(s, k)) for k in ("streams", "params", "finals", "curves", "lesion", "lens",
                                                       "seeds", "sort", "sort_baselines")}
        out["meta"] = s.meta
    elif a.sort:
        out = _sort(a)
    else:
        out = _train(a)
    if a.json:
        print(json.dumps(out))
    else:
        for key, rows in out.items():
            if isinstance(rows, list):
                print(f"== {key} ({len(rows)} rows)")
                for r in rows[:60]:
                    print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in r.items()))
    return 0


def _steps(a, budget):
    if a.steps is None:
        return budget
    if not 1 <= a.steps <= 100_000:
        raise UserError("--steps must be from 1 to 100000")
    return replace(budget, config=replace(budget.config, max_steps=a.steps))


def _sort(a) -> dict:
    budget = _steps(a, tfs.SORT_BUDGET)
    cells = tfs.sort_cells(_depths(a.depths, tfs.SORT_DEPTHS), _variants(a.variants, tfs.SORT_VARIANTS), a.seed)
    runs = tfs.train_sort(cells, device=a.device, budget=budget)
    train, val = budget.data.load()
    finals, curves = tfs.sort_frames(runs, val)
    return {"finals": json_rows(finals), "baselines": json_rows(tfs.baselines(train, val, budget.data.n_symbols)),
            "curves": json_rows(curves)}


def _train(a) -> dict:
    budget = _steps(a, LM_BUDGETS["lm-quick"])
    cells = [tfg.Cell(v, lr, w, a.depth, a.seed)
             for v in _variants(a.variants, ("pre-LN", "no skips"))
             for w in _numbers(a.warmups, int, "--warmups") for lr in _numbers(a.lrs, float, "--lrs")]
    runs = tfg.train_cells(cells, budget=budget, device=a.device)
    finals, curves = tfg.grid_frames(runs)
    out = {"finals": json_rows(finals), "curves": json_rows(curves)}
    if a.lesion:
        _, val = budget.data.load()
        les, lens = [], []
        for cell, run in runs:
            model, _, _ = run.load_model()
            tag = {"variant": cell.variant, "lr": cell.lr, "warmup_steps": cell.warmup_steps}
            les += [{**tag, **r} for r in json_rows(tft.lesion(model, val))]
            lens += [{**tag, **r} for r in json_rows(tft.logit_lens(model, val))]
        out.update(lesion=les, lens=lens)
    return out
