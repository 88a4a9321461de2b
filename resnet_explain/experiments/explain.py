"""Explain one image: the attribution lab's pipeline, written once for the page and the CLI.

:mod:`.attribution` is the Captum registry: one verb on a batch of normalised tensors. This module
is the story around it for one uint8 image, as the Attribution Lab page and
``python -m resnet_explain attribute`` tell it: normalise, predict, choose the class to explain,
make the black baseline, attribute, check completeness (sum of attributions vs f(x) − f(baseline)),
and score the map against the object's mask; and the two tables of the lab (per-block shares,
scores against the masks). Their sentences: :mod:`resnet_explain.content.attribution`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..model import find_blocks
from .attribution import (
    IG_STEPS,
    IG_TOLERANCE,
    METHODS,
    AttributionError,
    IGCompleteness,
    attribute,
    block_attribution,
    completeness,
    integrated_gradients_complete,
    pointing_game,
    positive_share_in_mask,
    score_methods,
)

# f(x) − f(baseline) below this (logit units) means the score does not depend on the input: a
# collapsed model (our plain-56 twin after training). A share of ~0 is noise, not a finding.
COLLAPSED_BELOW = 1e-3
@dataclass(frozen=True)
class Explanation:
    """One image explained by one method on one model. Scores are for the class ``target``."""

    method: str
    pred: int  # the model's prediction (argmax)
    confidence: float  # softmax probability of ``pred``
    target: int  # the class whose score is explained
    p_target: float  # softmax probability of ``target``
    attr_map: np.ndarray  # (H, W) float64: signed attribution summed over channels
    attr_sum: float  # sum of all attributions
    delta: float | None  # largest |convergence delta| Captum returned, where the method has one
    f_diff: float | None  # f(x) − f(baseline), target logit (pixel methods with a baseline; GradientShap:
    #                      mean over the baselines it draws from)
    baseline: str | None  # the baseline's name; None when the method takes none
    pointing_game: bool | None  # is the map's peak on the object? (with a mask)
    positive_share: float | None  # share of positive attribution inside the mask (NaN if none)
    mask_share: float | None  # the mask's share of the image: what an even map scores
    seconds: float  # the attribution itself, synchronised (IG: every step count tried)
    device: str
    ig: IGCompleteness | None = None  # IG only: steps used and the completeness gap reached

    @property
    def ig_steps(self) -> int | None:
        return None if self.ig is None else self.ig.steps

    @property
    def completeness_gap(self) -> float | None:
        """|Σ attribution − (f(x) − f(baseline))| / |f(x) − f(baseline)| (IG; None if not judged)."""
        return None if self.ig is None or not self.ig.judged else self.ig.gap


def choose_target(target, *, label: int | None, pred: int, n_classes: int) -> int:
    """``"true"``: the image's label; ``"pred"``: the model's prediction; an int: that class."""
    if target == "true":
        if label is None:
            raise AttributionError("this image has no true class (an upload): explain the "
                                   "prediction or a class")
        return int(label)
    if target == "pred":
        return int(pred)
    try:
        t = operator.index(target)
    except TypeError:
        raise AttributionError("target must be 'true', 'pred' or a class index, "
                               f"got {target!r:.40}") from None
    if not 0 <= t < n_classes:
        raise AttributionError(f"target must be from 0 to {n_classes - 1}, got {t}")
    return int(t)


def _normalised(model: nn.Module, normalizer, image_u8) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, black): the image and the all-zero image, normalised, (1, C, H, W) on the model's device."""
    img = torch.as_tensor(image_u8)
    if img.dtype != torch.uint8 or img.dim() != 3:
        raise AttributionError(f"the image must be uint8 (C, H, W), got {img.dtype} {tuple(img.shape)}")
    dev = next(model.parameters()).device
    img = img.unsqueeze(0).to(dev)
    return normalizer(img), normalizer(torch.zeros_like(img))


