"""Explain one image: the attribution lab's pipeline, written once for the page and the CLI.

:mod:`.attribution` is the Captum registry: one verb on a batch of normalised tensors. This module
is the story around it for one uint8 image, as the Attribution Lab page and
``python -m resnet_explain attribute`` tell it: normalise, predict, choose the class to explain,
make the black baseline, attribute, check completeness (sum of attributions vs f(x) − f(baseline)),
and score the map against the object's mask. It also reads the lab's two tables into sentences
(which blocks carry the decision; which method points at the object), so a page only shows them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..chance import NEAR_CHANCE, near_chance
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
def chance_note(name: str, meta: dict, n_classes: int) -> str | None:
    """A sentence when the run ``name`` never left chance (from its recorded test error), else None."""
    err = meta.get("test_error")
    if err is None or not np.isfinite(float(err)):
        return None
    chance = 1.0 / n_classes
    if not near_chance(1.0 - float(err), chance):
        return None
    return (f"**{name}** never left chance: test error {float(err):.1%}, against {1 - chance:.0%} "
            f"for guessing among {n_classes} classes (its accuracy got less than {NEAR_CHANCE:.0%} "
            "of the way from chance to 100%). Its maps explain a network that does not recognise "
            "the shapes, so it is not scored as a working model.")


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

    def headline(self, classes, label: int | None = None) -> str:
        """"Predicts **x** (93 %) ✓. Explaining **y** (p = 0.93)." in markdown."""
        verdict = ("" if label is None else " ✓" if self.pred == label
                   else f" ✗ (true: {classes[label]})")
        return (f"Predicts **{classes[self.pred]}** ({self.confidence:.0%}){verdict}. Explaining "
                f"**{classes[self.target]}** (p = {self.p_target:.2f}).")

    def facts(self) -> str:
        """The caption under the maps: time and device, completeness, the mask scores."""
        out = [f"{self.seconds * 1e3:.0f} ms on {self.device}"]
        if self.delta is not None:
            out.append(f"convergence delta {self.delta:.1e}")
            if self.f_diff is not None:
                out.append(f"Σ attribution {self.attr_sum:.4f} vs f(x) − f(baseline) {self.f_diff:.4f}")
        if self.ig is not None:
            out.append(self.ig.text())
        if self.pointing_game is not None:
            share = ("no positive attribution" if not np.isfinite(self.positive_share)
                     else f"{self.positive_share:.0%} of positive attribution")
            out.append(f"peak {'on' if self.pointing_game else 'off'} the object; {share} inside "
                       f"the mask ({self.mask_share:.0%} of the image)")
        return " · ".join(out)


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
BLOCKS_TEXT = (  # what block_shares measures, in the page's words
    "Layer Integrated Gradients through each block's **residual branch** F (Captum's "
    "`LayerIntegratedGradients` on `block.body`). In a plain net every block is the only path, so "
    "each carries 100 % of f(x) − f(baseline) (completeness). In a residual net the skip carries "
    "the rest: the share shows how much each block *adds* (Veit et al. 2016, arXiv 1605.06431).")


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
    notes: list[str]  # one per collapsed variant: why its shares are left out
    sentence: str | None  # where the residual net's largest share goes


def summarise_blocks(frames: dict[str, pd.DataFrame], class_name: str,
                     collapsed_below: float = COLLAPSED_BELOW) -> BlockSummary:
    """Read per-block frames (``variant`` -> :func:`block_shares`) for the page.

    A share of f(x) − f(baseline) means nothing when that difference is ~0 (a collapsed model
    whose output does not depend on its input): such a variant gets a note instead of a line.
    """
    table = pd.concat([f.assign(variant=v) for v, f in frames.items()], ignore_index=True)
    notes, flat = [], set()
    for v, d in table.groupby("variant", sort=True):
        diff = float(d["f_x_minus_f_baseline"].iloc[0])
        if abs(diff) < collapsed_below:
            flat.add(v)
            notes.append(f"The {v} net's score barely depends on the input here (f(x) − f(baseline) = "
                         f"{diff:.1e}), so its per-block shares are not meaningful and are left out "
                         "of the chart.")
    shown = table[~table["variant"].isin(flat)]
    res, plain = shown[shown["variant"] == "residual"], shown[shown["variant"] == "plain"]
    sentence = None
    if len(res):
        top = res.loc[res["share_of_total"].abs().idxmax()]
        sentence = (f"Explaining **{class_name}**: in the residual net the largest share, "
                    f"**{top['share_of_total']:.0%}**, goes through `{top['block']}`")
        if len(plain):
            sh = plain["share_of_total"]
            steps = f" at {int(plain['n_steps'].iloc[0])} steps" if "n_steps" in plain else ""
            sentence += (f"; the plain net's blocks each carry {sh.median():.0%} (median; from "
                         f"{sh.min():.0%} to {sh.max():.0%}: each should carry exactly 100 % by "
                         f"completeness, so the spread is the integral's error{steps})")
        sentence += "."
    return BlockSummary(table, shown, notes, sentence)


# ---------------------------------------------------------------------------------------------
# Scores against the masks, in one sentence
# ---------------------------------------------------------------------------------------------
SCORES_TEXT = (  # what attribution.score_methods measures, in the page's words
    "Over the number of test images chosen below, for every method and both models: the **pointing "
    "game** (is the pixel with the largest attribution on the object? Zhang et al. 2016) and the "
    "**share of positive attribution inside the mask**. For reference, a map spread evenly over the "
    "image scores the mask's share of the image. (Integrated Gradients runs at a fixed 50 steps "
    "here; the single-image view above raises the steps until it is complete.)")


def score_models(loaded: dict[str, tuple], test, baseline: str = "black", methods=None) -> pd.DataFrame:
    """:func:`.attribution.score_methods` for trained models (name -> (model, normalizer, meta), as
    ``Run.load_model`` returns) on the images of ``test`` (an ImageSet with masks: a run's own
    test split, ``Run.test_images(n)``); the target is each image's true class."""
    if test.mask is None:
        raise AttributionError("scoring needs the images' object masks")
    return score_methods({k: (m, norm) for k, (m, norm, _) in loaded.items()}, test.x, test.mask,
                         test.y, methods=methods, baseline=baseline)


def score_summary(table: pd.DataFrame) -> str:
    """The best pointing game in a :func:`.attribution.score_methods` table, naming every method
    and model that ties for it, with the number of images and the attribution time."""
    n = int(table["n"].iloc[0])
    best = float(table["pointing_game"].max())
    # a pointing game is (hits / n): equal counts give equal floats; isclose guards the summation
    top = table[np.isclose(table["pointing_game"], best, rtol=0, atol=0.5 / max(n, 1))]
    who = [f"**{r.method}** on **{r.model}**" for r in top.itertuples()]
    mask = float(table["mask_share_of_image"].mean())
    seconds = float((table["seconds_per_image"] * table["n"]).sum())
    head = (f"Best pointing game: {who[0]}, {best:.0%} of {n} images" if len(who) == 1 else
            f"Best pointing game, tied: {', '.join(who)} at {best:.0%} of {n} images")
    return (f"{head} (the mask covers {mask:.0%} of an image on average). Attribution time, all "
            f"methods and models: {seconds:.1f} s.")
