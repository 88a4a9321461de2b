"""The language-model trainer: next-token cross-entropy for the transformer family.

The same engine as the image trainer (:mod:`.trainer`): a :class:`~.config.TrainConfig`, a seeded
batch order, ``progress``/``should_stop``/``step_progress`` callbacks and a
:class:`~.trainer.TrainResult`; runs are stored and reloaded by :mod:`.runs` like the CNN runs.
What differs is what a step sees (token windows, :class:`~resnet_explain.data.text.TokenSet`), the
loss (cross-entropy per scored next token, in nats), the optimizer (AdamW, as Transformers are
trained; ``config.optimizer``) and the record: one history row every ``config.eval_every`` steps
(:data:`LM_HISTORY_COLUMNS`) with the training loss since the last row, the validation loss, and
the largest gradient norm seen (post-LN's early gradient spikes show there).

A run whose training loss is no longer finite has diverged: it ends at once (``meta["diverged"]``),
its last row says so, and nothing after it is pretended.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.text import IGNORE, TokenSet
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..seeding import sub_seed
from ..spec import NetSpec, SpecError
from .config import TrainConfig, TrainError, lr_at, steps_total
from .trainer import TrainResult, _noise_rng, precision

LM_HISTORY_COLUMNS = ["step", "train_loss", "val_loss", "grad_norm_max", "lr", "seconds",
                      "tokens_per_s"]
# Adam's betas and epsilon as Vaswani et al. 2017 (sec. 5.3) and Xiong et al. 2020 trained with.
ADAM_BETAS = (0.9, 0.98)
ADAM_EPS = 1e-9
EVAL_WINDOWS = 128  # validation windows per recorded row (8,192 next bytes; the whole split when smaller)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of (B, T, V) logits against (B, T) next tokens, unscored targets ignored."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                           reduction=reduction)


@torch.no_grad()
def evaluate_lm(model: nn.Module, data: TokenSet, device=None, batch_size: int = 64,
                max_windows: int | None = None, amp: bool = False) -> float:
    """Mean loss in nats per scored token of ``model`` in eval mode on (the first ``max_windows``
    windows of) ``data``. Restores the model's mode."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    n = len(data) if max_windows is None else min(len(data), int(max_windows))
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=dev, dtype=torch.float64)
    count = 0
    try:
        for start in range(0, n, batch_size):
            x, y = data.batch(slice(start, min(n, start + batch_size)), dev)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x)
            total = total + lm_loss(logits, y, "sum").double()
            count += int((y != IGNORE).sum())
    finally:
        model.train(was_training)
    return float(total) / max(1, count)


def check_lm(spec: NetSpec, train_set: TokenSet, config: TrainConfig) -> None:
    """Refuse what cannot be trained, before anything is built."""
    config.validate()
    if config.snapshot_every:
        raise TrainError("gradient snapshots are recorded for image networks only; "
                         "use snapshot_every=0 for a language model")
    context = getattr(spec, "context", None)
    if context is not None and train_set.context > int(context):
        raise SpecError("context", f"the data's windows are {train_set.context} tokens, the "
                                   f"network's context is {context}")
    vocab = getattr(spec, "vocab", None)
    if vocab is not None and int(vocab) < train_set.vocab:
        raise SpecError("vocab", f"the data have {train_set.vocab} symbols, the network {vocab}")