def explain(model: nn.Module, normalizer, image_u8, *, target="true", label: int | None = None,
            method: str = "IntegratedGradients", baseline: str = "black", noise_tunnel: bool = False,
            layer: str | None = None, seed: int = 0, mask=None, ig_steps=IG_STEPS,
            ig_tolerance: float = IG_TOLERANCE, **captum_kwargs) -> Explanation:
    """Explain ``model``'s score of ``target`` on one uint8 (C, H, W) image with Captum's ``method``.

    ``normalizer`` maps uint8 (N, C, H, W) to the model's input; ``baseline`` is a name (black,
    blurred, noise; black is the normalised all-zero image); ``layer`` names the block for
    LayerGradCam (default: the last block); ``mask`` (H, W) bool adds the pointing game and the
    positive share in the mask. Integrated Gradients (without SmoothGrad) raises ``n_steps``
    through ``ig_steps`` until Σ attributions is within ``ig_tolerance`` of f(x) − f(baseline)
    (:func:`.attribution.integrated_gradients_complete`); an explicit ``n_steps`` is used alone.
    Extra keyword arguments go to Captum under Captum's names. The model
    must be in eval mode; it is not modified (but hooks are set during the call: use a private copy
    when the model is shared, see :func:`resnet_explain.train.shipped.private_copy`).
    """
    x, black = _normalised(model, normalizer, image_u8)
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)[0]
    pred = int(probs.argmax())
    t = choose_target(target, label=label, pred=pred, n_classes=probs.numel())
    m = METHODS.get(method)
    if m is not None and m.kind == "layer" and layer is None:
        layer = find_blocks(model)[-1][0]
    ig = None
    if method == "IntegratedGradients" and not noise_tunnel:
        steps = (captum_kwargs.pop("n_steps"),) if "n_steps" in captum_kwargs else ig_steps
        a, ig = integrated_gradients_complete(model, x, t, steps=steps, tolerance=ig_tolerance,
                                              flat_below=COLLAPSED_BELOW, baseline=baseline,
                                              black=black, seed=seed, **captum_kwargs)
    else:
        a = attribute(model, x, t, method, baseline=baseline, black=black, layer=layer,
                      noise_tunnel=noise_tunnel, seed=seed, **captum_kwargs)
    f_diff = None
    if a.baseline is not None and a.attr.shape == x.shape:
        f_diff = float(completeness(model, x, a.baseline, t, a.attr)["f_x_minus_f_baseline"][0])
    pg = share = mshare = None
    if mask is not None:
        mk = torch.as_tensor(np.asarray(mask)).bool().unsqueeze(0).to(a.attr.device)
        pg = bool(pointing_game(a.attr, mk)[0])
        share = float(positive_share_in_mask(a.attr, mk)[0])
        mshare = float(mk.float().mean())
    return Explanation(
        method=method, pred=pred, confidence=float(probs[pred]), target=t, p_target=float(probs[t]),
        attr_map=a.attr[0].sum(0).double().cpu().numpy(), attr_sum=float(a.attr.sum()),
        delta=None if a.delta is None else float(a.delta.abs().max()), f_diff=f_diff,
        baseline=baseline if a.baseline is not None else None, pointing_game=pg,
        positive_share=share, mask_share=mshare, seconds=a.seconds, device=x.device.type, ig=ig)


# ---------------------------------------------------------------------------------------------
# Which blocks carry the decision
# ---------------------------------------------------------------------------------------------
def block_shares(model: nn.Module, normalizer, image_u8, target: int, n_steps: int = 8) -> pd.DataFrame:
    """Layer Integrated Gradients through every block's residual branch for one uint8 image, from
    the black baseline (see :func:`.attribution.block_attribution`)."""
    x, black = _normalised(model, normalizer, image_u8)
    return block_attribution(model, x, target, "LayerIntegratedGradients", baseline=black,
                             n_steps=n_steps)


@dataclass(frozen=True)
class BlockSummary:
    table: pd.DataFrame  # every variant's rows, with a ``variant`` column
    shown: pd.DataFrame  # the rows worth charting: collapsed variants left out
    collapsed: dict[str, float]  # variant -> its f(x) − f(baseline), where that is ~0


def block_summary(frames: dict[str, pd.DataFrame], collapsed_below: float = COLLAPSED_BELOW) -> BlockSummary:
    """Per-block frames (``variant`` -> :func:`block_shares`) in one table, and the rows worth
    reading: a share of f(x) − f(baseline) means nothing when that difference is ~0 (a collapsed
    model whose output does not depend on its input), so such a variant is left out of ``shown``
    and named in ``collapsed`` (words: :func:`resnet_explain.content.attribution.summarise_blocks`)."""
    table = pd.concat([f.assign(variant=v) for v, f in frames.items()], ignore_index=True)
    collapsed = {}
    for v, d in table.groupby("variant", sort=True):
        diff = float(d["f_x_minus_f_baseline"].iloc[0])
        if abs(diff) < collapsed_below:
            collapsed[v] = diff
    return BlockSummary(table, table[~table["variant"].isin(set(collapsed))], collapsed)


# ---------------------------------------------------------------------------------------------
# Scores against the masks
# ---------------------------------------------------------------------------------------------
def score_models(loaded: dict[str, tuple], test, baseline: str = "black", methods=None) -> pd.DataFrame:
    """:func:`.attribution.score_methods` for trained models (name -> (model, normalizer, meta), as
    ``Run.load_model`` returns) on the images of ``test`` (an ImageSet with masks: a run's own
    test split, ``Run.test_images(n)``); the target is each image's true class."""
    if test.mask is None:
        raise AttributionError("scoring needs the images' object masks")
    return score_methods({k: (m, norm) for k, (m, norm, _) in loaded.items()}, test.x, test.mask,
                         test.y, methods=methods, baseline=baseline)
