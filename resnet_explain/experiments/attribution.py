"""Attribution: a small registry over Captum, keyed by Captum's own class names, and scoring.

One verb, as in Captum: :func:`attribute` takes Captum's argument names (``n_steps``,
``internal_batch_size``, ``sliding_window_shapes``, ...) and passes them through. What this module
adds is what Captum leaves to the user: baselines by name (black, blurred, noise), Grad-CAM
upsampled to the input, timing that synchronises, and scores against ground-truth object masks
(pointing game; share of positive attribution inside the mask).

Our blocks are Captum-safe by construction (one activation module per call site, no in-place ops),
so DeepLift and LayerGradCam run on every block kind, plain and residual.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..device import timed
from ..errors import UserError
from ..model import find_blocks
from ..seeding import global_rng, sub_seed


@dataclass(frozen=True)
class Method:
    name: str  # Captum's class name
    kind: str  # "input" (attribution per input pixel) or "layer"
    baselines: bool  # takes a baseline
    delta: bool  # can return a convergence delta (completeness check)
    defaults: dict = field(default_factory=dict)
    doc: str = ""
    random: bool = False  # draws random numbers (seeded from ``seed``)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("Saliency", "input", False, False, {"abs": False},
           "gradient of the class score w.r.t. the pixels (Simonyan et al. 2013)"),
    Method("InputXGradient", "input", False, False, {}, "input × gradient (Shrikumar et al. 2016)"),
    Method("IntegratedGradients", "input", True, True, {"n_steps": 50, "method": "gausslegendre"},
           "path integral of gradients from a baseline (Sundararajan et al. 2017); "
           "sum = f(x) − f(baseline) up to the convergence delta"),
    Method("DeepLift", "input", True, True, {}, "DeepLift rescale rule (Shrikumar et al. 2017)"),
    Method("GradientShap", "input", True, True, {"n_samples": 20, "stdevs": 0.1},
           "expected gradients over noisy baselines (Lundberg & Lee 2017)", random=True),
    Method("Occlusion", "input", True, False,
           {"sliding_window_shapes": (3, 6, 6), "strides": (3, 3, 3)},
           "score drop when a patch is replaced by the baseline (Zeiler & Fergus 2014)"),
    Method("LayerGradCam", "layer", False, False, {},
           "Grad-CAM on a chosen block, upsampled to the input (Selvaraju et al. 2017)"),
)}
LAYER_METHODS = ("LayerConductance", "LayerIntegratedGradients")
NO_NOISE_TUNNEL = {"Occlusion": "it is not a gradient method",
                   "GradientShap": "it already averages over noisy samples (its own stdevs)"}
BASELINES = ("black", "blurred", "noise")


class AttributionError(UserError):
    """A request the user can fix (unknown method, a layer the method needs, ...)."""


def make_baseline(kind: str, inputs: torch.Tensor, black: torch.Tensor | None = None,
                  seed: int = 0) -> torch.Tensor:
    """Baselines in the model's (normalised) input space.

    ``black``: the normalised all-zero image (pass it; default zeros); ``blurred``: a Gaussian blur
    of the input (sigma 3 px), which keeps colour and removes shape; ``noise``: seeded Gaussian
    noise with the input's per-channel mean and std.
    """
    if kind == "black":
        return (torch.zeros_like(inputs) if black is None else black.expand_as(inputs)).contiguous()
    if kind == "blurred":
        return gaussian_blur(inputs, sigma=3.0)
    if kind == "noise":
        g = torch.Generator(device="cpu").manual_seed(sub_seed(seed, "attribution", "noise baseline"))
        noise = torch.randn(inputs.shape, generator=g).to(inputs.device, inputs.dtype)
        mean = inputs.mean(dim=(2, 3), keepdim=True)
        std = inputs.std(dim=(2, 3), keepdim=True)
        return mean + noise * std
    raise AttributionError(f"baseline must be one of {BASELINES}, got {kind!r}")


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kx, groups=c)
    return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), ky, groups=c)


@dataclass
class Attribution:
    attr: torch.Tensor  # same shape as the inputs (Grad-CAM: (N, 1, H, W), upsampled)
    delta: torch.Tensor | None  # per-example convergence delta, where the method has one
    seconds: float
    # the baselines used: one per example, or for GradientShap the distribution it draws from
    # (the chosen baselines, then black); see completeness()
    baseline: torch.Tensor | None


@contextmanager
def _seeded(seed: int, device: torch.device, enabled: bool = True):
    """Seed the global generators Captum draws from (torch: NoiseTunnel's noise; numpy:
    GradientShap's baseline choice and interpolation points) for one call, then give the caller
    their state back, so the same seed gives the same map."""
    if not enabled:
        yield
        return
    state = np.random.get_state()
    try:
        with global_rng([device] if device.type == "cuda" else []):  # no other thread reseeds it meanwhile
            torch.manual_seed(int(seed))
            np.random.seed(int(seed) % 2**32)
            yield
    finally:
        np.random.set_state(state)


def _module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise AttributionError(f"no block named {name!r}") from None


def attribute(model: nn.Module, inputs: torch.Tensor, target, method: str = "IntegratedGradients", *,
              baseline: str | torch.Tensor = "black", black: torch.Tensor | None = None,
              layer: str | None = None, noise_tunnel: bool = False, nt_samples: int = 10,
              nt_stdevs: float = 0.15, seed: int = 0, **kwargs) -> Attribution:
    """Attribute ``model``'s ``target`` score to the ``inputs`` pixels with Captum's ``method``.

    Extra keyword arguments go to Captum's ``attribute`` under Captum's own names. ``noise_tunnel``
    wraps the method in NoiseTunnel (SmoothGrad). ``layer`` names a block for LayerGradCam.
    The model must be in eval mode (BatchNorm uses running statistics); it is not modified.
    """
    import captum.attr as ca  # lazy: importing captum takes ~2 s; only attribution needs it

    if method not in METHODS:
        raise AttributionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    m = METHODS[method]
    if model.training:
        raise AttributionError("put the model in eval mode first (model.eval())")
    target = torch.as_tensor(target, device=inputs.device).reshape(-1).expand(inputs.shape[0])
    args = dict(m.defaults)
    args.update(kwargs)
    base = None
    if m.baselines:
        base = baseline if isinstance(baseline, torch.Tensor) else make_baseline(baseline, inputs, black, seed)
        if method == "GradientShap":  # a distribution of baselines: the chosen one and black
            blk = make_baseline("black", inputs, black)
            base = torch.cat([base, blk])
        args["baselines"] = base
    if m.delta and not noise_tunnel:
        args["return_convergence_delta"] = True
    if m.kind == "layer":
        if not layer:
            raise AttributionError(f"{method} needs a block (layer)")
        algo = getattr(ca, method)(model, _module(model, layer))
    elif method == "DeepLift":
        algo = ca.DeepLift(model)
    else:
        algo = getattr(ca, method)(model)
    delta = None
    inputs = inputs.detach().requires_grad_()  # Captum would set it, with a warning
    if noise_tunnel and method in NO_NOISE_TUNNEL:
        raise AttributionError(f"NoiseTunnel does not wrap {method}: " + NO_NOISE_TUNNEL[method])
    with (timed(inputs.device) as t, warnings.catch_warnings(),
          _seeded(seed, inputs.device, enabled=noise_tunnel or m.random)):
        # DeepLift/GuidedBackprop announce the hooks they set for the call; they remove them after.
        warnings.filterwarnings("ignore", message="Setting (forward, )?backward hooks")
        if noise_tunnel:
            out = ca.NoiseTunnel(algo).attribute(inputs, nt_type="smoothgrad", nt_samples=nt_samples,
                                                 stdevs=nt_stdevs, target=target, **args)
        else:
            out = algo.attribute(inputs, target=target, **args)
        if isinstance(out, tuple):
            out, delta = out
        if m.kind == "layer":
            out = ca.LayerAttribution.interpolate(out, inputs.shape[-2:], interpolate_mode="bilinear")
    return Attribution(out.detach(), None if delta is None else delta.detach(), t.seconds, base)


def completeness(model: nn.Module, inputs: torch.Tensor, baseline: torch.Tensor, target,
                 attr: torch.Tensor) -> pd.DataFrame:
    """Per example: sum of attributions, f(x) − f(baseline), and their difference.

    ``baseline`` has one row per example, or any other number of rows for a distribution of
    baselines (GradientShap draws from all of them for every example, so its completeness holds in
    expectation: f(x) − mean over the rows of f(baseline))."""
    target = torch.as_tensor(target, device=inputs.device).reshape(-1).expand(inputs.shape[0])
    with torch.no_grad():
        fx = model(inputs).gather(1, target.view(-1, 1)).squeeze(1)
        lb = model(baseline)
    fb = (lb.gather(1, target.view(-1, 1)).squeeze(1) if baseline.shape[0] == inputs.shape[0]
          else lb[:, target].mean(0))
    s = attr.flatten(1).sum(1)
    return pd.DataFrame({"attr_sum": s.double().cpu().numpy(),
                         "f_x_minus_f_baseline": (fx - fb).double().cpu().numpy(),
                         "gap": (s - (fx - fb)).double().cpu().numpy()})


# ---------------------------------------------------------------------------------------------
# Integrated Gradients until complete
# ---------------------------------------------------------------------------------------------
IG_TOLERANCE = 0.01  # |Σ attributions − (f(x) − f(baseline))| at most this share of |f(x) − f(baseline)|
IG_STEPS = (50, 100, 200, 400, 800)  # n_steps tried in turn; the last is the cap


@dataclass(frozen=True)
class IGCompleteness:
    """How complete an Integrated Gradients attribution is (Sundararajan et al. 2017, axiom 1)."""

    steps: int  # n_steps of the attribution returned
    gap: float  # the largest |Σ attr − Δf| / |Δf| over the examples whose Δf is not ≈ 0 (else NaN)
    f_diff: float  # f(x) − f(baseline) of the example with that gap (logit units)
    converged: bool  # gap ≤ tolerance (False also when Δf ≈ 0: nothing to judge)
    tolerance: float
    tried: tuple  # ((n_steps, gap), ...) in the order tried
    judged: bool = True  # False when |Δf| < flat_below: the score ignores the input


def integrated_gradients_complete(model: nn.Module, inputs: torch.Tensor, target, *,
                                  steps=IG_STEPS, tolerance: float = IG_TOLERANCE,
                                  flat_below: float = 0.0, **kwargs) -> tuple[Attribution, IGCompleteness]:
    """Integrated Gradients with ``n_steps`` raised through ``steps`` until every example's sum of
    attributions is within ``tolerance`` of f(x) − f(baseline) (relative), or the last (the cap)
    is reached. Where |f(x) − f(baseline)| < ``flat_below`` (or is 0) the relative gap means
    nothing (the score ignores the input): such examples are not judged, and when none can be, the
    first step count is kept and the result says so.
    ``kwargs`` go to :func:`attribute` (baseline, black, seed, internal_batch_size, ...); the
    returned attribution's ``seconds`` is the time of every try together."""
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 1:
        raise AttributionError("IG steps must be positive whole numbers")
    if kwargs.get("noise_tunnel"):
        raise AttributionError("SmoothGrad averages over noisy inputs: its sum is not f(x) − "
                               "f(baseline), so there is no completeness to reach")
    kwargs.pop("n_steps", None)
    tried, seconds = [], 0.0
    for n in steps:
        a = attribute(model, inputs, target, "IntegratedGradients", n_steps=n, **kwargs)
        seconds += a.seconds
        c = completeness(model, inputs, a.baseline, target, a.attr)
        diff = c["f_x_minus_f_baseline"].to_numpy()
        ok = (np.abs(diff) > 0) & (np.abs(diff) >= flat_below)  # examples whose gap can be judged
        judged = bool(ok.any())
        rel = np.where(ok, np.abs(c["gap"].to_numpy()) / np.where(ok, np.abs(diff), 1.0), np.nan)
        worst = int(np.nanargmax(rel)) if judged else int(np.argmax(np.abs(diff)))
        gap = float(rel[worst])
        tried.append((n, gap))
        if not judged or gap <= tolerance:
            break
    a.seconds = seconds
    return a, IGCompleteness(steps=n, gap=gap if judged else float("nan"), f_diff=float(diff[worst]),
                             converged=judged and gap <= tolerance, tolerance=tolerance,
                             tried=tuple(tried), judged=judged)


# ---------------------------------------------------------------------------------------------
# Per-block attribution: which blocks carry the decision
# ---------------------------------------------------------------------------------------------
def block_attribution(model: nn.Module, inputs: torch.Tensor, target, method: str = "LayerConductance",
                      baseline: torch.Tensor | None = None, n_steps: int = 16,
                      internal_batch_size: int | None = None) -> pd.DataFrame:
    """Total attribution flowing through each block's *residual branch* (``block.body``).

    For a plain block the branch is the whole block, a cut of the graph, so (by completeness) its
    total is f(x) − f(baseline) at every depth. For a residual block the branch is not a cut: the
    skip carries the rest, so the branch's share says how much of the decision that block adds.
    """
    import captum.attr as ca  # lazy: importing captum takes ~2 s; only attribution needs it

    if method not in LAYER_METHODS:
        raise AttributionError(f"method must be one of {LAYER_METHODS}, got {method!r}")

    target = torch.as_tensor(target, device=inputs.device).reshape(-1).expand(inputs.shape[0])
    base = torch.zeros_like(inputs) if baseline is None else baseline
    with torch.no_grad():
        fx = model(inputs).gather(1, target.view(-1, 1)).squeeze(1)
        fb = model(base).gather(1, target.view(-1, 1)).squeeze(1)
    total = float((fx - fb).mean())
    blocks = find_blocks(model)
    layers = [getattr(blk, "body", blk) for _, blk in blocks]
    # One layer per call. (Captum's LayerIntegratedGradients also takes a list of layers, but it
    # interpolates all of them at once, which in a chain of blocks is a different quantity.)
    algo_cls = getattr(ca, method)
    kw = {"attribute_to_layer_input": False} if method == "LayerIntegratedGradients" else {}
    attrs = [algo_cls(model, layer).attribute(inputs, baselines=base, target=target, n_steps=n_steps,
                                              internal_batch_size=internal_batch_size, **kw)
             for layer in layers]
    rows = []
    for pos, ((name, blk), a) in enumerate(zip(blocks, attrs)):
        a = a[0] if isinstance(a, tuple) else a
        value = float(a.detach().flatten(1).sum(1).mean())
        rows.append({"position": pos, "block": name, "skip": getattr(blk, "shortcut", None) is not None,
                     "attribution": value, "share_of_total": value / total if total else float("nan"),
                     "f_x_minus_f_baseline": total, "method": method, "n_steps": n_steps})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Scores against ground-truth masks
# ---------------------------------------------------------------------------------------------

def pointing_game(attr: torch.Tensor, mask: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Per example: is the pixel of maximum attribution inside the object mask (Zhang et al. 2016)?

    ``attr`` (N, C, H, W) or (N, H, W) is summed over channels (signed: the pixel that most
    *supports* the class); ``tolerance`` dilates the mask by that many pixels.
    """
    a = attr.sum(1) if attr.dim() == 4 else attr
    m = mask.bool()
    if tolerance:
        k = 2 * tolerance + 1
        m = F.max_pool2d(m.float().unsqueeze(1), k, stride=1, padding=tolerance).squeeze(1).bool()
    flat = a.flatten(1).argmax(1)
    return m.flatten(1).gather(1, flat.view(-1, 1)).squeeze(1)


def positive_share_in_mask(attr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per example: the share of positive attribution (channels summed) that lies inside the mask.

    Compare with the mask's share of the image (what a uniform map scores)."""
    a = (attr.sum(1) if attr.dim() == 4 else attr).clamp_min(0)
    m = mask.to(a.dtype)
    total = a.flatten(1).sum(1)
    inside = (a * m).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.full_like(total, float("nan")))


def score_methods(models: dict[str, tuple[nn.Module, object]], images: torch.Tensor,
                  masks: torch.Tensor, labels: torch.Tensor, methods=None, baseline: str = "black",
                  batch: int = 32, **kwargs) -> pd.DataFrame:
    """Score each method on each model over the images: pointing game and positive share in mask.

    ``models``: name -> (model in eval mode, normalizer with ``__call__(uint8) -> float``).
    ``images`` uint8 (N, C, H, W); the target is each image's true class.
    """
    methods = list(methods or METHODS)
    rows = []
    mask_share = float(masks.float().mean())
    for mname, (model, normalizer) in models.items():
        dev = next(model.parameters()).device
        black = normalizer(torch.zeros(1, *images.shape[1:], dtype=torch.uint8).to(dev))
        last_block = _last_block_name(model)
        for method in methods:
            hits, shares, secs = [], [], 0.0
            for s in range(0, len(images), batch):
                x = normalizer(images[s:s + batch].to(dev))
                y = labels[s:s + batch].to(dev)
                kw = dict(kwargs)
                if METHODS[method].kind == "layer":
                    kw["layer"] = last_block
                a = attribute(model, x, y, method, baseline=baseline, black=black, **kw)
                secs += a.seconds
                m = masks[s:s + batch].to(dev)
                hits.append(pointing_game(a.attr, m).float().cpu())
                shares.append(positive_share_in_mask(a.attr, m).cpu())
            h, sh = torch.cat(hits), torch.cat(shares)
            rows.append({"model": mname, "method": method, "n": len(images),
                         "pointing_game": float(h.mean()),
                         "positive_share_in_mask": float(np.nanmean(sh.numpy())),
                         "mask_share_of_image": mask_share,
                         "seconds_per_image": secs / len(images)})
    return pd.DataFrame(rows)


def _last_block_name(model: nn.Module) -> str | None:
    blocks = find_blocks(model)
    return blocks[-1][0] if blocks else None
