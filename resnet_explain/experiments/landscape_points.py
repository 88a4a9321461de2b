"""The loss and accuracy of a network at many points of weight space, base + Σ c_i·d_i, in eval
mode: the evaluation behind every loss-landscape slice and line.

Evaluation is batched over points: each chunk of points is one call of
``torch.func.functional_call`` under ``vmap`` over stacked parameters (a grouped convolution per
layer), sized to a memory budget, with the data resident on the device and bf16 on CUDA. On a CPU
a loop over points is faster (grouped convolutions are slow there; ``scripts/bench_landscape.py``
measures both), so ``batched=None`` picks vmap on CUDA and the loop elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from ..errors import Stopped

MEMORY_BUDGET_BYTES = 2 * 2**30  # a chunk of grid points under vmap holds at most about this much


def float_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and floating buffers (BatchNorm running statistics) by name, detached."""
    out = {k: v.detach() for k, v in model.named_parameters()}
    out.update({k: v.detach() for k, v in model.named_buffers() if v.is_floating_point()})
    return out


def _moving(dirs: list[dict]) -> list[str]:
    """The names some direction moves (the others stay at the base value)."""
    return [k for k in dirs[0] if any(bool(d[k].any()) for d in dirs)]


def point_state(base: dict, dirs: list[dict], coeffs, moving: list[str] | None = None) -> dict[str, torch.Tensor]:
    """base + Σ c_i·d_i over the tensors the directions move (a fresh dict; base untouched)."""
    out = dict(base)
    for k in _moving(dirs) if moving is None else moving:
        v = base[k]
        for c, d in zip(coeffs, dirs):
            v = v + float(c) * d[k]
        out[k] = v
    return out


def cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy, in float32 whatever the logits' precision."""
    return F.cross_entropy(out.float(), y, reduction="none")


def _loss_and_correct(out: torch.Tensor, y: torch.Tensor, criterion) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss (float64) and the number of right argmax predictions (0 unless ``y`` holds
    class labels), over the examples: ``out`` is (N, C) or (points, N, C)."""
    lead = out.shape[:-2]
    flat = out.reshape(-1, out.shape[-1])
    yy = y.expand(*lead, *y.shape).reshape(-1, *y.shape[1:])
    loss = criterion(flat, yy).view(*lead, -1).double().sum(-1)
    if y.dtype == torch.long:
        right = (out.argmax(-1) == y).sum(-1)
    else:
        right = torch.zeros_like(loss, dtype=torch.long)
    return loss, right


def evaluate_points(model: nn.Module, base: dict, dirs: list[dict], coeffs: np.ndarray,
                    x: torch.Tensor, y: torch.Tensor, *, batched: bool | None = None,
                    amp: bool = False, image_batch: int = 1024, chunk: int | None = None,
                    criterion: Callable = cross_entropy, done: Callable[[int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss and accuracy of ``model`` at each point base + Σ_i coeffs[p, i]·dirs[i], on
    (x, y) (normalised images and labels, already on the model's device), in eval mode.

    ``batched``: True runs each chunk of points as one ``vmap`` over stacked parameters; False
    loops over points (one ``functional_call`` each); None picks vmap on CUDA, the loop elsewhere.
    ``done(n)`` is called after every n points; ``should_stop()`` is polled between chunks and
    raises :class:`~resnet_explain.errors.Stopped`."""
    dev = x.device
    if batched is None:
        batched = dev.type == "cuda"
    coeffs = np.asarray(coeffs, dtype=np.float64).reshape(len(coeffs), len(dirs))
    n_pts, n_img = len(coeffs), len(x)
    moving = _moving(dirs)
    const = {k: v for k, v in base.items() if k not in moving}
    loss_sum = torch.zeros(n_pts, dtype=torch.float64, device=dev)
    right = torch.zeros(n_pts, dtype=torch.long, device=dev)
    was_training = model.training
    model.eval()
    if chunk is None:
        chunk = points_per_chunk(model, x[:1], image_batch) if batched else 1
    try:
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            for p0 in range(0, n_pts, chunk):
                if should_stop is not None and should_stop():
                    raise Stopped()
                c = torch.as_tensor(coeffs[p0:p0 + chunk], dtype=torch.float32, device=dev)
                if batched:
                    stacked = {}
                    for k in moving:
                        v = base[k].unsqueeze(0).expand(len(c), *base[k].shape)
                        for i, d in enumerate(dirs):
                            v = v + c[:, i].view(-1, *([1] * base[k].dim())) * d[k]
                        stacked[k] = v

                    def f(p, xb):
                        return functional_call(model, {**const, **p}, (xb,))

                    for i0 in range(0, n_img, image_batch):
                        out = vmap(f, in_dims=(0, None))(stacked, x[i0:i0 + image_batch])
                        ls, r = _loss_and_correct(out, y[i0:i0 + image_batch], criterion)
                        loss_sum[p0:p0 + len(c)] += ls
                        right[p0:p0 + len(c)] += r
                else:
                    for j in range(len(c)):
                        state = point_state(base, dirs, coeffs[p0 + j], moving)
                        for i0 in range(0, n_img, image_batch):
                            out = functional_call(model, state, (x[i0:i0 + image_batch],))
                            ls, r = _loss_and_correct(out, y[i0:i0 + image_batch], criterion)
                            loss_sum[p0 + j] += ls
                            right[p0 + j] += r
                if done is not None:
                    done(len(c))
    finally:
        model.train(was_training)
    return (loss_sum / n_img).cpu().numpy(), (right.double() / n_img).cpu().numpy()


def points_per_chunk(model: nn.Module, x1: torch.Tensor, image_batch: int,
                     budget: int = MEMORY_BUDGET_BYTES) -> int:
    """How many grid points one vmap call may hold: the budget over one point's largest
    activations (measured with forward hooks on one image, times the image batch, ×4 for the
    tensors alive at once), at least 1, at most 64."""
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(o.numel() * o.element_size()))
             for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model.eval()
            model(x1)
    finally:
        for h in hooks:
            h.remove()
    per_point = 4 * max(sizes or [1]) * image_batch
    return int(max(1, min(64, budget // max(1, per_point))))
