"""How far from guessing a trained model got: the one rule every page, chart and CLI command uses
to say "this model barely learned" (Training, Attribution Lab, Lesion Study, Loss Landscape), and
"this one trained far worse than its twin" (a pair whose comparison is not fair).

Two scales, one rule (:func:`unfair_gains`). A classifier's score is its accuracy and its "chance"
is guessing (1 / classes). A language model's score is its loss in nats, lower is better, and its
"chance" is the byte-frequency loss (:func:`resnet_explain.data.text.unigram_loss`: a model that
learnt how often each byte occurs and nothing about context); :func:`unfair_lm_sides`."""

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
    return unfair_gains({n: float(a) - chance for n, a in accuracies.items()},
                        NEAR_CHANCE * (1.0 - chance))


# A language model whose validation loss is not at least this many nats per byte below the
# byte-frequency loss learnt no context: its layers cannot show what layers do. (The Transformers
# page's stored grid: post-LN and the no-skip twin stuck at 3.080-3.082 against 3.075; the cells
# that trained ended 0.28-0.76 nats below it: assets/transformers/README.md.)
NEAR_REFERENCE_NATS = 0.05


def near_reference(loss: float, reference: float, margin: float = NEAR_REFERENCE_NATS) -> bool:
    """Did a language model's ``loss`` (nats) stay within ``margin`` of the byte-frequency loss
    ``reference`` (or above it)? The language models' "never left chance" (:func:`unfair_gains`)."""
    return not float(reference) - float(loss) >= margin


def unfair_lm_sides(losses: dict[str, float], reference: float) -> dict[str, str]:
    """:func:`unfair_sides` for language models (name -> validation loss in nats, ``reference``
    the byte-frequency loss): ``"near chance"`` for a side that never left the reference, ``"far
    worse"`` for one that got less than FAR_WORSE of the best other side's way below it. A
    diverged side (loss not finite) counts as never having left it."""
    gains = {n: float(reference) - float(v) for n, v in losses.items()}
    return unfair_gains({n: g if g == g and abs(g) != float("inf") else -float("inf")
                         for n, g in gains.items()}, NEAR_REFERENCE_NATS)


def unfair_gains(gains: dict[str, float], near: float) -> dict[str, str]:
    """THE rule of a fair pair, on any scale: ``gains`` is how far each side got past what a model
    that learnt nothing scores (accuracy above guessing, nats below the byte-frequency loss). A
    side whose gain is under ``near`` never left chance; a side whose gain is under FAR_WORSE of the
    best other side's (when that one left chance) trained far worse."""
    out = {}
    for name, g in gains.items():
        best = max((v for n, v in gains.items() if n != name), default=None)
        if not g >= near:
            out[name] = "near chance"
        elif best is not None and best >= near and g < FAR_WORSE * best:
            out[name] = "far worse"
    return out
