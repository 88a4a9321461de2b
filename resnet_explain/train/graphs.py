"""A training step without launch overhead: the whole step captured once as a CUDA graph.

At the experiments' batch 128 a ResNet-20 step is ~31 GFLOP, which an H200 does in well under a
millisecond; eager PyTorch spends longer than that in Python launching its ~900 kernels (issue
#23 measured ``train()`` at 10,400 images/s, no faster than a naive loop). Here everything one
step does runs on the device from static buffers: the batch gathered from the resident uint8
images, normalised and augmented; forward (bf16 autocast, channels_last), loss, backward and the
fused SGD step with the learning rate read from a device tensor; the running loss and error
summed on the device. On CUDA that body is captured once (``torch.cuda.graph``) after a few
eager warm-up steps on a side stream (which create the momentum buffers and let cuDNN choose its
kernels), then each step is two small copies and one ``replay()``.

The random numbers are :func:`~.trainer.train`'s, in the same order: the epoch's batch order and
augmentation draws come from the same generator (drawn at the start of the epoch, on the host),
so a graphed run learns what an eager one learns up to float rounding. Elsewhere (a CPU) the
same body runs eagerly from the same buffers; tests/unit/test_gpu_paths.py checks it against the
eager trainer. Asked for with ``TrainConfig(compile="graphs")``; a run that records gradient
snapshots trains eagerly (a graph would not run the snapshot hooks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import lr_at

WARMUP_STEPS = 3  # eager steps before the capture (PyTorch's CUDA-graph notes use 3 or more)


def draw_augment(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch's augmentation draws on the host: column and row offsets into the 4-pixel
    padded image (0..8) and whether to flip, per example."""
    dx = torch.randint(0, 9, (n,), generator=g)
    dy = torch.randint(0, 9, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    return dx, dy, flip


def apply_augment(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
                  flip: torch.Tensor) -> torch.Tensor:
    """Random crop from the 4-pixel zero-padded image and horizontal flip, per example, on the
    device (He et al. 2015 sec. 4.2): gathers only, so it can be captured in a graph."""
    n, c, h, w = x.shape
    dx, dy, flip = dx.to(x.device), dy.to(x.device), flip.to(x.device).bool()
    pad = F.pad(x, (4, 4, 4, 4))
    ar_w = torch.arange(w, device=x.device).view(1, w)
    cols = torch.where(flip.view(n, 1), dx.view(n, 1) + (w - 1) - ar_w, ar_w + dx.view(n, 1))
    rows = torch.arange(h, device=x.device).view(1, h) + dy.view(n, 1)
    pad = pad.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 8))
    return pad.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


class GraphedStep:
    """The training step of one prepared run (``trainer._Prepared``) from static device buffers;
    on CUDA captured as one graph after :data:`WARMUP_STEPS` eager steps."""

    def __init__(self, r, config, capture: bool | None = None):
        self.r, self.config = r, config
        dev = r.dev
        self.capture = dev.type == "cuda" if capture is None else capture
        rows = 4 if config.augment else 1  # batch indices (+ dx, dy, flip)
        self.plan_now = torch.zeros(rows, r.bs, dtype=torch.long, device=dev)
        self.i_now = torch.zeros(1, dtype=torch.long, device=dev)  # the step's row in r.curve
        self.lr = torch.tensor(float(config.lr), device=dev)
        for group in r.opt.param_groups:
            group["lr"] = self.lr  # read on the device by the (fused) SGD step
        self.loss_sum = torch.zeros((), device=dev)
        self.wrong = torch.zeros((), device=dev)
        self.graph, self.capture_error = None, ""
        self.eager_steps = 0
        self.plan = self.lrs = None

    def plan_epoch(self, step: int) -> None:
        """Draw the epoch's batch order and augmentation (the trainer's generator, its order)
        and its learning rates; move them to the device at once; zero the running sums."""
        r, cfg = self.r, self.config
        perm = torch.randperm(r.n, generator=r.g)[: r.steps_per_epoch * r.bs]
        per_step = []
        for i in range(r.steps_per_epoch):
            rows = [perm[i * r.bs:(i + 1) * r.bs]]
            if cfg.augment:
                rows.extend(t.long() for t in draw_augment(r.bs, r.g))
            per_step.append(torch.stack(rows))
        self.plan = torch.stack(per_step).to(r.dev)
        self.lrs = torch.tensor([lr_at(cfg, step + i, r.total) for i in range(r.steps_per_epoch)],
                                dtype=torch.float32).to(r.dev)
        self.loss_sum.zero_()
        self.wrong.zero_()

    def __call__(self, i: int) -> None:
        """Step ``i`` of the planned epoch."""
        self.plan_now.copy_(self.plan[i])
        self.i_now.fill_(i)
        self.lr.copy_(self.lrs[i])
        if self.graph is not None:
            self.graph.replay()
        elif not self.capture:
            self._body()
        elif self.eager_steps < WARMUP_STEPS:
            self._warm()
        else:
            self._capture()

    def _body(self) -> None:
        r, cfg = self.r, self.config
        idx = self.plan_now[0]
        xb = r.x_all.index_select(0, idx).float() * r.scale - r.shift
        yb = r.y_all.index_select(0, idx)
        if cfg.augment:
            xb = apply_augment(xb, self.plan_now[1], self.plan_now[2], self.plan_now[3])
        if r.use_cl:
            xb = xb.contiguous(memory_format=torch.channels_last)
        # cache_enabled=False: a graph must not keep autocast's weight casts from its capture
        with torch.autocast(r.dev.type, dtype=torch.bfloat16, enabled=r.use_amp, cache_enabled=False):
            out = r.net(xb)
            loss = F.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing)
        r.opt.zero_grad(set_to_none=True)  # inside a capture: backward allocates from its pool
        loss.backward()
        r.opt.step()
        self.loss_sum.add_(loss.detach())
        batch_wrong = (out.detach().argmax(1) != yb).sum()
        self.wrong.add_(batch_wrong)
        if r.curve is not None:  # the per-step curve (train/step_history.py), indexed on the device
            r.curve.record_at(self.i_now, loss.detach(), batch_wrong)

    def _warm(self) -> None:
        side = torch.cuda.Stream(device=self.r.dev)
        side.wait_stream(torch.cuda.current_stream(self.r.dev))
        with torch.cuda.stream(side):
            self._body()
        torch.cuda.current_stream(self.r.dev).wait_stream(side)
        self.eager_steps += 1

    def _capture(self) -> None:
        torch.cuda.synchronize(self.r.dev)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._body()
        except RuntimeError as exc:  # e.g. an optimizer that reads its rate on the host (not
            # fused): keep training, eagerly, from the same buffers; the result's meta says why
            self.capture, self.capture_error = False, str(exc)[:300]
            torch.cuda.synchronize(self.r.dev)
            self._body()
            return
        self.graph = graph
        graph.replay()  # capturing records the step without running it


def graphed_epoch(r, config, step: int, should_stop, step_progress):
    """One epoch through ``r.graphed``: (steps so far, summed loss, wrong answers, stopped), as
    ``trainer._train_epoch`` returns them."""
    g = r.graphed
    g.plan_epoch(step)
    for i in range(r.steps_per_epoch):
        if should_stop is not None and step % config.check_every == 0 and should_stop():
            return step, g.loss_sum.clone(), g.wrong.clone(), True
        g(i)
        step += 1
        if step_progress is not None:
            step_progress(step, r.total)
    return step, g.loss_sum.clone(), g.wrong.clone(), False
