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
from dataclasses import asdict, dataclass, replace

import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..data import ImageSet, Normalizer
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..seeding import sub_seed
from ..spec import COMBINES, NetSpec
from .config import HISTORY_COLUMNS, TrainConfig, TrainError, lr_at
from .snapshots import empty_grads
from .step_history import StepCurve, frame
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
    if config.snapshot_every or config.compile or config.max_steps or config.warmup_lr:
        raise TrainError("train_seeds does not snapshot, compile, stop at max_steps or warm up; use train()")
    if draws_random_numbers(spec):
        return _one_at_a_time(spec, train_set, test_set, config, seeds, progress, should_stop)
    t_all = time.perf_counter()
    r = _stack(spec, train_set, config, seeds)
    records: list[list[dict]] = [[] for _ in seeds]
    step_rows: list[list[dict]] = [[] for _ in seeds]
    step, stopped = 0, False
    for epoch in range(1, config.epochs + 1):
        synchronize(r.dev)
        t0 = time.perf_counter()
        start = step
        step, loss_sum, wrong, stopped = _epoch(r, config, step, should_stop)
        if stopped:
            break
        synchronize(r.dev)
        train_s = time.perf_counter() - t0
        _unstack(r.models, r.params, r.buffers)
        losses = (loss_sum / r.steps_per_epoch).tolist()
        errs = (wrong / (r.steps_per_epoch * r.bs)).tolist()
        if r.curve is not None:  # the trainer's rule for the per-step curve (train/step_history.py)
            for k, rows in enumerate(r.curve.rows(epoch, start, step - start)):
                step_rows[k] += rows
        for k, m in enumerate(r.models):
            test_err = float("nan")
            if test_set is not None and len(test_set):
                test_err, _ = evaluate(m, test_set, r.normalizer, r.dev, config.eval_batch_size, r.use_amp)
            rec = {"epoch": epoch, "train_loss": losses[k], "train_error": errs[k], "test_error": test_err,
                   "seconds": time.perf_counter() - t0,
                   "images_per_s": len(seeds) * r.steps_per_epoch * r.bs / train_s,
                   "lr": lr_at(config, step - 1, r.total)}
            records[k].append(rec)
            if progress is not None:
                progress(k, dict(rec))
    _unstack(r.models, r.params, r.buffers)
    return _results(r, spec, config, seeds, records, test_set, stopped, step, t_all, step_rows)


@dataclass
class _Stacked:
    """The K models, their stacked parameters and buffers, the vmapped forward, the data on the
    device, the optimizer and one batch-order generator per seed."""
    dev: torch.device
    choice: object
    use_amp: bool
    models: list
    params: dict
    buffers: dict
    batched: Callable
    normalizer: Normalizer
    scale: torch.Tensor
    shift: torch.Tensor
    x_all: torch.Tensor
    y_all: torch.Tensor
    n: int
    bs: int
    steps_per_epoch: int
    total: int
    opt: torch.optim.Optimizer
    gens: list
    curve: StepCurve | None = None  # the K seeds' per-step curve (config.curve_every)


def _stack(spec: NetSpec, train_set: ImageSet, config: TrainConfig, seeds: list[int]) -> _Stacked:
    choice = choose_device(config.device)
    dev = choice.device
    use_amp, _ = precision(config, dev)
    models = [build_model(spec, seed=s).to(dev).train() for s in seeds]
    params, buffers = stack_module_state(models)  # leaves: (K, ...) each, params require grad
    shape = copy.deepcopy(models[0]).to("meta")
    norms_in_float32(shape)

    def forward(p, b, x):
        return functional_call(shape, (p, b), (x,))

    normalizer = Normalizer.of(train_set)
    scale, shift = normalizer.tensors(dev)
    n = len(train_set)
    bs = min(config.batch_size, n)
    steps_per_epoch = n // bs
    opt_kw = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                  nesterov=config.nesterov)
    opt = torch.optim.SGD(list(params.values()), **opt_kw, foreach=dev.type != "cuda",
                          **({"fused": True} if dev.type == "cuda" else {}))
    gens = [torch.Generator().manual_seed(sub_seed(s, "batches")) for s in seeds]
    return _Stacked(dev, choice, use_amp, models, params, buffers, vmap(forward), normalizer, scale, shift,
                    train_set.x.to(dev), train_set.y.to(dev), n, bs, steps_per_epoch,
                    steps_per_epoch * config.epochs, opt, gens,
                    StepCurve(config.curve_every, steps_per_epoch, bs, dev, len(seeds))
                    if config.curve_every else None)


