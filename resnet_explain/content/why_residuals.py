"""The closing page, "So, why do residual connections work?": a few sentences, each built from a
number this app measured and tied to the page that measured it. The sigmoid case (the gradient
vanishes without skips) and the BatchNorm + ReLU case (it does not vanish: it grows toward the
input, and the deep plain net is hard to optimise) are told apart.

Numbers in: :data:`.story.ACT_RATIOS` (probed at init, checked by tests/unit/test_claims.py), the
shipped runs' training errors, and the stored tables of
:mod:`resnet_explain.experiments.mechanism_runs`. Nothing is typed in here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chance import chance_error, near_chance
from ..magnitude import fmt_ratio, judge_ratio
from ..numbers import percent
from . import mechanisms as mech
from .story import ACT_RATIOS

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Reason:
    """One sentence and the page that measured its number."""

    heading: str
    text: str
    page: str  # the page file, for st.page_link
    link: str  # the link's label




def sigmoid_reason(ratios: dict[str, float] = ACT_RATIOS) -> Reason:
    plain, res = ratios["mlp-sigmoid20-plain"], ratios["mlp-sigmoid20"]
    return Reason(
        "Sigmoid nets: the skip stops the gradient vanishing",
        f"In a 20-layer sigmoid MLP at initialisation the gradient at the first block is "
        f"**{fmt_ratio(plain)}×** the last block's without skips, and **{fmt_ratio(res)}×** with "
        "them: σ′ ≤ 1/4 multiplies it down at every plain layer, while each residual block passes "
        "it on through the identity term of dL/dx = dL/dy · (1 + ∂F/∂x). Here vanishing is the "
        "problem, and the skip is the cure.",
        "app_pages/gradient_flow.py", "Gradient Flow: measure it (set the network to mlp-sigmoid20-plain)")


def bn_relu_reason(ratios: dict[str, float] = ACT_RATIOS) -> Reason:
    plain, res = ratios["plain56"], ratios["resnet56"]
    return Reason(
        "BatchNorm + ReLU nets: nothing vanishes",
        f"In the 56-layer BatchNorm + ReLU CNN the plain net's gradient {judge_ratio(plain).markdown}; "
        f"its residual twin's {judge_ratio(res).markdown}. Gradients *explode* toward the input in "
        "plain BatchNorm nets ([Yang et al. 2019](https://arxiv.org/abs/1902.08129)): whatever "
        "stops plain-56 from training, it is not a vanishing gradient.",
        "app_pages/gradient_flow.py", "Gradient Flow: the plain56 and resnet56 presets")


def training_reason(errors: dict[str, float], classes: int | None = None) -> Reason:
    """``errors``: the shipped runs' training errors by name (plain20, plain56, residual20, ...)."""
    chance = chance_error() if classes is None else chance_error(classes)
    p20, p56, r56 = errors["plain20"], errors["plain56"], errors["residual56"]
    stuck = near_chance(1 - p56, 1 - chance)
    how = (f"it never left chance ({percent(chance)}): a stronger failure than He et al.'s plain-56, "
           "which trains, only worse than plain-20" if stuck else
           "it trains, but worse than the shallower plain net" if p56 > p20 else
           "here it even matches the shallower plain net")
    return Reason(
        "Deep plain nets are hard to optimise",
        f"Trained with one budget (the shipped seed-0 runs), plain-56 ends at **{percent(p56)}** "
        f"training error against "
        f"plain-20's **{percent(p20)}** — {how} — while residual-56 reaches **{percent(r56)}**. It is the "
        "*training* error that is worse, so this is not overfitting: [He et al. "
        "2015](https://arxiv.org/abs/1512.03385) call it an optimisation difficulty.",
        "app_pages/training.py", "Training: Degradation")


def updates_reason(grads: pd.DataFrame, depth: int = 56) -> Reason:
    u0, _ = mech.at_start(grads, "plain", depth, "update_ratio")
    growth = mech.weight_growth(grads, "plain", depth)
    plain, res = (mech.first_last_over_training(grads, a, depth, "update_ratio") for a in ("plain", "residual"))
    return Reason(
        "One mechanism: the plain net's early blocks stop learning",
        f"In plain-{depth} the first step changes the first block's weights by ‖ΔW‖/‖W‖ = "
        f"**{fmt_ratio(u0, 2)}** and they grow **{fmt_ratio(growth, 2)}×** in training; after that its "
        f"first block moves a median **{fmt_ratio(plain, 2)}×** as fast as its last "
        f"(residual-{depth}: **{fmt_ratio(res, 2)}×**). With BatchNorm, larger weights take smaller "
        f"steps ({mech.VAN_LAARHOVEN}).",
        "app_pages/why_plain_fails.py", "Why deep plain nets fail: gradients and updates")


def shattered_reason(corr: pd.DataFrame, depth: int = 56) -> Reason:
    p, r = mech.lag1(corr, "plain", depth, "init"), mech.lag1(corr, "residual", depth, "init")
    verdict = ("the plain net's gradient is shattered, like white noise, the residual net's is not"
               if p < mech.SHATTERED_BELOW and r - p > mech.CLEAR_GAP else
               "the difference Balduzzi et al. describe does not show clearly here")
    return Reason(
        "Another: the plain net's gradient is shattered",
        f"At initialisation the gradients of neighbouring inputs correlate at r = **{p:.2f}** in "
        f"plain-{depth} and **{r:.2f}** in residual-{depth}: {verdict} ({mech.BALDUZZI}). A gradient "
        "that changes at random from one input to the next says little about which way to move.",
        "app_pages/why_plain_fails.py", "Why deep plain nets fail: shattered gradients")


def share_reason(share: pd.DataFrame, depth: int = 56) -> Reason:
    s = mech._one(share, "residual", depth, "init").sort_values("position")["share"]
    first, last = float(s.iloc[0]), float(s.iloc[-1])
    shows = last < 0.7 * first
    return Reason(
        "And: a residual net starts close to the identity",
        f"In residual-{depth} at initialisation the branch's share ‖F(x)‖/‖S(x)‖ falls from "
        f"**{fmt_ratio(first, 2)}** at the first block to **{fmt_ratio(last, 2)}** at the last"
        + (": BatchNorm downscales the branches, so a residual net starts close to the identity / "
           "dominated by shallow paths" if shows else ": the downscaling does not show here")
        + f" ({mech.DE_SMITH}). A plain net of the same depth has no identity to start from.",
        "app_pages/why_plain_fails.py", "Why deep plain nets fail: the branch's share")


def reasons(errors: dict[str, float], tables: dict[str, pd.DataFrame] | None) -> list[Reason]:
    """The closing page's sentences in order; the two measured mechanisms only when the stored
    tables are there."""
    out = [sigmoid_reason(), bn_relu_reason(), training_reason(errors)]
    if tables is not None:
        out += [updates_reason(tables["grads"]), shattered_reason(tables["correlation"]),
                share_reason(tables["share"])]
    return out


SUMMARY = ("Two different stories, then. In a sigmoid net the skip fixes a gradient that vanishes. "
           "In a BatchNorm + ReLU net the gradient does not vanish; there the skip is what makes the "
           "deep net optimisable, and the measured mechanisms above say how.")
