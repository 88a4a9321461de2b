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

The stacked step itself lives in :mod:`.stacked` (with a learning rate per model and CUDA graphs)
and is run by :mod:`.concurrent`, which also trains different networks at once; here is the
seeds-of-one-network entry point, the BatchNorm dtype fix and the random-numbers rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from ..data import ImageSet
from ..spec import COMBINES, NetSpec
from .config import TrainConfig, TrainError
from .trainer import TrainResult, train


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
    # Local: the stacked step (train/stacked.py, through the concurrent runner) imports this
    # module's norms_in_float32 and _unstack; one vmapped trainer serves both.
    from .concurrent import Job, train_all

    jobs = [Job(spec, replace(config, seed=s), train_set, test_set) for s in seeds]
    return train_all(jobs, stack=True, streams=False, progress=progress, should_stop=should_stop)


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
