"""Calibration runs for the generated shapes task (issue 22, item 1b): plain vs residual at depths
20 and 56 under one small CPU budget per recipe, one seed, one torch thread. The recipes were fixed
in assets/calibration/README.md before any was run; every result is appended, none is dropped.

    python scripts/calibrate_shapes.py C1 C2              # round 1; appends to results.jsonl
    python scripts/calibrate_shapes.py --round=2 C1 C2    # round 2: 2,000 images x 8 epochs
    python scripts/calibrate_shapes.py --table            # the README's table
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from resnet_explain.experiments.degradation import run_degradation  # noqa: E402
from resnet_explain.train.budgets import Budget  # noqa: E402
from resnet_explain.train.config import TrainConfig  # noqa: E402
from resnet_explain.train.runs import DataRecipe  # noqa: E402

BASE = Budget("calibration", "calibration (CPU, 16x16, width 8)",
              DataRecipe(n_train=1000, n_test=1000, size=16, difficulty=0.1),
              TrainConfig(epochs=4, batch_size=64, lr=0.1, device="cpu", amp="off",
                          channels_last="off"),
              width=8, depths=(20, 56), seeds=(0,))
# (data recipe changes, config changes): fixed before any result was seen.
RECIPES = {
    "C1": ({"difficulty": 0.1}, {}),
    "C2": ({"difficulty": 0.4}, {}),
    "C3": ({"difficulty": 0.7}, {}),
    "C4": ({"difficulty": 1.0}, {}),
    "C5": ({"difficulty": 0.7}, {"augment": True}),
    "C6": ({"difficulty": 0.7}, {"schedule": "step"}),
}
# Round 2 (fixed after round 1's C1 and C2, before any other result): the same recipes at four
# times the steps (2,000 images x 8 epochs = 248 steps, was 60): round 1 left even C1 near chance.
ROUNDS = {"1": {}, "2": {"n_train": 2000, "epochs": 8}}
OUT = ROOT / "assets" / "calibration" / "results.jsonl"
LEFT_CHANCE = 80.0  # training error (%) below which a net has clearly left chance (90 %)


def budget(name: str, round_: str = "1") -> Budget:
    data_kw, cfg_kw = RECIPES[name]
    r = ROUNDS[round_]
    data_kw = {**data_kw, **({"n_train": r["n_train"]} if "n_train" in r else {})}
    cfg_kw = {**cfg_kw, **({"epochs": r["epochs"]} if "epochs" in r else {})}
    return replace(BASE, name=name, data=replace(BASE.data, **data_kw),
                   config=replace(BASE.config, **cfg_kw))


def table() -> str:
    """The markdown table of every result in results.jsonl (training error, eval mode, %; each
    run's training seconds; the four checks of the README)."""
    rows: dict = {}
    for line in OUT.read_text().splitlines():
        r = json.loads(line)
        rows.setdefault((r.get("round", 1), r["recipe"]), {})[f"{r['arch']}-{r['depth']}"] = r
    head = ("| round | recipe | plain-20 | plain-56 | residual-20 | residual-56 | (a) p56 < 80 % | "
            "(b) p56 > p20 | (c) r56 < r20 | (d) r56 < p56 | run seconds p20/p56/r20/r56 |")
    out = [head, "|" + "---|" * 11]
    for (rnd, name), g in sorted(rows.items()):
        e = {k: 100 * v["train_error"] for k, v in g.items()}
        if len(e) < 4:
            continue
        nets = ("plain-20", "plain-56", "residual-20", "residual-56")
        left = {k: e[k] < LEFT_CHANCE for k in nets}

        def check(a, b, ok):  # "n/t": a net compared has not clearly left chance
            return ("yes" if ok else "no") if left[a] and left[b] else "n/t"

        checks = ["yes" if left["plain-56"] else "no",
                  check("plain-56", "plain-20", e["plain-56"] > e["plain-20"]),
                  check("residual-56", "residual-20", e["residual-56"] < e["residual-20"]),
                  check("residual-56", "plain-56", e["residual-56"] < e["plain-56"])]
        secs = "/".join(f"{g[k]['seconds']:.0f}" for k in nets)
        cells = [f"{e[k]:.1f} %" + ("" if left[k] else " †") for k in nets]
        out.append(f"| {rnd} | {name} | " + " | ".join(cells + checks) + f" | {secs} |")
    return "\n".join(out)


def main(args) -> int:
    if args == ["--table"]:
        print(table())
        return 0
    torch.set_num_threads(1)
    round_ = args[0].split("=", 1)[1] if args and args[0].startswith("--round=") else "1"
    for name in [a for a in args if not a.startswith("--")]:
        t0 = time.perf_counter()
        res = run_degradation(budget(name, round_))
        for r in res.runs.to_dict("records"):
            keep = ("arch", "depth", "seed", "train_error", "test_error", "seconds")
            row = {"recipe": name, "round": int(round_), **{k: r[k] for k in keep},
                   "recipe_wall_seconds": time.perf_counter() - t0}
            with open(OUT, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
