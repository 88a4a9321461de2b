"""What the Loss Landscape page says about a pair of landscapes: every claim a measured number of
:class:`~resnet_explain.experiments.landscape.Landscape` (``numbers`` and ``meta``), in markdown."""

from __future__ import annotations

import math

from .fair_pair import unfair_pair


def _chance(result) -> float:
    return 1.0 / result.meta.get("classes", 10)


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


def net_name(variant: str, result) -> str:
    """"plain-56" from a landscape's meta (just "plain" when it has no depth)."""
    depth = result.meta.get("depth")
    return f"{variant}-{int(depth)}" if depth is not None else variant


def pair_warning(plain, residual) -> str | None:
    """The warning for a pair whose one twin never left chance or trained far worse than the
    other (:func:`resnet_explain.chance.unfair_sides`, on the accuracy at the trained weights on
    this sample): the page then compares neither the sharpness nor the pictures. None if fair."""
    accs = {net_name(v, r): r.numbers["accuracy_at_centre"] for v, r in (("plain", plain),
                                                                          ("residual", residual))}
    return unfair_pair(accs, _chance(plain), "A net that learned far less sits elsewhere on its "
                       "landscape than one that trained — not at a minimum of the same kind — so "
                       "this page does not say which minimum is sharper or smoother: the numbers "
                       "below describe each net alone.")


def alone_sentence(lp: float, lr: float) -> str:
    """λmax of both nets, with no comparison (an unfair pair)."""
    return (f"λmax at the trained weights: **{lp:.3g}** for the plain net, **{lr:.3g}** for the "
            "residual one (each alone: this pair is not compared).")


def reconcile_sentence(p: dict, r: dict) -> str:
    """When λmax calls one net sharper but its slice rises less: why both can be true ("" when
    the picture agrees, or λmax is not positive for both)."""
    lp, lr = p["lambda_max"], r["lambda_max"]
    if not (lp > 0 and lr > 0) or lp == lr:
        return ""
    (s, sn), (o, on) = (("plain", p), ("residual", r)) if lp > lr else (("residual", r), ("plain", p))
    if not sn["loss_max"] < on["loss_max"]:
        return ""
    return (f"The picture says otherwise: λmax calls the {s} net sharper, yet its slice rises "
            f"less (highest loss {sn['loss_max']:.3g} against {on['loss_max']:.3g} for the {o} "
            "net). They measure different things: λmax is the curvature at the trained weights "
            "along the single steepest of all directions, the slice's highest loss is a whole "
            "filter-normalised step away along two random ones.")


SAME = 1.25  # two curvatures within this factor are "about the same"


def fn_sentence(p: dict, r: dict, compared: bool = True) -> str:
    """The scale-invariant sharpness (the curvature along the filter-normalised directions) of
    both nets, whether it agrees with λmax, and why it is given ("" when unknown)."""
    kp, kr = p.get("fn_curvature"), r.get("fn_curvature")
    if kp is None or kr is None or not (math.isfinite(kp) and math.isfinite(kr)):
        return ""
    s = (f"Along the slice's filter-normalised directions, which rescaling a filter does not "
         f"change, the curvature at the trained weights is **{kp:.3g}** (plain) and **{kr:.3g}** "
         "(residual)")
    why = ("; λmax does change with a filter's scale, which BatchNorm makes free (Dinh et al. "
           "2017, arXiv 1703.04933)")
    if not compared or not (kp > 0 and kr > 0):
        return s + why + "."
    k = max(kp, kr) / min(kp, kr)
    if k < SAME:
        verdict = f": about the same (within {SAME - 1:.0%})"
    else:
        verdict = f": the {'plain' if kp > kr else 'residual'} net's is {k:.1f}× the other's"
    lam_sharper = "plain" if p["lambda_max"] > r["lambda_max"] else "residual"
    fn_sharper = None if k < SAME else ("plain" if kp > kr else "residual")
    agree = ("" if fn_sharper == lam_sharper else
             " — so the λmax contrast is not one the scale-invariant measure confirms")
    return s + verdict + why + agree + "."


def compare(plain, residual, warn: bool = True) -> str:
    """The twins' numbers in one paragraph, each claim a measured number (markdown); for an
    unfair pair (:func:`pair_warning`, first, unless ``warn`` is False: the page shows it apart)
    each net's numbers alone, no comparison."""
    p, r = plain.numbers, residual.numbers
    warning = pair_warning(plain, residual)
    fair = warning is None
    neg = [name for name, n in (("plain", p), ("residual", r))
           if n.get("lambda_min_resolved") and n["lambda_min"] < 0]
    if fair:
        parts = [curvature_sentence(p["lambda_max"], r["lambda_max"]), fn_sentence(p, r),
                 reconcile_sentence(p, r)]
    else:
        parts = [warning if warn else "", alone_sentence(p["lambda_max"], r["lambda_max"]),
                 fn_sentence(p, r, compared=False)]
    parts += [roughness_sentence(p, r), saddle_sentence(neg),
              path_sentence(p.get("path_barrier"), r.get("path_barrier"))]
    return " ".join(s for s in parts if s)
