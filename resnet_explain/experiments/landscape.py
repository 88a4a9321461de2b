"""Loss landscapes around a trained run (Li et al. 2018, "Visualizing the Loss Landscape of Neural
Nets", arXiv 1712.09913), measured, with numbers beside the picture.

What is computed, for one run (a trained network) on a fixed sample of its training images, with
the network in eval mode (BatchNorm uses its stored running statistics, as in Li et al.'s code):

* a **2-D slice** L(θ* + α·d1 + β·d2) on a grid of α, β in [−span, span], and a denser **1-D
  slice** along d1 (Li et al.'s fig. 1: "The loss surfaces of ResNet-56 with/without skip
  connections");
* the **straight line from the initial weights to the trained ones** (Goodfellow et al. 2015,
  "Qualitatively characterizing neural network optimization problems", arXiv 1412.6544), t = 0 the
  initial weights the run started from (rebuilt from its seed), t = 1 the trained ones;
* the **extreme Hessian eigenvalues** at the trained weights, λmax and λmin, by power iteration
  with Hessian-vector products (double backward), and Li et al.'s ratio |λmin/λmax| (they map it
  over their slices; near 0 = locally convex);
* the slice's **roughness**: the share of grid points where the slice itself curves down in some
  direction (its 2×2 finite-difference Hessian has a clearly negative eigenvalue).

Directions (Li et al.'s "filter normalization"): d is Gaussian; each filter of d (a conv
kernel's output channel, a linear layer's row) is rescaled to the norm of the matching filter of
θ*. Biases and BatchNorm's γ/β get 0 (Li et al.'s code, ``--xignore biasbn``): a BN layer after a
convolution makes the loss blind to that convolution's scale, so only a perturbation sized
relative to each filter compares networks; 1-D parameters are left where training put them.
The straight line moves every parameter and BatchNorm's running statistics together (both are
part of the state that eval mode uses).

A 2-D slice of a function of ~10^5 variables shows a plane through it, chosen at random: it cannot
show directions it does not contain, and a smooth slice does not prove a smooth landscape
(Li et al. discuss exactly this, and check their slices against Hessian eigenvalues).

Evaluation is batched over grid points: each chunk of points is one call of
``torch.func.functional_call`` under ``vmap`` over stacked parameters (a grouped convolution per
layer), sized to a memory budget, with the data resident on the device and bf16 on CUDA. On a CPU
a loop over points is faster (grouped convolutions are slow there; ``scripts/bench_landscape.py``
measures both), so ``batched=None`` picks vmap on CUDA and the loop elsewhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from ..device import synchronize
from ..errors import Stopped, UserError
from ..seeding import sub_seed

VERSION = 1  # bump when a change alters stored results; part of every result's key

# A grid point counts as non-convex when the slice's 2x2 finite-difference Hessian has an
# eigenvalue below -NONCONVEX_TOL x its largest |eigenvalue| there (and above the float noise
# floor): it curves clearly downward in some direction of the plane, not by rounding.
NONCONVEX_TOL = 0.05
MEMORY_BUDGET_BYTES = 2 * 2**30  # a chunk of grid points under vmap holds at most about this much


class LandscapeError(UserError):
    """Settings that cannot make a landscape (grid, span, sample), or a run without its data."""


@dataclass(frozen=True)
class LandscapeSettings:
    """Everything that decides a landscape's numbers besides the run (part of the cache key)."""

    grid: int = 21  # points per axis of the 2-D slice; odd, so the trained weights are the centre
    span: float = 1.0  # α, β in [-span, span], in units of the filter-normalised directions
    images: int = 512  # the first `images` images of the run's training split
    seed: int = 0  # seed of the two random directions and of the power iteration's start
    line: int = 0  # points of the 1-D slice and of the init→trained line; 0: 2·grid + 1
    hessian_iters: int = 30  # most power-iteration steps per eigenvalue
    hessian_tol: float = 1e-3  # stop when the eigenvalue estimate changes by less (relative)

    def validate(self) -> LandscapeSettings:
        if not (3 <= int(self.grid) <= 101) or int(self.grid) % 2 == 0:
            raise LandscapeError(f"grid must be an odd number from 3 to 101 (got {self.grid})")
        if not (0.01 <= float(self.span) <= 10.0) or not math.isfinite(float(self.span)):
            raise LandscapeError(f"span must be between 0.01 and 10 (got {self.span})")
        if not (8 <= int(self.images) <= 50_000):
            raise LandscapeError(f"images must be between 8 and 50,000 (got {self.images})")
        if int(self.line) and (not (3 <= int(self.line) <= 401) or int(self.line) % 2 == 0):
            raise LandscapeError(f"line must be 0 (automatic) or an odd number of points from 3 "
                                 f"to 401 (got {self.line})")
        if not (1 <= int(self.hessian_iters) <= 500):
            raise LandscapeError("hessian_iters must be between 1 and 500")
        return self

    @property
    def line_points(self) -> int:
        return int(self.line) or 2 * int(self.grid) + 1

    @property
    def axis(self) -> np.ndarray:
        return np.linspace(-self.span, self.span, int(self.grid))

    @property
    def line_axis(self) -> np.ndarray:
        return np.linspace(-self.span, self.span, self.line_points)

    @property
    def path_axis(self) -> np.ndarray:
        """t of the init→trained line, a quarter beyond each end (as Goodfellow et al. plot), in
        steps of 0.25/k so that t = 0 and t = 1 are points: about ``line_points`` of them."""
        k = max(1, round((self.line_points - 1) / 6))
        return np.linspace(-0.25, 1.25, 6 * k + 1)


