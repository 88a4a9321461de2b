"""Lesion study: delete one block at a time at test time and measure what the network loses.

Veit et al. 2016 (arXiv 1605.06431) delete single blocks from a trained ResNet at test time and
read residual networks as ensembles of many relatively shallow paths that "do not strongly depend
on each other" (their abstract). Their sec. 4.1's figures (test error barely moves, except at
some downsampling blocks, while deleting a layer of a plain VGG-like net destroys it) are known to
us second-hand only: the section was not in the copies we could read. We repeat the measurement on our own trained models:

* residual block ``y = act(F(x) + S(x))``: deleting it means skipping the residual branch F, so
  ``y = act(S(x))``. With identity shortcuts and ReLU after a ReLU, that is exactly ``y = x``;
  at a downsampling block S is the option-A shortcut (subsample + zero channels) or projection.
* plain block ``y = act(F(x))``: there is no path around it. Where the block keeps the shape we
  define deletion as the identity ``y = x`` (a path the network never trained with: that is the
  point of the comparison). Where the block changes the shape (stride 2, more channels) there is
  no honest way to remove it, and the row says "not removable" with no accuracy.

Everything runs under forward hooks that are removed on exit (also on error), in eval mode, with no
gradient; the model's mode is restored afterwards, so a shared model is never left changed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterable

import pandas as pd
import torch
from torch import nn

from ..errors import Stopped, UserError
from ..model import find_blocks

LESION_COLUMNS = ["block", "position", "stage", "kind", "skip", "removable", "lesion", "accuracy",
                  "base_accuracy", "accuracy_drop", "residual_ratio", "n"]
HOW_RESIDUAL = "branch deleted: y = act(join(S(x), F(x) = 0))"
HOW_IDENTITY = "plain block replaced by identity: y = x"
HOW_NONE = "not removable: the block changes the shape and has no path around it"


class LesionError(UserError):
    """A lesion that cannot be made (unknown block, or a plain block that changes the shape)."""


def _lesion_hook(name: str):
    def hook(module: nn.Module, args, output):
        x = args[0]
        if module.shortcut is not None:
            # Veit et al. 2016: delete the residual branch, keep the shortcut path (as the block
            # joins it: S(x) for an add, ½·S(x) when scaled, (1 − g)·S(x) through a gate).
            return module.without_branch(x, output)
        if x.shape == output.shape:
            return x
        raise LesionError(f"{name}: {HOW_NONE} ({tuple(x.shape)} -> {tuple(output.shape)})")
    return hook


@contextmanager
def lesioned(model: nn.Module, names: str | Iterable[str]):
    """Within the ``with`` block, the named blocks are deleted (see the module doc). Hooks only:
    no weight or module is changed, and the hooks are removed on exit, also after an error."""
    names = [names] if isinstance(names, str) else list(names)
    blocks = dict(find_blocks(model))
    unknown = [n for n in names if n not in blocks]
    if unknown:
        raise LesionError(f"unknown block(s) {', '.join(unknown)}; known: {', '.join(blocks)}")
    handles = [blocks[n].register_forward_hook(_lesion_hook(n)) for n in names]
    try:
        yield model
    finally:
        for h in handles:
            h.remove()


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, device):
    for s in range(0, len(y), batch_size):
        yield x[s:s + batch_size].to(device), y[s:s + batch_size].to(device)


@contextmanager
def _eval_mode(model: nn.Module):
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500,
             lesion: Iterable[str] = ()) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on normalised inputs ``x``, optionally with some
    blocks deleted (Veit et al. also delete several at once)."""
    dev = next(model.parameters()).device
    lesion = list(lesion)
    with _eval_mode(model), lesioned(model, lesion):
        right = 0
        for xb, yb in _batches(x, y, batch_size, dev):
            right += int((model(xb).argmax(1) == yb).sum())
    return right / max(1, len(y))


def _as_tensors(data, normalizer):
    from ..data import ImageSet

    if isinstance(data, ImageSet):
        if normalizer is None:
            raise LesionError("an ImageSet needs its normalizer (from training or the checkpoint)")
        return normalizer(data.x), data.y
    x, y = data
    return x, y


def lesion_passes(spec) -> int:
    """Forward passes over the test images a study of ``spec`` makes: one of the whole network,
    then one per block that can be deleted (every residual block; a plain block that keeps the
    shape). Its time: :func:`estimate_seconds`."""
    ds = downsampling_blocks(spec)
    return 1 + sum(b.skip or not ds[name] for name, b in spec.named_blocks())


BATCH = 500  # lesion_study's default batch


def estimate_seconds(spec, images: int, speed) -> float:
    """Rough seconds of a study of ``spec`` on ``images`` test images on this host: its
    :func:`lesion_passes` × one forward pass at ``speed`` (:class:`~..train.estimate.HostSpeed`)."""
    return lesion_passes(spec) * speed.forward_seconds(spec, int(images), BATCH)


def study_twins(twins: dict, progress=None, should_stop=None) -> tuple[dict, dict, dict]:
    """Lesion studies of several networks in a row, with one progress count across them all.
    ``twins`` maps a name ("plain", "residual") to (load, data): ``load()`` returns (model,
    normalizer, ...) as ``Run.load_model`` does, called when its turn comes (one model alive at a
    time). ``progress(done)`` counts forward passes over the data from the first network on;
    :class:`~resnet_explain.errors.Stopped` propagates. Returns (tables, downsampling map, seconds) by name."""
    tables, ds_map, secs, offset = {}, {}, {}, 0
    for name, (load, data) in twins.items():
        model, normalizer = load()[:2]
        tick = None if progress is None else (lambda done, total, o=offset: progress(o + done))
        df = lesion_study(model, data, normalizer, progress=tick, should_stop=should_stop)
        tables[name], secs[name] = df, float(df.attrs["seconds"])
        ds_map.update(downsampling_blocks(model.spec))
        offset += lesion_passes(model.spec)
    return tables, ds_map, secs


