"""What the Loss Landscape page says about a pair of landscapes: every claim a measured number of
:class:`~resnet_explain.experiments.landscape.Landscape` (``numbers`` and ``meta``), in markdown."""

from __future__ import annotations

import math

from ..chance import near_chance


def _chance(result) -> float:
    return 1.0 / result.meta.get("classes", 10)


def never_left_chance(result) -> bool:
    """Whether the trained weights are still at chance on the landscape's sample."""
    return near_chance(result.numbers["accuracy_at_centre"], _chance(result))


def chance_sentence(name: str, result) -> str:
    """Why a net that never left chance has no landscape around a solution."""
    return (f"**The {name} net never left chance** ({result.numbers['accuracy_at_centre']:.0%} right "
            f"on this sample, chance {_chance(result):.0%}): its trained weights are where training "
            "stopped, not a minimum, so its picture is not the landscape around a solution.")


def curvature_sentence(lp: float, lr: float, where: str = "minimum") -> str:
    """λmax of the plain and the residual net, and how many times sharper one is."""
    if lp > 0 and lr > 0:
        k = max(lp, lr) / min(lp, lr)
        sharper = "plain" if lp > lr else "residual"
        return (f"At the trained weights the sharpest curvature, λmax, is **{lp:.3g}** for the plain "
                f"net and **{lr:.3g}** for the residual one: the {sharper} net's {where} is "
                f"{k:.1f}× sharper along its steepest direction.")
    return (f"λmax at the trained weights: plain {lp:.3g}, residual {lr:.3g} (not both "
            "positive: at least one is not at a minimum of this sample's loss).")


def roughness_sentence(p: dict, r: dict) -> str:
    """The share of grid points curving down, and the highest loss in the slice, of both nets."""
    return (f"In this slice **{p['nonconvex_share']:.0%}** of the plain net's grid points curve "
            f"clearly downward in some direction, **{r['nonconvex_share']:.0%}** of the residual "
            f"net's; the highest loss in the slice is {p['loss_max']:.3g} and {r['loss_max']:.3g}.")


def saddle_sentence(names: list[str]) -> str:
    """The nets whose λmin is resolved and negative ("" for none)."""
    if not names:
        return ""
    return (f"The {' and '.join(names)} net{'s have' if len(names) > 1 else ' has'} clearly negative "
            "curvature at the trained weights (λmin < 0): a saddle-like point, not a minimum, in "
            "some direction.")


def path_sentence(bp: float | None, br: float | None) -> str:
    """The barrier on the straight init→trained line of both nets ("" when either is unknown)."""
    if bp is None or br is None or not (math.isfinite(bp) and math.isfinite(br)):
        return ""
    return (f"On the straight line from the initial to the trained weights the loss rises "
            f"{bp:.3g} above its start for the plain net and {br:.3g} for the residual net "
            "before it falls (0 would be a monotone fall).")


def compare(plain, residual) -> str:
    """The twins' numbers in one paragraph, each claim a measured number (markdown)."""
    p, r = plain.numbers, residual.numbers
    stuck = [(name, res) for name, res in (("plain", plain), ("residual", residual))
             if never_left_chance(res)]
    neg = [name for name, n in (("plain", p), ("residual", r))
           if n.get("lambda_min_resolved") and n["lambda_min"] < 0]
    parts = [chance_sentence(name, res) for name, res in stuck]
    parts += [curvature_sentence(p["lambda_max"], r["lambda_max"], "point" if stuck else "minimum"),
              roughness_sentence(p, r), saddle_sentence(neg),
              path_sentence(p.get("path_barrier"), r.get("path_barrier"))]
    return " ".join(s for s in parts if s)
