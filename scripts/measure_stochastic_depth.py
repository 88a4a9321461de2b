"""Does stochastic depth's slow start catch up? (issue 27). Trains the builder's ResNet-20 (width
8) on the quick budget's data for more and more epochs, with p_L = 1 (off) and p_L = 0.5, and
prints one JSON line per run: eval-mode training error, the last epoch's running (train-mode)
error, test error, wall seconds. ``--paper-drop`` swaps in Huang et al. 2016's own per-mini-batch
rule (the whole batch keeps or drops a branch, unscaled; the branch times p_l at test), written
here from the paper, to compare with our row-mode DropPath.

    python scripts/measure_stochastic_depth.py --epochs 8,16,32,64 --survival 1,0.5 [--seed 0]

The numbers quoted on the Architectures page (content/architectures.py, STOCHASTIC_RUNS) were
made this way on one CPU thread of a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from resnet_explain.model import build_model  # noqa: E402
from resnet_explain.model.blocks import Block  # noqa: E402
from resnet_explain.spec.layouts import cifar_resnet  # noqa: E402
from resnet_explain.train.budgets import BUDGETS  # noqa: E402
from resnet_explain.train.trainer import evaluate, train  # noqa: E402


class PaperDrop(nn.Module):
    """Huang et al. 2016 sec. 3: per mini-batch, keep the branch with probability p (unscaled) or
    drop it; at test time multiply it by p."""

    def __init__(self, survival: float):
        super().__init__()
        self.survival = survival

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * self.survival
        return x if float(torch.rand(())) < self.survival else torch.zeros_like(x)


def run(survival: float, epochs: int, seed: int, paper_drop: bool, width: int = 8, depth: int = 20) -> dict:
    budget = BUDGETS["quick"].with_(epochs=epochs, device="cpu")
    spec = cifar_resnet(depth, width=width, survival=survival).with_globals(in_size=budget.data.size)
    tr, te = budget.data.load()
    model = build_model(spec, seed=seed)
    if paper_drop:
        for m in model.modules():
            if isinstance(m, Block) and m.drop_path is not None:
                m.drop_path = PaperDrop(m.drop_path.survival)
    t0 = time.perf_counter()
    res = train(spec, tr, te, replace(budget.config, seed=seed), model=model)
    err, _ = evaluate(res.model, tr, res.normalizer, None)
    h = res.history
    return {"survival": survival, "epochs": epochs, "seed": seed, "paper_drop": paper_drop,
            "width": width, "depth": depth, "train_error_eval": float(err),
            "train_error_running_last": float(h["train_error"].iloc[-1]),
            "test_error": float(h["test_error"].iloc[-1]), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", default="8,16,32,64")
    ap.add_argument("--survival", default="1,0.5")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paper-drop", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for ep in (int(v) for v in a.epochs.split(",")):
        for p in (float(v) for v in a.survival.split(",")):
            print(json.dumps(run(p, ep, a.seed, a.paper_drop)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
