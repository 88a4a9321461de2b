"""How far from guessing a trained model got: the one rule every page, chart and CLI command uses
to say "this model barely learned" (Training, Attribution Lab, Lesion Study, Loss Landscape), and
"this one trained far worse than its twin" (a pair whose comparison is not fair)."""

from __future__ import annotations

from .data.shapes import SHAPE_CLASSES


def chance_error(classes: int = len(SHAPE_CLASSES)) -> float:
    """Training error of guessing, 1 - 1/classes (the shapes' labels are balanced). The
    experiments train on every class of the generated shapes (make_shapes' default)."""
    if classes < 2:
        raise ValueError(f"a classification needs 2 or more classes, got {classes}")
    return 1.0 - 1.0 / classes


# A trained model whose accuracy got less than this share of the way from chance (1 / classes)
# to 100 % never left chance: its maps and scores are not those of a working model. (Plain-56:
# 15.4 % test accuracy on 10 classes, 0.06 of the way; the working twins are above 0.9.)
NEAR_CHANCE = 0.10

# A model trained far worse than its twin when it got less than this share of the twin's way
# from chance: the twin went from chance (1/classes) to accuracy b, this one less than half as
# far. Half, because a comparison of two networks' *properties* (fragility, sharpness, maps)
# means "the same job, done two ways" only while both did most of the same job; below half the
# difference is mostly one of how much was learned. (Issue 22's examples: a plain twin at 22 %
# accuracy beside a residual one near 100 % got 0.13 of its way, one at 29 %, 0.21.)
FAR_WORSE = 0.5


def progress_from_chance(accuracy: float, chance: float) -> float:
    """The share of the way from ``chance`` to 100 % that ``accuracy`` got (0 at chance, 1 at
    100 %; negative below chance)."""
    return (float(accuracy) - chance) / (1.0 - chance)


def near_chance(accuracy: float, chance: float, margin: float = NEAR_CHANCE) -> bool:
    """Is ``accuracy`` less than ``margin`` of the way from ``chance`` to 100 %? The one rule for
    "this model barely learned" (Training, Attribution Lab, Lesion Study, CLI)."""
    return float(accuracy) < chance + margin * (1.0 - chance)


def far_worse(accuracy: float, other: float, chance: float, share: float = FAR_WORSE) -> bool:
    """Did ``accuracy`` get less than ``share`` of the way from ``chance`` that ``other`` got?
    False when ``other`` itself never left chance (then neither is a reference for the other)."""
    if near_chance(other, chance):
        return False
    return float(accuracy) - chance < share * (float(other) - chance)


def unfair_sides(accuracies: dict[str, float], chance: float) -> dict[str, str]:
    """The sides of a pair (name -> accuracy) that make a comparison of the two unfair, each with
    why: ``"near chance"`` (it never left chance) or ``"far worse"`` (than the other side). Empty
    for a fair pair; works for any number of sides (each against the best of the others)."""
    out = {}
    for name, acc in accuracies.items():
        others = [a for n, a in accuracies.items() if n != name]
        if near_chance(acc, chance):
            out[name] = "near chance"
        elif others and far_worse(acc, max(others), chance):
            out[name] = "far worse"
    return out