@dataclass
class Landscape:
    """A run's landscape: tidy tables and the numbers, with what made them."""

    surface: pd.DataFrame  # alpha, beta, loss, accuracy
    line: pd.DataFrame  # alpha, loss, accuracy (along d1)
    path: pd.DataFrame  # t, loss, accuracy (init -> trained)
    numbers: dict  # lambda_max, lambda_min, ratio, nonconvex_share, ... (see summarise)
    meta: dict = field(default_factory=dict)  # run, settings, device, dtype, seconds, method


# ---------------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------------
def filter_normalized(weights: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A random direction with the shape of ``weights``, normalised filter by filter (Li et al.'s
    filter normalization): every tensor of 2+ dims gets Gaussian values whose slices along dim 0 (filters, rows)
    have the norms of the matching slices of the weights; 1-D and scalar tensors (biases,
    BatchNorm's γ and β) get zeros."""
    out = {}
    for name, w in weights.items():
        if w.dim() <= 1:
            out[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=generator, dtype=torch.float32).to(w.device, w.dtype)
        scale = w.flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1).clamp_min(1e-12)
        out[name] = d * scale.view(-1, *([1] * (w.dim() - 1)))
    return out


def directions(model: nn.Module, seed: int) -> tuple[dict, dict]:
    """The seeded pair (d1, d2) of filter-normalised directions for ``model``'s parameters. Drawn
    on the CPU in parameter order, so the same seed gives the same directions on any device."""
    g = torch.Generator().manual_seed(sub_seed(seed, "landscape", "directions"))
    weights = {k: v.detach() for k, v in model.named_parameters()}
    return filter_normalized(weights, g), filter_normalized(weights, g)


# ---------------------------------------------------------------------------------------------
# Evaluating many points of weight space
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Hessian
# ---------------------------------------------------------------------------------------------
def hessian_extremes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, iters: int = 30,
                     tol: float = 1e-3, seed: int = 0, image_batch: int = 1024,
                     criterion: Callable = cross_entropy, should_stop: Callable[[], bool] | None = None,
                     done: Callable[[int], None] | None = None) -> dict:
    """λmax and λmin of the Hessian of the mean ``criterion`` (cross-entropy) on (x, y) with respect to every
    parameter, at the model's weights, in eval mode and float32.

    Power iteration with Hessian-vector products (double backward): first on H, whose dominant
    eigenvalue at a trained minimum is λmax; then on H − λmax·I, whose dominant eigenvalue is
    λmin − λmax (a shift, so no second eigen-solver is needed). Each stops when its estimate changes by less
    than ``tol`` (relative) or after ``iters`` steps; ``converged`` says which."""
    names = [k for k, _ in model.named_parameters()]
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    bufs = {k: v.detach() for k, v in model.named_buffers()}
    was_training = model.training
    model.eval()
    n = len(x)
    chunks = [(i, min(n, i + image_batch)) for i in range(0, n, image_batch)]
    kept = {}

    def grads(i0, i1):
        out = functional_call(model, ({**params}, bufs), (x[i0:i1],))
        loss = criterion(out, y[i0:i1]).sum() / n
        return torch.autograd.grad(loss, [params[k] for k in names], create_graph=True)

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:
        total = [torch.zeros_like(t) for t in v]
        for i0, i1 in chunks:
            g = kept.get(i0) if len(chunks) == 1 else None
            if g is None:
                g = grads(i0, i1)
                if len(chunks) == 1:
                    kept[i0] = g
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            hv = torch.autograd.grad(dot, [params[k] for k in names], retain_graph=len(chunks) == 1)
            total = [a + b.detach() for a, b in zip(total, hv)]
        return total

    def power(shift: float) -> tuple[float, int, bool]:
        g = torch.Generator().manual_seed(sub_seed(seed, "landscape", "power", shift != 0.0))
        v = [torch.randn(params[k].shape, generator=g).to(params[k]) for k in names]
        norm = torch.sqrt(sum((t * t).sum() for t in v))
        v = [t / norm for t in v]
        lam, prev = 0.0, None
        for it in range(1, int(iters) + 1):
            if should_stop is not None and should_stop():
                raise Stopped()
            hv = hvp(v)
            if shift:
                hv = [a - shift * b for a, b in zip(hv, v)]
            lam = float(sum((a * b).sum() for a, b in zip(hv, v)))
            norm = torch.sqrt(sum((t * t).sum() for t in hv))
            if done is not None:
                done(1)
            if not math.isfinite(lam) or float(norm) == 0.0:
                return lam, it, False
            v = [t / norm for t in hv]
            if prev is not None and abs(lam - prev) <= tol * max(abs(lam), 1e-12):
                return lam, it, True
            prev = lam
        return lam, int(iters), False

    try:
        with torch.enable_grad():
            lmax, it1, ok1 = power(0.0)
            mu, it2, ok2 = power(lmax)
    finally:
        model.train(was_training)
    lmin = mu + lmax
    # μ = λmin − λmax is known to tol·|μ| at best, so λmin only to about tol·|λmax|: below that
    # it cannot be told from 0 by this method.
    precision = float(tol) * abs(mu)
    return {"lambda_max": lmax, "lambda_min": lmin, "lambda_min_precision": precision,
            "lambda_min_resolved": bool(abs(lmin) > precision),
            "ratio": abs(lmin / lmax) if lmax else float("nan"),
            "hessian_iters": it1 + it2, "hessian_converged": bool(ok1 and ok2)}