def norms_in_float32(model: torch.nn.Module) -> None:
    """Every BatchNorm of ``model`` computes in float32, whatever autocast hands it. Under bf16
    autocast on CUDA a convolution's output is bfloat16 while BatchNorm's running statistics stay
    float32; batched under vmap, BatchNorm's backward then refuses the pair ("Expected
    running_mean to have type BFloat16 but got Float", measured on an H200 with torch 2.11; on a
    CPU autocast leaves vmapped convolutions in float32, so it does not reproduce). A float32 input
    makes input, weight and statistics one dtype; the next convolution casts back to bfloat16
    under autocast. tests/unit/test_many.py checks the dtypes the kernel gets."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.register_forward_pre_hook(_float_input)


def _float_input(module, args):
    return (args[0].float(),) + tuple(args[1:])


def _epoch(r: _Stacked, config: TrainConfig, step: int,
           should_stop) -> tuple[int, torch.Tensor, torch.Tensor, bool]:
    """One epoch of all K models: (steps so far, summed loss per model, wrong answers, stopped)."""
    K = len(r.models)
    perms = [torch.randperm(r.n, generator=g)[: r.steps_per_epoch * r.bs].to(r.dev) for g in r.gens]
    loss_sum = torch.zeros(K, device=r.dev)
    wrong = torch.zeros(K, device=r.dev)
    for i in range(r.steps_per_epoch):
        if should_stop is not None and should_stop():
            return step, loss_sum, wrong, True
        xs, ys = [], []
        for k in range(K):
            idx = perms[k][i * r.bs:(i + 1) * r.bs]
            xb = r.x_all.index_select(0, idx).float() * r.scale - r.shift
            if config.augment:
                xb = _augment(xb, r.gens[k])
            xs.append(xb)
            ys.append(r.y_all.index_select(0, idx))
        xb, yb = torch.stack(xs), torch.stack(ys)
        for group in r.opt.param_groups:
            group["lr"] = lr_at(config, step, r.total)
        with torch.autocast(r.dev.type, dtype=torch.bfloat16, enabled=r.use_amp):
            out = r.batched(r.params, r.buffers, xb)  # (K, B, classes)
            per_model = F.cross_entropy(out.float().flatten(0, 1), yb.flatten(),
                                        label_smoothing=config.label_smoothing,
                                        reduction="none").view(K, r.bs).mean(1)
        r.opt.zero_grad(set_to_none=True)
        per_model.sum().backward()  # model k's parameters get only model k's gradient
        r.opt.step()
        loss_sum = loss_sum + per_model.detach()
        batch_wrong = (out.detach().argmax(-1) != yb).sum(1)
        wrong = wrong + batch_wrong
        if r.curve is not None:
            r.curve.record(i, per_model.detach(), batch_wrong)
        step += 1
    return step, loss_sum, wrong, False


def _results(r: _Stacked, spec, config, seeds, records, test_set, stopped, step,
             t_all, step_rows) -> list[TrainResult]:
    out = []
    for k, (s, m) in enumerate(zip(seeds, r.models)):
        cfg = replace(config, seed=s)
        meta = {**describe(r.dev), "device_note": r.choice.note, "seconds": time.perf_counter() - t_all,
                "stopped": stopped, "steps": step, "params": sum(p.numel() for p in m.parameters()),
                "spec": spec.to_query(), "n_train": r.n, "n_test": len(test_set) if test_set is not None else 0,
                "amp": "bf16" if r.use_amp else "off", "channels_last": False, "config": asdict(cfg),
                "trained_with": f"train_seeds ({len(seeds)} models at once, vmap)"}
        out.append(TrainResult(pd.DataFrame(records[k], columns=HISTORY_COLUMNS), m.train(), r.normalizer,
                               meta, empty_grads(), frame(step_rows[k])))
    return out


def draws_random_numbers(spec: NetSpec) -> bool:
    """Whether the network draws random numbers in training: stochastic depth (a block that adds
    its branch with survival < 1: DropPath) or a dropout shortcut. Under ``vmap`` those would need
    ``randomness="different"``, and even then model k's masks would not be the ones
    :func:`~.trainer.train` draws for seed k; so such specs are trained one at a time."""
    return any(b.adds_branch and (COMBINES[b.combine].shortcut_dropout > 0 or p < 1.0)
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
