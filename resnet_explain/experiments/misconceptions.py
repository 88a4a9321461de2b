"""The misconception experiments: how much each branch adds next to its skip, and plain vs
residual MLPs trained on a teacher task."""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from ..magnitude import log10
from ..model import build_model, make_batch
from ..seeding import sub_seed
from ..spec import NetSpec, mlp
from .vanishing import SWEEP_BATCH


def branch_vs_skip(spec: NetSpec, seed: int = 0, batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Forward pass (BatchNorm in training mode, as the probe): per residual block, the size of
    what the residual branch adds, ‖αF(x)‖, beside what the shortcut carries, ‖S(x)‖, and the
    cosine between the block's output and S(x). A block that "just copies" would have a branch
    of size 0 and cosine 1."""
    model = build_model(spec, seed=seed)
    x, _ = make_batch(spec, batch=batch, seed=seed)
    store: dict[str, dict] = {}
    handles = []
    for name, blk in model.named_blocks():
        if blk.shortcut is None:
            continue

        def body_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["branch"] = out.detach()

        def sc_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["skip"] = out.detach()

        def out_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["out"] = out.detach()

        handles += [blk.body.register_forward_hook(body_hook), blk.shortcut.register_forward_hook(sc_hook),
                    blk.register_forward_hook(out_hook)]
        store.setdefault(name, {})["scale"] = float(blk.res_scale.detach()) if blk.res_scale is not None else 1.0
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for pos, (name, blk) in enumerate(model.named_blocks()):
        if name not in store:
            continue
        s = store[name]
        br = (s["scale"] * s["branch"]).to(torch.float64).flatten(1)
        sk = s["skip"].to(torch.float64).flatten(1)
        out = s["out"].to(torch.float64).flatten(1)
        bn, sn = float(br.norm()), float(sk.norm())
        cos = float(F.cosine_similarity(out, sk, dim=1).mean())
        rows.append({"position": pos, "block": name, "branch_norm": bn, "skip_norm": sn,
                     "branch_over_skip": bn / sn if sn > 0 else float("nan"),
                     "cosine_out_vs_skip": cos})
    return pd.DataFrame(rows, columns=["position", "block", "branch_norm", "skip_norm",
                                       "branch_over_skip", "cosine_out_vs_skip"])


TASK_FEATURES = 16
TASK_CLASSES = 4


def teacher_task(seed: int = 0, n: int = 512, features: int = TASK_FEATURES,
                 classes: int = TASK_CLASSES) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable toy task: Gaussian inputs labelled by a fixed random one-hidden-layer teacher."""
    g = torch.Generator().manual_seed(sub_seed(seed, "misconceptions", "teacher task"))
    x = torch.randn(n, features, generator=g)
    w1 = torch.randn(features, 32, generator=g)
    w2 = torch.randn(32, classes, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    return x, y


def train_spec(depth: int, skip: bool, act: str = "relu") -> NetSpec:
    return mlp(depth, skip=skip, act=act, width=32, in_features=TASK_FEATURES, classes=TASK_CLASSES)


def train_compare(depths=(4, 56), seed: int = 0, steps: int = 120, lr: float = 1e-3, batch: int = 64,
                  eval_every: int = 10, act: str = "relu") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train plain and residual MLPs (no norm, default init, Adam) of each depth on the teacher
    task, same seed and data order. Returns (loss curves, summary, per-layer weight change)."""
    x, y = teacher_task(seed)
    curves, summary, change = [], [], []
    for d in depths:
        for variant, skip in (("plain", False), ("residual", True)):
            spec = train_spec(int(d), skip, act)
            model = build_model(spec, seed=seed)
            w0 = {n: p.detach().clone() for n, p in model.named_parameters() if p.dim() == 2}
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            g = torch.Generator().manual_seed(sub_seed(seed, "misconceptions", "batch order"))
            model.train()
            first_loss = None
            for step in range(steps + 1):
                if step % eval_every == 0 or step == steps:
                    with torch.no_grad():
                        full = float(F.cross_entropy(model(x), y))
                    first_loss = full if first_loss is None else first_loss
                    curves.append({"depth": int(d), "variant": variant, "step": step, "loss": full,
                                   "run": f"depth {d}, {variant}"})
                if step == steps:
                    break
                idx = torch.randint(0, len(x), (batch,), generator=g)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                logits = model(x)
                acc = float((logits.argmax(1) == y).double().mean())
                final = float(F.cross_entropy(logits, y))
            summary.append({"depth": int(d), "variant": variant, "final_loss": final, "accuracy": acc,
                            "initial_loss": first_loss,
                            "spec": spec.to_query()})
            for i, (n, p) in enumerate((n, p) for n, p in model.named_parameters() if p.dim() == 2):
                rel = float((p.detach() - w0[n]).norm() / w0[n].norm())
                change.append({"depth": int(d), "variant": variant, "layer": i, "param": n,
                               "rel_change": rel, "log10_rel_change": log10(rel)})
    return pd.DataFrame(curves), pd.DataFrame(summary), pd.DataFrame(change)