def _baseline_pass(model: nn.Module, blocks, x, y, batch_size: int) -> tuple[int, list, list]:
    """The whole network once: right answers, and per block whether it keeps the shape and the
    summed ||F(x)|| / ||x|| over the examples (residual blocks)."""
    dev = next(model.parameters()).device
    n_blocks = len(blocks)
    ratio_sum = [0.0] * n_blocks
    same_shape = [True] * n_blocks
    seen: dict[int, torch.Tensor] = {}

    # Baseline pass: accuracy, and per block the input/output shapes and ||F(x)|| / ||x||.
    def block_hook(i):
        def hook(module, args, output):
            x_in = args[0]
            same_shape[i] = same_shape[i] and tuple(x_in.shape) == tuple(output.shape)
            if i in seen:
                f = seen.pop(i)
                if module.res_scale is not None:
                    f = module.res_scale * f
                nf = f.flatten(1).double().norm(dim=1)
                nx = x_in.flatten(1).double().norm(dim=1).clamp_min(1e-300)
                ratio_sum[i] += float((nf / nx).sum())
        return hook

    def body_hook(i):
        def hook(module, args, output):
            seen[i] = output
        return hook

    handles = []
    for i, (_, blk) in enumerate(blocks):
        handles.append(blk.register_forward_hook(block_hook(i)))
        if blk.shortcut is not None:
            handles.append(blk.body.register_forward_hook(body_hook(i)))
    right = 0
    try:
        with _eval_mode(model):
            for xb, yb in _batches(x, y, batch_size, dev):
                right += int((model(xb).argmax(1) == yb).sum())
    finally:
        for h in handles:
            h.remove()
        seen.clear()
    return right, same_shape, ratio_sum


@torch.no_grad()
def lesion_study(model: nn.Module, data, normalizer=None, batch_size: int = 500,
                 max_examples: int | None = None, progress=None, should_stop=None) -> pd.DataFrame:
    """Delete each block in turn; one row per block (LESION_COLUMNS), input to output.

    ``data`` is an :class:`~resnet_explain.data.ImageSet` (with ``normalizer``) or a pair
    ``(x, y)`` of normalised float inputs and labels. ``accuracy_drop`` = accuracy of the whole
    model minus accuracy with the block deleted (NaN where it cannot be deleted).
    ``residual_ratio`` is the mean over examples of ||F(x)|| / ||x|| (L2 over channels and
    pixels) for residual blocks: how much each branch adds to what flows past it; NaN for plain
    blocks. ``df.attrs`` carries base_accuracy, n and seconds.

    Long work can be watched and stopped: ``progress(done, total)`` is called after every
    forward pass over the data (the whole network, then each deletable block), and
    ``should_stop()`` is polled before each; when it returns True, :class:`~resnet_explain.errors.Stopped` is raised.
    """
    t0 = time.perf_counter()

    def check_stop():
        if should_stop is not None and should_stop():
            raise Stopped(f"stopped after {time.perf_counter() - t0:.1f} s")
    x, y = _as_tensors(data, normalizer)
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    if len(y) == 0:
        raise LesionError("no examples to test on")
    blocks = find_blocks(model)
    if not blocks:
        raise LesionError("the model has no residual/plain blocks to delete")
    check_stop()
    right, same_shape, ratio_sum = _baseline_pass(model, blocks, x, y, batch_size)
    n = len(y)
    base = right / n
    total = 1 + sum(blk.shortcut is not None or same_shape[i] for i, (_, blk) in enumerate(blocks))
    done = 1
    if progress is not None:
        progress(done, total)

    rows = []
    for i, (name, blk) in enumerate(blocks):
        residual = blk.shortcut is not None
        removable = residual or same_shape[i]
        acc = float("nan")
        if removable:
            check_stop()
            acc = accuracy(model, x, y, batch_size, [name])
            done += 1
            if progress is not None:
                progress(done, total)
        how = HOW_RESIDUAL if residual else (HOW_IDENTITY if removable else HOW_NONE)
        rows.append({"block": name, "position": i, "stage": name.split(".")[0],
                     "kind": blk.spec.kind, "skip": residual, "removable": removable,
                     "lesion": how, "accuracy": acc, "base_accuracy": base,
                     "accuracy_drop": base - acc if removable else float("nan"),
                     "residual_ratio": float(ratio_sum[i]) / n if residual else float("nan"),
                     "n": n})
    df = pd.DataFrame(rows, columns=LESION_COLUMNS)
    df.attrs.update({"base_accuracy": base, "n": n, "seconds": time.perf_counter() - t0,
                     "source": "Veit et al. 2016, arXiv 1605.06431, sec. 4"})
    return df


def downsampling_blocks(spec) -> dict[str, bool]:
    """Block name -> whether it changes the shape (stride or width): the spec's one rule."""
    return {name: b.changes_shape(w) for (name, b), w in zip(spec.named_blocks(), spec.in_widths())}