# ---------------------------------------------------------------------------------------------
# Roughness of a slice
# ---------------------------------------------------------------------------------------------
def slice_curvature(surface: pd.DataFrame) -> pd.DataFrame:
    """At every interior grid point: the eigenvalues (lam_min ≤ lam_max) of the slice's 2×2
    finite-difference Hessian of the loss (central differences, float64), and whether the slice
    curves clearly downward there (``nonconvex``: lam_min < −NONCONVEX_TOL·max|λ| and below the
    rounding floor)."""
    z = surface.pivot(index="beta", columns="alpha", values="loss").sort_index().sort_index(axis=1)
    a, b = z.columns.to_numpy(dtype=float), z.index.to_numpy(dtype=float)
    L = z.to_numpy(dtype=np.float64)  # L[j, i] = loss at (alpha_i, beta_j)
    if L.shape[0] < 3 or L.shape[1] < 3:
        return pd.DataFrame(columns=["alpha", "beta", "lam_min", "lam_max", "nonconvex"])
    ha, hb = a[1] - a[0], b[1] - b[0]
    c = L[1:-1, 1:-1]
    faa = (L[1:-1, 2:] - 2 * c + L[1:-1, :-2]) / ha**2
    fbb = (L[2:, 1:-1] - 2 * c + L[:-2, 1:-1]) / hb**2
    fab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / (4 * ha * hb)
    mean, rad = (faa + fbb) / 2, np.sqrt(((faa - fbb) / 2) ** 2 + fab**2)
    lo, hi = mean - rad, mean + rad
    # float32 evaluation: differences below ~1e-6 of the loss are rounding, not curvature
    floor = 1e-6 * max(1.0, float(np.nanmax(np.abs(L)))) / min(ha, hb) ** 2
    big = np.maximum(np.abs(lo), np.abs(hi))
    nonconvex = (lo < -NONCONVEX_TOL * big) & (lo < -floor)
    bb, aa = np.meshgrid(b[1:-1], a[1:-1], indexing="ij")
    return pd.DataFrame({"alpha": aa.ravel(), "beta": bb.ravel(), "lam_min": lo.ravel(),
                         "lam_max": hi.ravel(), "nonconvex": nonconvex.ravel()})


