"""Many small networks at once: the seeds of one network trained as one batched model.

A ResNet-20 step at batch 128 leaves most of a large GPU idle (issue #14 measured ResNet-20 at
9-13k images/s inside the degradation experiment on an H100). Here the K models' parameters and
buffers are stacked (``torch.func.stack_module_state``) and every step is one
``functional_call`` under ``vmap``: one kernel per layer for all K models instead of K.

Each model keeps everything it would have alone: its initial weights (``build_model(spec, seed)``),
its own batch order and augmentation (its own generator, drawn in the same order as
:func:`~.trainer.train` draws them), its own BatchNorm statistics (batched buffers, updated in
place under vmap), and SGD updates each slice of the stacked parameters exactly as it would the
model's own (SGD with momentum and weight decay is elementwise). So the curves are
:func:`~.trainer.train`'s, seed for seed, up to float rounding (tests/unit/test_many.py trains
both on a tiny case).

Where it pays: on a GPU, where one small network cannot fill the device. On a CPU vmap turns each
convolution into a grouped one, which is slower than K separate ones (``scripts/bench_landscape.py``
measured vmapped evaluation at 0.3x a loop on this project's 2-core CPU), so callers use it on
CUDA. Not supported here (use :func:`~.trainer.train`): gradient snapshots, channels_last,
torch.compile. A network that draws random numbers in training (dropout shortcut, stochastic depth)
is trained one seed at a time by :func:`~.trainer.train` instead (:func:`draws_random_numbers`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace

import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..data import ImageSet, Normalizer
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..seeding import sub_seed
from ..spec import NetSpec
from .config import HISTORY_COLUMNS, TrainConfig, TrainError, lr_at
from .snapshots import empty_grads
from .trainer import TrainResult, _augment, evaluate, precision, train


def train_seeds(spec: NetSpec, train_set: ImageSet, test_set: ImageSet | None, config: TrainConfig,
                seeds: Sequence[int], progress: Callable[[int, dict], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> list[TrainResult]:
    """Train ``spec`` once per seed in ``seeds`` (``config.seed`` is replaced by each), all at
    once; one :class:`~.trainer.TrainResult` per seed, in order. ``progress(k, record)`` gets
    model k's record after each epoch; ``should_stop()`` is polled every step."""
    config.validate()
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise TrainError("train_seeds needs at least one seed")
    if config.snapshot_every or config.compile:
        raise TrainError("train_seeds does not record gradient snapshots or compile; use train()")
    if draws_random_numbers(spec):
        return _one_at_a_time(spec, train_set, test_set, config, seeds, progress, should_stop)
    choice = choose_device(config.device)
    dev = choice.device
    use_amp, _ = precision(config, dev)
    t_all = time.perf_counter()
    models = [build_model(spec, seed=s).to(dev).train() for s in seeds]
    params, buffers = stack_module_state(models)  # leaves: (K, ...) each, params require grad
    shape = copy.deepcopy(models[0]).to("meta")

    def forward(p, b, x):
        return functional_call(shape, (p, b), (x,))

    batched = vmap(forward)
    normalizer = Normalizer.of(train_set)
    scale, shift = normalizer.tensors(dev)
    x_all, y_all = train_set.x.to(dev), train_set.y.to(dev)
    n, K = len(train_set), len(seeds)
    bs = min(config.batch_size, n)
    steps_per_epoch = n // bs
    total = steps_per_epoch * config.epochs
    opt_kw = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                  nesterov=config.nesterov)
    opt = torch.optim.SGD(list(params.values()), **opt_kw, foreach=dev.type != "cuda",
                          **({"fused": True} if dev.type == "cuda" else {}))
    gens = [torch.Generator().manual_seed(sub_seed(s, "batches")) for s in seeds]
    records: list[list[dict]] = [[] for _ in seeds]
    step, stopped = 0, False
    for epoch in range(1, config.epochs + 1):
        synchronize(dev)
        t0 = time.perf_counter()
        perms = [torch.randperm(n, generator=g)[: steps_per_epoch * bs].to(dev) for g in gens]
        loss_sum = torch.zeros(K, device=dev)
        wrong = torch.zeros(K, device=dev)
        for i in range(steps_per_epoch):
            if should_stop is not None and should_stop():
                stopped = True
                break
            xs, ys = [], []
            for k in range(K):
                idx = perms[k][i * bs:(i + 1) * bs]
                xb = x_all.index_select(0, idx).float() * scale - shift
                if config.augment:
                    xb = _augment(xb, gens[k])
                xs.append(xb)
                ys.append(y_all.index_select(0, idx))
            xb, yb = torch.stack(xs), torch.stack(ys)
            lr = lr_at(config, step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                out = batched(params, buffers, xb)  # (K, B, classes)
                per_model = F.cross_entropy(out.float().flatten(0, 1), yb.flatten(),
                                            label_smoothing=config.label_smoothing,
                                            reduction="none").view(K, bs).mean(1)
            opt.zero_grad(set_to_none=True)
            per_model.sum().backward()  # model k's parameters get only model k's gradient
            opt.step()
            loss_sum = loss_sum + per_model.detach()
            wrong = wrong + (out.detach().argmax(-1) != yb).sum(1)
            step += 1
        if stopped:
            break
        synchronize(dev)
        train_s = time.perf_counter() - t0
        _unstack(models, params, buffers)
        losses, errs = (loss_sum / steps_per_epoch).tolist(), (wrong / (steps_per_epoch * bs)).tolist()
        for k, m in enumerate(models):
            test_err = float("nan")
            if test_set is not None and len(test_set):
                test_err, _ = evaluate(m, test_set, normalizer, dev, config.eval_batch_size, use_amp)
            rec = {"epoch": epoch, "train_loss": losses[k], "train_error": errs[k], "test_error": test_err,
                   "seconds": time.perf_counter() - t0, "images_per_s": K * steps_per_epoch * bs / train_s,
                   "lr": lr_at(config, step - 1, total)}
            records[k].append(rec)
            if progress is not None:
                progress(k, dict(rec))
    _unstack(models, params, buffers)
    out = []
    for k, (s, m) in enumerate(zip(seeds, models)):
        cfg = replace(config, seed=s)
        meta = {**describe(dev), "device_note": choice.note, "seconds": time.perf_counter() - t_all, "stopped": stopped,
                "steps": step, "params": sum(p.numel() for p in m.parameters()),
                "spec": spec.to_query(), "n_train": n, "n_test": len(test_set) if test_set is not None else 0,
                "amp": "bf16" if use_amp else "off", "channels_last": False, "config": asdict(cfg),
                "trained_with": f"train_seeds ({K} models at once, vmap)"}
        out.append(TrainResult(pd.DataFrame(records[k], columns=HISTORY_COLUMNS), m.train(), normalizer,
                               meta, empty_grads()))
    return out


def draws_random_numbers(spec: NetSpec) -> bool:
    """Whether the network draws random numbers in training: stochastic depth (a block that adds
    its branch with survival < 1: DropPath) or a dropout shortcut. Under ``vmap`` those would need
    ``randomness="different"``, and even then model k's masks would not be the ones
    :func:`~.trainer.train` draws for seed k; so such specs are trained one at a time."""
    return any(b.adds_branch and (b.combine == "drop" or p < 1.0)
               for b, p in zip(spec.blocks, spec.block_survival()))


def _one_at_a_time(spec, train_set, test_set, config, seeds, progress, should_stop) -> list[TrainResult]:
    """:func:`~.trainer.train` once per seed (the fallback for specs that draw random numbers);
    after a stopped run the remaining seeds are not started."""
    out: list[TrainResult] = []
    for k, s in enumerate(seeds):
        cb = (lambda rec, k=k: progress(k, rec)) if progress is not None else None
        res = train(spec, train_set, test_set, replace(config, seed=s), progress=cb, should_stop=should_stop)
        res.meta["trained_with"] = ("train (one at a time: the network draws random numbers in "
                                    "training, dropout or stochastic depth)")
        out.append(res)
        if res.meta["stopped"]:
            break
    return out


@torch.no_grad()
def _unstack(models, params: dict, buffers: dict) -> None:
    """Copy slice k of the stacked parameters and buffers into model k."""
    for k, m in enumerate(models):
        for name, p in m.named_parameters():
            p.copy_(params[name][k])
        for name, b in m.named_buffers():
            b.copy_(buffers[name][k])
