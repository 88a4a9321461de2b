"""What a page says about a pair of twins that is not a fair comparison (Lesion Study, Loss
Landscape, Attribution Lab): which side never left chance or trained far worse than the other, by
:func:`resnet_explain.chance.unfair_sides`, and what would make the pair fair."""

from __future__ import annotations

from ..chance import (FAR_WORSE, NEAR_CHANCE, NEAR_REFERENCE_NATS, progress_from_chance, unfair_lm_sides,
                      unfair_sides)

REMEDY = ("A fair comparison needs twins that both trained: a longer budget (more epochs or "
          "images, as on a GPU) or a recipe at which the weaker net trains too.")


def side_words(name: str, why: str, accuracies: dict[str, float], chance: float) -> str:
    """One flagged side, with its numbers: "**plain-56 never left chance** (16 % accuracy ...)"."""
    acc = accuracies[name]
    if why == "near chance":
        return (f"**{name} never left chance** ({acc:.0%} accuracy, chance {chance:.0%}: less "
                f"than {NEAR_CHANCE:.0%} of the way from chance to 100 %)")
    other = max((n for n in accuracies if n != name), key=lambda n: accuracies[n])
    share = progress_from_chance(acc, chance) / progress_from_chance(accuracies[other], chance)
    return (f"**{name} trained far worse than {other}** ({acc:.0%} accuracy against "
            f"{accuracies[other]:.0%}, chance {chance:.0%}: it got {share:.0%} of its twin's way "
            f"from chance, under the {FAR_WORSE:.0%} a fair pair needs)")


def unfair_pair(accuracies: dict[str, float], chance: float, consequence: str) -> str | None:
    """The warning for a pair (name -> accuracy) whose comparison is not fair: each flagged side
    in numbers, ``consequence`` (what the page therefore does not conclude), the remedy; None
    for a fair pair."""
    flags = unfair_sides(accuracies, chance)
    if not flags:
        return None
    sides = "; ".join(side_words(n, why, accuracies, chance) for n, why in flags.items())
    return f"{sides}. {consequence} {REMEDY}"


LM_REMEDY = ("A fair comparison needs a pair that both learnt context: more steps (the full budget, "
             "on a GPU) or a setting at which the weaker network trains too.")


def lm_side_words(name: str, why: str, losses: dict[str, float], reference: float) -> str:
    """One flagged side of a language-model pair, with its numbers (nats per byte)."""
    loss = losses[name]
    if why == "near chance":
        return (f"**{name} never left the byte-frequency loss** ({loss:.3f} nats per byte against "
                f"{reference:.3f}: not {NEAR_REFERENCE_NATS} below it, so it learnt no context)")
    other = min((n for n in losses if n != name), key=lambda n: losses[n])
    share = (reference - loss) / (reference - losses[other])
    return (f"**{name} trained far worse than {other}** ({loss:.3f} against {losses[other]:.3f} nats "
            f"per byte, byte-frequency loss {reference:.3f}: it got {share:.0%} of its twin's way "
            f"below it, under the {FAR_WORSE:.0%} a fair pair needs)")


def unfair_lm_pair(losses: dict[str, float], reference: float, consequence: str) -> str | None:
    """:func:`unfair_pair` for a language-model pair (name -> validation loss, ``reference`` the
    byte-frequency loss), by :func:`resnet_explain.chance.unfair_lm_sides`; None for a fair pair."""
    flags = unfair_lm_sides(losses, reference)
    if not flags:
        return None
    sides = "; ".join(lm_side_words(n, why, losses, reference) for n, why in flags.items())
    return f"{sides}. {consequence} {LM_REMEDY}"