def path_barrier(path: pd.DataFrame) -> float:
    """How far the loss on the straight init→trained line rises above its start (t = 0) before
    reaching the trained weights: max over 0 ≤ t ≤ 1 of loss(t) − loss(0); 0 for a monotone fall
    (Goodfellow et al. 2015 found none on theirs)."""
    seg = path[(path["t"] >= 0) & (path["t"] <= 1)].sort_values("t")
    if not len(seg):
        return float("nan")
    return float(max(0.0, seg["loss"].max() - seg["loss"].iloc[0]))


def summarise(surface: pd.DataFrame, hess: dict, path: pd.DataFrame | None = None) -> dict:
    """The numbers beside the picture: the Hessian's extremes at the trained weights and the
    slice's roughness (share of interior points that curve clearly downward; its mean
    |min(λ, 0)|/max|λ|, the slice's version of Li et al.'s |λmin/λmax| map)."""
    curv = slice_curvature(surface)
    finite = np.isfinite(surface["loss"].to_numpy())
    big = np.maximum(curv["lam_max"].abs(), curv["lam_min"].abs()).replace(0.0, np.nan)
    ratio = (np.clip(-curv["lam_min"], 0, None) / big).fillna(0.0)
    centre = surface.loc[(surface["alpha"].abs() + surface["beta"].abs()).idxmin()]
    return {**hess,
            "nonconvex_share": float(curv["nonconvex"].mean()) if len(curv) else float("nan"),
            "slice_ratio_mean": float(ratio.mean()) if len(curv) else float("nan"),
            "loss_at_centre": float(centre["loss"]), "accuracy_at_centre": float(centre["accuracy"]),
            "loss_max": float(np.nanmax(np.where(finite, surface["loss"], np.nan))),
            "finite_share": float(finite.mean()),
            "path_barrier": path_barrier(path) if path is not None else float("nan")}


