"""One group of same-shape networks trained as one vmapped model, each at its own seed and peak
learning rate, one step at a time (so a scheduler can interleave groups; see :mod:`.concurrent`).

The K models' parameters and buffers are stacked (``torch.func.stack_module_state``) and each
step is one ``functional_call`` under ``vmap``, as in :mod:`.many`. Two things differ from there:

- **A learning rate per model.** ``torch.optim.SGD`` takes one learning rate for a parameter
  tensor, so the LR sweep's networks (the same network at seven learning rates) could not share a
  stack. SGD with momentum and weight decay is elementwise (PyTorch's ``torch.optim.SGD``
  docs: d = g + wd·p; b = μ·b + d, b = d on the first step; p -= lr·b, Nesterov p -= lr·(d + μ·b)),
  so it is written out here with ``torch._foreach_*`` ops and a (K,) learning-rate tensor
  broadcast over each stacked parameter: model k's slice is updated exactly as its own SGD would.
- **The step from static buffers.** Each epoch's batch order and augmentation draws are made up
  front from each model's own generator, in :func:`~.trainer.train`'s order (the permutation,
  then each step's crop and flip draws, :mod:`.graphs`), and moved to the device at once; a step is
  two small copies and the body, which on CUDA is captured once as a graph after
  :data:`~.graphs.WARMUP_STEPS` eager steps (the body has no host synchronisation). A capture that
  fails falls back to the eager body, and the result's meta says so.

So model k learns what :func:`~.trainer.train` learns at its seed and learning rate, up to float
rounding (tests/unit/test_concurrent.py). channels_last is not used under vmap (the stacked
batch is 5-D), so on CUDA a stacked run differs from a lone one by layout rounding only.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict
from collections.abc import Callable, Iterator, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..data import ImageSet, Normalizer
from ..device import choose_device, describe, synchronize
from ..model import build_model
from ..seeding import sub_seed
from ..spec import NetSpec
from .config import HISTORY_COLUMNS, TrainConfig, lr_at, steps_total
from .graphs import WARMUP_STEPS, apply_augment, draw_augment
from .many import _unstack, norms_in_float32
from .snapshots import empty_grads
from .step_history import StepCurve, frame
from .trainer import TrainResult, _check, evaluate, precision


class StackedGroup:
    """K networks of one ``spec`` and one recipe, differing in seed and peak learning rate
    (``configs``: one per model). :meth:`run` is a generator: one step (or one epoch's
    evaluation) per ``next()``; records land in :attr:`records`."""

    def __init__(self, spec: NetSpec, configs: Sequence[TrainConfig], train_set: ImageSet,
                 test_set: ImageSet | None = None, capture: bool | None = None,
                 device_data: dict | None = None):
        self.spec, self.configs, self.test_set = spec, list(configs), test_set
        for c in self.configs:  # the lone trainer's refusals (shapes, classes, memory at its batch)
            _check(spec, train_set, c)
        cfg = self.configs[0]
        self.choice = choose_device(cfg.device)
        self.dev = dev = self.choice.device
        self.use_amp, _ = precision(cfg, dev)
        self.capture = dev.type == "cuda" if capture is None else capture
        self.graph, self.capture_error, self.eager_steps = None, "", 0
        self.t_start = time.perf_counter()
        self.models = [build_model(spec, seed=c.seed).to(dev).train() for c in self.configs]
        params, self.buffers = stack_module_state(self.models)  # (K, ...) leaves
        self.names, self.params = list(params), list(params.values())
        shape = copy.deepcopy(self.models[0]).to("meta")
        norms_in_float32(shape)  # the bf16 + vmap BatchNorm crash of issue #23 (train/many.py)
        self.forward = vmap(lambda p, b, x: functional_call(shape, (p, b), (x,)))
        if len(self.configs) == 1:  # one model: slice 0 of each stack, no vmap (plain convolutions)
            self.forward = lambda p, b, x: functional_call(
                shape, ({n: t[0] for n, t in p.items()}, {n: t[0] for n, t in b.items()}), (x[0],)).unsqueeze(0)
        self.normalizer = Normalizer.of(train_set)
        self.scale, self.shift = self.normalizer.tensors(dev)
        self.x_all, self.y_all = on_device(train_set, dev, device_data)
        self.n, K = len(train_set), len(self.configs)
        self.bs = min(cfg.batch_size, self.n)
        self.steps_per_epoch = self.n // self.bs
        self.total = steps_total(cfg, self.steps_per_epoch)
        self.gens = [torch.Generator().manual_seed(sub_seed(c.seed, "batches")) for c in self.configs]
        rows = 4 if cfg.augment else 1  # batch indices (+ dx, dy, flip)
        self.plan_now = torch.zeros(K, rows, self.bs, dtype=torch.long, device=dev)
        self.lr_now = torch.tensor([c.lr for c in self.configs], device=dev)
        self.lr_views = [self.lr_now.view(K, *[1] * (p.dim() - 1)) for p in self.params]
        self.one_lr = len({c.lr for c in self.configs}) == 1
        self.momentum_bufs: list[torch.Tensor] | None = None
        self.loss_sum = torch.zeros(K, device=dev)
        self.wrong = torch.zeros(K, device=dev)
        self.records: list[list[dict]] = [[] for _ in self.configs]
        # the per-step curve, by the trainer's rule (train/step_history.py), indexed on the device
        self.curve = StepCurve(cfg.curve_every, self.steps_per_epoch, self.bs, dev, K) if cfg.curve_every else None
        self.i_now = torch.zeros(1, dtype=torch.long, device=dev)
        self.step_rows: list[list[dict]] = [[] for _ in self.configs]
        self.epoch_first = 0
        self.step, self.stopped = 0, False

    # -- the epoch's plan, drawn on the host as train() draws it -----------------------------
    def plan_epoch(self) -> None:
        cfg, bs, spe = self.configs[0], self.bs, self.steps_per_epoch
        plans = []
        for g in self.gens:
            perm = torch.randperm(self.n, generator=g)[: spe * bs]
            steps = []
            for i in range(spe):
                rows = [perm[i * bs:(i + 1) * bs]]
                if cfg.augment:
                    rows.extend(t.long() for t in draw_augment(bs, g))
                steps.append(torch.stack(rows))
            plans.append(torch.stack(steps))
        self.plan = torch.stack(plans, 1).to(self.dev)  # (steps, K, rows, bs)
        self.lrs_host = [[lr_at(c, self.step + i, self.total) for c in self.configs] for i in range(spe)]
        self.lrs = torch.tensor(self.lrs_host, dtype=torch.float32).to(self.dev)
        self.loss_sum.zero_()
        self.wrong.zero_()
        self.epoch_first = self.step

    def __call__(self, i: int) -> None:
        """Step ``i`` of the planned epoch."""
        self.plan_now.copy_(self.plan[i])
        self.lr_now.copy_(self.lrs[i])
        self.i_now.fill_(i)
        self.lr_scalar = self.lrs_host[i][0]
        if self.graph is not None:
            self.graph.replay()
        elif not self.capture or self.eager_steps < WARMUP_STEPS:
            self._body()
            self.eager_steps += 1
        else:
            self._capture()

    def _body(self) -> None:
        cfg, K, bs = self.configs[0], len(self.configs), self.bs
        idx = self.plan_now[:, 0].reshape(-1)
        xb = self.x_all.index_select(0, idx).float() * self.scale - self.shift
        yb = self.y_all.index_select(0, idx)
        if cfg.augment:
            p = self.plan_now
            xb = apply_augment(xb, p[:, 1].reshape(-1), p[:, 2].reshape(-1), p[:, 3].reshape(-1))
        xb = xb.view(K, bs, *xb.shape[1:])
        # cache_enabled=False: a graph must not keep autocast's weight casts from its capture
        with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.use_amp, cache_enabled=False):
            out = self.forward(dict(zip(self.names, self.params)), self.buffers, xb)  # (K, bs, classes)
            per_model = F.cross_entropy(out.float().flatten(0, 1), yb, label_smoothing=cfg.label_smoothing,
                                        reduction="none").view(K, bs).mean(1)
        grads = torch.autograd.grad(per_model.sum(), self.params)  # slice k: model k's gradient only
        self._sgd(list(grads), cfg)
        self.loss_sum.add_(per_model.detach())
        batch_wrong = (out.detach().argmax(-1) != yb.view(K, bs)).sum(1)
        self.wrong.add_(batch_wrong)
        if self.curve is not None:
            self.curve.record_at(self.i_now, per_model.detach(), batch_wrong)

    @torch.no_grad()
    def _sgd(self, grads: list[torch.Tensor], cfg: TrainConfig) -> None:
        """torch.optim.SGD's update (momentum, dampening 0, weight decay, Nesterov), with model
        k's slice scaled by model k's learning rate (``lr_now[k]``). Where every model has one
        rate and no graph is captured, the update is SGD's own foreach call: a trajectory can
        amplify a last-bit difference (measured: 7e-4 in a weight after 12 steps of a tiny plain
        net, tests/unit/test_many.py), and there the stacked runs match lone ones closely."""
        d = torch._foreach_add(grads, self.params, alpha=cfg.weight_decay) if cfg.weight_decay else grads
        if cfg.momentum:
            if self.momentum_bufs is None:  # SGD's first step: the buffer is the update itself
                self.momentum_bufs = [t.detach().clone() for t in d]
            else:
                torch._foreach_mul_(self.momentum_bufs, cfg.momentum)
                torch._foreach_add_(self.momentum_bufs, d)
            d = (torch._foreach_add(d, self.momentum_bufs, alpha=cfg.momentum) if cfg.nesterov
                 else self.momentum_bufs)
        if self.one_lr and not self.capture:  # SGD's own rounding (p + (-lr)·b in one op)
            torch._foreach_add_(self.params, d, alpha=-self.lr_scalar)
        else:  # a (K,) tensor: per-model rates, and a graph reads the step's rate on the device
            torch._foreach_sub_(self.params, torch._foreach_mul(d, self.lr_views))

    def _capture(self) -> None:
        torch.cuda.synchronize(self.dev)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):  # captured on its own side stream, replayed on ours
                self._body()
        except RuntimeError as exc:  # keep training, eagerly; the result's meta says why
            self.capture, self.capture_error = False, str(exc)[:300]
            torch.cuda.synchronize(self.dev)
            self._body()
            return
        self.graph = graph
        graph.replay()  # capturing records the step without running it

    # -- the run, one step per next() -------------------------------------------------------
    def run(self, should_stop: Callable[[], bool] | None = None,
            progress: Callable[[int, dict], None] | None = None) -> Iterator[None]:
        """Train every epoch; yields after each step and after each epoch's evaluation. A stop
        (``should_stop()``, polled every ``check_every`` steps) ends it at once; the unfinished
        epoch is not recorded (as :func:`~.trainer.train`)."""
        cfg = self.configs[0]
        for epoch in range(1, cfg.epochs + 1):
            self._wait()
            t0 = time.perf_counter()
            self.plan_epoch()
            for i in range(self.steps_per_epoch):
                if should_stop is not None and self.step % cfg.check_every == 0 and should_stop():
                    self.stopped = True
                    return
                self(i)
                self.step += 1
                yield
            self._end_epoch(epoch, t0, progress)
            yield

    def _wait(self) -> None:
        """Wait for this group's queued work (its own stream on CUDA: the other groups run on)."""
        if self.dev.type == "cuda":
            torch.cuda.current_stream(self.dev).synchronize()
        else:
            synchronize(self.dev)

    def _end_epoch(self, epoch: int, t0: float, progress) -> None:
        losses = (self.loss_sum / self.steps_per_epoch).tolist()  # waits for this group's stream
        errs = (self.wrong / (self.steps_per_epoch * self.bs)).tolist()
        train_s = time.perf_counter() - t0
        if self.curve is not None:
            for k, rows in enumerate(self.curve.rows(epoch, self.epoch_first, self.step - self.epoch_first)):
                self.step_rows[k] += rows
        self.unstack()
        for k, (m, c) in enumerate(zip(self.models, self.configs)):
            test_err = float("nan")
            if self.test_set is not None and len(self.test_set):
                test_err, _ = evaluate(m, self.test_set, self.normalizer, self.dev, c.eval_batch_size,
                                       self.use_amp)
            rec = {"epoch": epoch, "train_loss": losses[k], "train_error": errs[k], "test_error": test_err,
                   "seconds": time.perf_counter() - t0,
                   "images_per_s": len(self.models) * self.steps_per_epoch * self.bs / train_s,
                   "lr": lr_at(c, self.step - 1, self.total)}
            self.records[k].append(rec)
            if progress is not None:
                progress(k, dict(rec))

    def result(self, k: int, scheduled: str = "") -> TrainResult:
        """Model k's :class:`~.trainer.TrainResult` (history, model, meta as train() writes them)."""
        c, m = self.configs[k], self.models[k]
        meta = {**describe(self.dev), "device_note": self.choice.note,
                "seconds": time.perf_counter() - self.t_start, "stopped": self.stopped, "steps": self.step,
                "params": sum(p.numel() for p in m.parameters()), "spec": self.spec.to_query(),
                "n_train": self.n, "n_test": len(self.test_set) if self.test_set is not None else 0,
                "amp": "bf16" if self.use_amp else "off", "channels_last": False,
                "graphed": self.graph is not None, "config": asdict(c),
                "trained_with": (f"stacked ({len(self.models)} models at once, vmap)" if len(self.models) > 1
                                 else "stacked (1 model: its slice of the stack, no vmap)") + scheduled}
        if self.capture_error:
            meta["graph_error"] = self.capture_error
        return TrainResult(pd.DataFrame(self.records[k], columns=HISTORY_COLUMNS), m.train(),
                           self.normalizer, meta, empty_grads(), frame(self.step_rows[k]))

    def unstack(self) -> None:
        """Copy each model's slice of the stacked parameters and buffers into the model."""
        _unstack(self.models, dict(zip(self.names, self.params)), self.buffers)


def on_device(data: ImageSet, dev: torch.device, cache: dict | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images and labels on ``dev`` (uint8, as the trainer keeps them), once per
    data set when groups share a ``cache``."""
    key = (id(data), str(dev))
    if cache is not None and key in cache:
        return cache[key][1:]
    pair = (data.x.to(dev), data.y.to(dev))
    if cache is not None:
        cache[key] = (data, *pair)  # the ImageSet is held so its id is not reused while cached
    return pair
