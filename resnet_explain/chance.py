"""How far from guessing a trained model got: the one rule every page, chart and CLI command uses
to say "this model barely learned" (Training, Attribution Lab, Lesion Study, Loss Landscape)."""

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


def near_chance(accuracy: float, chance: float, margin: float = NEAR_CHANCE) -> bool:
    """Is ``accuracy`` less than ``margin`` of the way from ``chance`` to 100 %? The one rule for
    "this model barely learned" (Training, Attribution Lab, Lesion Study, CLI)."""
    return float(accuracy) < chance + margin * (1.0 - chance)