# ---------------------------------------------------------------------------------------------
# One run's landscape
# ---------------------------------------------------------------------------------------------
def sample(run, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of the run's training split (uint8) and their labels."""
    train, _ = run.request.data.load()
    if n > len(train):
        raise LandscapeError(f"the run has {len(train):,} training images; asked for {n:,}")
    part = train.subset(n)
    return part.x, part.y


def initial_model(run) -> nn.Module:
    """The weights the run started from: its network built with its training seed (the trainer
    builds ``build_model(spec, seed=config.seed)``)."""
    from ..model import build_model

    return build_model(run.spec, seed=run.request.config.seed)


def work_units(settings: LandscapeSettings) -> dict[str, int]:
    """Forward passes over the sample, per phase (a Hessian-vector product counts as 3)."""
    s = settings
    return {"surface": s.grid**2, "line": s.line_points, "path": len(s.path_axis),
            "hessian": 3 * 2 * s.hessian_iters}


def landscape(run, settings: LandscapeSettings = LandscapeSettings(), *, device=None,
              batched: bool | None = None, progress: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Landscape:
    """Compute ``run``'s landscape (no cache: see :func:`~resnet_explain.experiments.landscape_store.cached_landscape`).

    ``progress(record)`` gets {"phase", "done", "total"} (work units of :func:`work_units`) after
    every chunk; ``should_stop()`` raises :class:`~resnet_explain.errors.Stopped` between chunks."""
    from ..device import choose_device

    s = settings.validate()
    dev = torch.device(device) if device is not None else choose_device("auto").device
    amp = dev.type == "cuda"  # bf16 on CUDA; float32 on CPU (and for the Hessian everywhere)
    t0 = time.perf_counter()
    model, normalizer, _ = run.load_model(device=dev)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    xu, y = sample(run, int(s.images))
    x, y = normalizer(xu.to(dev)), y.to(dev)
    total = sum(work_units(s).values())
    state = {"done": 0}

    seconds = {}

    def tick(phase):
        seconds.setdefault(phase, time.perf_counter())

        def done(n):
            state["done"] += n * (3 if phase == "hessian" else 1)
            if progress is not None:
                progress({"phase": phase, "done": state["done"], "total": total})
        return done

    base = float_state(model)
    d1, d2 = directions(model, s.seed)
    zero = {k: torch.zeros_like(v) for k, v in base.items() if k not in d1}
    d1, d2 = {**d1, **zero}, {**d2, **zero}
    ax = s.axis
    aa, bb = np.meshgrid(ax, ax, indexing="xy")
    grid = np.stack([aa.ravel(), bb.ravel()], axis=1)
    kw = dict(batched=batched, amp=amp, should_stop=should_stop)
    loss, acc = evaluate_points(model, base, [d1, d2], grid, x, y, done=tick("surface"), **kw)
    surface = pd.DataFrame({"alpha": grid[:, 0], "beta": grid[:, 1], "loss": loss, "accuracy": acc})
    la = s.line_axis
    loss, acc = evaluate_points(model, base, [d1], la[:, None], x, y, done=tick("line"), **kw)
    line = pd.DataFrame({"alpha": la, "loss": loss, "accuracy": acc})
    init = float_state(initial_model(run).to(dev))
    if set(init) != set(base):
        raise LandscapeError("the run's initial network does not match its checkpoint")
    # Parameters move along the whole line; BatchNorm's running statistics move with t held to
    # [0, 1] (beyond the ends a linearly extrapolated running variance can turn negative).
    params = {k for k, _ in model.named_parameters()}
    weights = {k: (base[k] - init[k]) if k in params else torch.zeros_like(base[k]) for k in base}
    stats = {k: torch.zeros_like(base[k]) if k in params else (base[k] - init[k]) for k in base}
    t = s.path_axis
    tt = np.stack([t, np.clip(t, 0.0, 1.0)], axis=1)
    loss, acc = evaluate_points(model, init, [weights, stats], tt, x, y, done=tick("path"), **kw)
    path = pd.DataFrame({"t": t, "loss": loss, "accuracy": acc})
    hess = hessian_extremes(model, x, y, iters=s.hessian_iters, tol=s.hessian_tol, seed=s.seed,
                            should_stop=should_stop, done=tick("hessian"))
    synchronize(dev)
    if progress is not None:  # the power iteration may converge before its last planned step
        progress({"phase": "done", "done": total, "total": total})
    ends = list(seconds.values()) + [time.perf_counter()]
    phase_seconds = {p: round(b - a, 3) for p, a, b in zip(seconds, ends, ends[1:])}
    numbers = summarise(surface, hess, path)
    meta = {"run_id": run.run_id, "name": run.name, "spec": run.request.spec,
            "variant": run.spec.arch, "depth": run.spec.depth,
            "classes": int(run.spec.classes),
            "settings": asdict(s), "device": str(dev), "dtype": "bf16" if amp else "float32",
            "method": "vmap" if (batched if batched is not None else dev.type == "cuda") else "loop",
            "seconds": time.perf_counter() - t0, "phase_seconds": phase_seconds, "torch": torch.__version__, "version": VERSION,
            "params": int(sum(v.numel() for v in model.parameters())),
            "moved_params": int(sum(int(bool(d1[k].any())) * d1[k].numel() for k in d1)),
            "train_error": run.meta.get("train_error"), "test_error": run.meta.get("test_error")}
    return Landscape(surface, line, path, numbers, meta)


def compare(plain: Landscape, residual: Landscape) -> str:
    """The twins' numbers in one paragraph, each claim a measured number (markdown)."""
    from ..chance import near_chance

    p, r = plain.numbers, residual.numbers
    lp, lr = p["lambda_max"], r["lambda_max"]
    stuck = [(name, res) for name, res in (("plain", plain), ("residual", residual))
             if near_chance(res.numbers["accuracy_at_centre"], 1.0 / res.meta.get("classes", 10))]
    where = "point" if stuck else "minimum"
    if lp > 0 and lr > 0:
        k = max(lp, lr) / min(lp, lr)
        sharper = "plain" if lp > lr else "residual"
        curv = (f"At the trained weights the sharpest curvature, λmax, is **{lp:.3g}** for the plain "
                f"net and **{lr:.3g}** for the residual one: the {sharper} net's {where} is "
                f"{k:.1f}× sharper along its steepest direction.")
    else:
        curv = (f"λmax at the trained weights: plain {lp:.3g}, residual {lr:.3g} (not both "
                "positive: at least one is not at a minimum of this sample's loss).")
    rough = (f" In this slice **{p['nonconvex_share']:.0%}** of the plain net's grid points curve "
             f"clearly downward in some direction, **{r['nonconvex_share']:.0%}** of the residual "
             f"net's; the highest loss in the slice is {p['loss_max']:.3g} and {r['loss_max']:.3g}.")
    neg = [name for name, n in (("plain", p), ("residual", r))
           if n.get("lambda_min_resolved") and n["lambda_min"] < 0]
    conv = (f" The {' and '.join(neg)} net{'s have' if len(neg) > 1 else ' has'} clearly negative "
            "curvature at the trained weights (λmin < 0): a saddle-like point, not a minimum, in "
            "some direction." if neg else "")
    line = ""
    bp, br = p.get("path_barrier"), r.get("path_barrier")
    if bp is not None and br is not None and math.isfinite(bp) and math.isfinite(br):
        line = (f" On the straight line from the initial to the trained weights the loss rises "
                f"{bp:.3g} above its start for the plain net and {br:.3g} for the residual net "
                "before it falls (0 would be a monotone fall).")
    chance = "".join(
        f" **The {name} net never left chance** ({res.numbers['accuracy_at_centre']:.0%} right on "
        f"this sample, chance {1.0 / res.meta.get('classes', 10):.0%}): its trained weights are "
        "where training stopped, not a minimum, so its picture is not the landscape around a "
        "solution." for name, res in stuck)
    return chance.strip() + (" " if chance else "") + curv + rough + conv + line


def estimate_seconds(run, settings: LandscapeSettings, forward_seconds: float) -> float:
    """Rough wall time: the work units × the measured time of one forward pass over the sample."""
    return sum(work_units(settings).values()) * float(forward_seconds)


def time_one_point(run, settings: LandscapeSettings, device=None) -> float:
    """Seconds of one forward pass over the landscape's sample at the trained weights, measured
    here and now (the unit of :func:`estimate_seconds`)."""
    from ..device import choose_device

    dev = torch.device(device) if device is not None else choose_device("auto").device
    model, normalizer, _ = run.load_model(device=dev)
    xu, y = sample(run, int(settings.images))
    x = normalizer(xu.to(dev))
    base = float_state(model)
    zero = {k: torch.zeros_like(v) for k, v in base.items()}
    evaluate_points(model, base, [zero], np.zeros((1, 1)), x[:8], y[:8].to(dev), batched=False)  # warm
    synchronize(dev)
    t = time.perf_counter()
    evaluate_points(model, base, [zero], np.zeros((1, 1)), x, y.to(dev), batched=False,
                    amp=dev.type == "cuda")
    synchronize(dev)
    return time.perf_counter() - t

