"""What the Attribution Lab says (and ``python -m resnet_explain attribute`` prints): one image's
headline and caption, an Integrated Gradients completeness clause, the per-block shares and the
scores against the masks in sentences, each a number of the experiment's result
(:mod:`resnet_explain.experiments.explain`, :mod:`resnet_explain.experiments.attribution`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..chance import NEAR_CHANCE, near_chance
from ..charts.overlay import SCALE_PERCENTILE
from ..numbers import percent, sci
from ..spec.block import block_label
from .fair_pair import unfair_pair

BLOCKS_TEXT = (  # what explain.block_shares measures, in the page's words
    "Layer Integrated Gradients through each block's **residual branch** F (Captum's "
    "`LayerIntegratedGradients` on `block.body`). In a plain net every block is the only path, so "
    "each carries 100 % of f(x) − f(baseline) (completeness). In a residual net the skip carries "
    "the rest: the share shows how much each block *adds* (Veit et al. 2016, arXiv 1605.06431). "
    "There a share can be **below 0 %** (the branch lowers the explained class's score) or **above "
    "100 %** (it raises the score by more than the whole f(x) − f(baseline), and other blocks pull "
    "it back), and the shares need not add up to 100 %.")

SHARES_OUTSIDE = ("Shares outside 0–100 % are not errors: in a residual net a branch can lower the "
                  "score (below 0 %) or raise it by more than the whole difference that other blocks "
                  "then pull back (above 100 %).")

SCORES_TEXT = (  # what attribution.score_methods measures, in the page's words
    "Over the number of test images chosen below, for every method and both models: the **pointing "
    "game** (is the pixel with the largest attribution on the object? Zhang et al. 2016) and the "
    "**share of positive attribution inside the mask**. For reference, a map spread evenly over the "
    "image scores the mask's share of the image. (Integrated Gradients runs at a fixed 50 steps "
    "here; the single-image view above raises the steps until it is complete.)")


OVERLAY_LEGEND = (  # the caption under charts.overlay's panels
    "Red supports the explained class, blue opposes it; each map is scaled to its own "
    f"{SCALE_PERCENTILE:g}th percentile (the number in its caption). Green: the object's true mask.")


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


def pair_note(metas: dict[str, dict], n_classes: int) -> str | None:
    """The warning for a pair of runs (name -> meta) whose one side never left chance or trained
    far worse than the other (:func:`resnet_explain.chance.unfair_sides`, on each run's recorded
    test accuracy): its maps and scores are not read as a comparison. None for a fair pair (or
    when a run has no recorded test error)."""
    errs = {name: m.get("test_error") for name, m in metas.items()}
    if any(e is None or not np.isfinite(float(e)) for e in errs.values()):
        return None
    return unfair_pair({n: 1.0 - float(e) for n, e in errs.items()}, 1.0 / n_classes,
                       "Where the two maps or scores differ, the difference may be only how much "
                       "each net learned, so this page draws no conclusion about skips from it.")


UNFAIR_SCORES = ("Not a comparison of the twins: one trained far worse than the other (see the "
                 "warning at the top).")


def ig_clause(ig) -> str:
    """One caption clause on an :class:`~resnet_explain.experiments.attribution.IGCompleteness`."""
    if not ig.judged:
        return (f"{ig.steps} IG steps; f(x) − f(baseline) = {sci(ig.f_diff)} ≈ 0, so "
                "completeness cannot be judged")
    if ig.converged:
        return f"{ig.steps} IG steps: Σ attribution within {ig.gap:.2%} of f(x) − f(baseline)"
    return (f"{ig.steps} IG steps (the cap): Σ attribution still {ig.gap:.1%} off "
            f"f(x) − f(baseline), over the {ig.tolerance:.0%} asked for")


def headline(e, classes, label: int | None = None) -> str:
    """"Predicts **x** (93 %) ✓. Explaining **y** (p = 0.93)." for an Explanation, in markdown."""
    verdict = ("" if label is None else " ✓" if e.pred == label
               else f" ✗ (true: {classes[label]})")
    return (f"Predicts **{classes[e.pred]}** ({e.confidence:.0%}){verdict}. Explaining "
            f"**{classes[e.target]}** (p = {e.p_target:.2f}).")


def facts(e) -> str:
    """The caption under an Explanation's maps: time and device, completeness, the mask scores."""
    out = [f"{e.seconds * 1e3:.0f} ms on {e.device}"]
    if e.delta is not None:
        out.append(f"convergence delta {sci(e.delta)}")
        if e.f_diff is not None:
            out.append(f"Σ attribution {e.attr_sum:.4f} vs f(x) − f(baseline) {e.f_diff:.4f}")
    if e.ig is not None:
        out.append(ig_clause(e.ig))
    if e.pointing_game is not None:
        share = ("no positive attribution" if not np.isfinite(e.positive_share)
                 else f"{e.positive_share:.0%} of positive attribution")
        out.append(f"peak {'on' if e.pointing_game else 'off'} the object; {share} inside "
                   f"the mask ({e.mask_share:.0%} of the image)")
    return " · ".join(out)


@dataclass(frozen=True)
class BlockWords:
    table: pd.DataFrame  # every variant's rows, with a ``variant`` column
    shown: pd.DataFrame  # the rows worth charting: collapsed variants left out
    notes: list[str]  # one per collapsed variant: why its shares are left out
    sentence: str | None  # where the residual net's largest share goes


def collapsed_note(variant: str, diff: float) -> str:
    return (f"The {variant} net's score barely depends on the input here (f(x) − f(baseline) = "
            f"{sci(diff)}), so its per-block shares are not meaningful and are left out of the chart.")


def blocks_sentence(shown: pd.DataFrame, class_name: str) -> str | None:
    """Where the residual net's largest share goes, and the plain net's spread around 100 %."""
    res, plain = shown[shown["variant"] == "residual"], shown[shown["variant"] == "plain"]
    if not len(res):
        return None
    top = res.loc[res["share_of_total"].abs().idxmax()]
    sentence = (f"Explaining **{class_name}**: in the residual net the largest share, "
                f"**{percent(top['share_of_total'], 0)}**, goes through {block_label(top['block'])}")
    if len(plain):
        sh = plain["share_of_total"]
        steps = f" at {int(plain['n_steps'].iloc[0])} steps" if "n_steps" in plain else ""
        sentence += (f"; the plain net's blocks each carry {percent(sh.median(), 0)} (median; from "
                     f"{percent(sh.min(), 0)} to {percent(sh.max(), 0)}: each should carry exactly "
                     f"100 % by completeness, so the spread is the integral's error{steps})")
    r = res["share_of_total"]
    outside = " " + SHARES_OUTSIDE if ((r < 0) | (r > 1)).any() else ""
    return sentence + "." + outside


def summarise_blocks(frames: dict[str, pd.DataFrame], class_name: str) -> BlockWords:
    """The page's reading of per-block frames (``variant`` -> explain.block_shares): the
    experiment's :func:`~resnet_explain.experiments.explain.block_summary`, in words."""
    # explain imports torch; this module stays light until a page reads block shares
    from ..experiments.explain import block_summary

    s = block_summary(frames)
    notes = [collapsed_note(v, diff) for v, diff in s.collapsed.items()]
    return BlockWords(s.table, s.shown, notes, blocks_sentence(s.shown, class_name))


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