def make_optimizer(net: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (embeddings and linear weights; not on norms'
    gains, biases or ReZero's alpha, as nanoGPT), or SGD with momentum."""
    params = [p for p in net.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": rest, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=ADAM_BETAS, eps=ADAM_EPS, foreach=True)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, foreach=True)


def train_lm(spec: NetSpec, train_set: TokenSet, val_set: TokenSet | None = None,
             config: TrainConfig = TrainConfig(optimizer="adamw", lr=1e-3, batch_size=16),
             progress: Callable[[dict], None] | None = None,
             should_stop: Callable[[], bool] | None = None,
             step_progress: Callable[[int, int], None] | None = None,
             model: nn.Module | None = None) -> TrainResult:
    """Train ``spec`` (or ``model``: tokens (B, T) -> logits (B, T, V)) for next-token prediction.

    Trains ``steps_total(config, len(train_set) // batch)`` steps (``max_steps`` usually decides);
    ``progress(row)`` gets each history row; ``should_stop()`` polled every ``check_every`` steps
    ends the run at once (``meta["stopped"]``)."""
    check_lm(spec, train_set, config)
    dev = choose_device(config.device).device
    use_amp, _ = precision(config, dev)
    t_all = time.perf_counter()
    net = (model if model is not None else build_model(spec, seed=config.seed)).to(dev).train()
    opt = make_optimizer(net, config)
    bs = min(config.batch_size, len(train_set))
    total = steps_total(config, len(train_set) // bs)
    every = config.eval_every or total
    g = torch.Generator().manual_seed(sub_seed(config.seed, "batches"))
    rows: list[dict] = []
    state = {"loss": torch.zeros((), device=dev), "gmax": torch.zeros((), device=dev), "n": 0,
             "t": time.perf_counter(), "step": 0}
    stopped = diverged = False
    with _noise_rng(config.seed, dev):
        if val_set is not None and len(val_set):
            rows.append(_row(0, math.nan, evaluate_lm(net, val_set, dev, max_windows=EVAL_WINDOWS,
                                                      amp=use_amp), math.nan, lr_at(config, 0, total),
                             time.perf_counter() - t_all, math.nan))
        perm, pos = torch.randperm(len(train_set), generator=g), 0
        for step in range(total):
            if should_stop is not None and step % config.check_every == 0 and should_stop():
                stopped = True
                break
            if pos + bs > len(perm):
                perm, pos = torch.randperm(len(train_set), generator=g), 0
            x, y = train_set.batch(perm[pos:pos + bs], dev)
            pos += bs
            _step(net, opt, config, lr_at(config, step, total), x, y, use_amp, state)
            state["step"] = step + 1
            if step_progress is not None:
                step_progress(step + 1, total)
            if (step + 1) % every == 0 or step + 1 == total:
                row = _record(net, val_set, dev, use_amp, config, total, bs * train_set.context,
                              state, t_all)
                rows.append(row)
                if progress is not None:
                    progress(dict(row))
                if not math.isfinite(row["train_loss"]):
                    diverged = True
                    break
    history = pd.DataFrame(rows, columns=LM_HISTORY_COLUMNS)
    meta = {**describe(dev), "seconds": time.perf_counter() - t_all, "stopped": stopped,
            "diverged": diverged, "steps": state["step"], "spec": spec.to_query(),
            "params": sum(p.numel() for p in net.parameters()), "n_train": len(train_set),
            "n_test": len(val_set) if val_set is not None else 0, "amp": "bf16" if use_amp else "off",
            "config": asdict(config), "tokens_per_step": bs * train_set.context}
    return TrainResult(history, net, None, meta)


def _step(net, opt, config: TrainConfig, lr: float, x, y, use_amp: bool, state: dict) -> None:
    """One AdamW/SGD step; the loss and the largest gradient norm accumulate on the device."""
    for group in opt.param_groups:
        group["lr"] = lr
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use_amp):
        loss = lm_loss(net(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for p in net.parameters() if p.grad is not None]
    if config.grad_clip > 0:
        gnorm = torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
    else:
        gnorm = torch.nn.utils.get_total_norm([p.grad for p in params])
    opt.step()
    state["loss"] = state["loss"] + loss.detach()
    state["gmax"] = torch.maximum(state["gmax"], gnorm.detach())
    state["n"] += 1


def _record(net, val_set, dev, use_amp, config, total, tokens_per_step, state, t_all) -> dict:
    """The history row for the steps since the last one (one host sync), then reset the sums."""
    synchronize(dev)
    n = max(1, state["n"])
    train_loss = float(state["loss"]) / n
    dt = time.perf_counter() - state["t"]  # the training steps' time, not the evaluation's
    val = math.nan
    if val_set is not None and len(val_set) and math.isfinite(train_loss):
        val = evaluate_lm(net, val_set, dev, max_windows=EVAL_WINDOWS, amp=use_amp)
    row = _row(state["step"], train_loss, val, float(state["gmax"]),
               lr_at(config, state["step"] - 1, total), time.perf_counter() - t_all,
               n * tokens_per_step / max(dt, 1e-9))
    state.update(loss=torch.zeros((), device=dev), gmax=torch.zeros((), device=dev), n=0,
                 t=time.perf_counter())
    return row


def _row(step, train_loss, val_loss, gmax, lr, seconds, tps) -> dict:
    return dict(zip(LM_HISTORY_COLUMNS, (int(step), float(train_loss), float(val_loss), float(gmax),
                                         float(lr), float(seconds), float(tps))))
