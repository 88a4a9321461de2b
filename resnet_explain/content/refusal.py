"""The words of a refused Start, the same on every page that starts long work: the estimate, the
host's limit, and the one control on that page (its visible label) that brings it under the limit
(the rule: :func:`resnet_explain.train.budgets.fix`). Pure: no streamlit, no torch."""

from __future__ import annotations


SMALLER_NETWORK = ("No budget on this page fits this network: make it shallower or narrower in the "
                   "**Network Builder**.")


def seconds(s: float) -> str:
    """"45 s", "3 min 20 s", "2 h 05 min": how long, as a person says it."""
    s = max(0.0, float(s))
    if s < 100:
        return f"{s:.0f} s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{m} min {r:02d} s"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m:02d} min"


def refusal(estimate: float, cap: float, fix=None, otherwise: str = "", setting: str = "") -> str:
    """Why Start is off: ``estimate`` over ``cap`` (``setting``: the host setting that sets the
    cap), and ``fix`` (a :class:`~resnet_explain.train.budgets.Fix`: label, value shown, estimate
    then) — or, when no single control on the page fixes it, ``otherwise``."""
    where = f" ({setting})" if setting else ""
    s = (f"Start is off: this would take about {seconds(estimate)} here, over this host's limit of "
         f"{seconds(cap)} for one Start{where}.")
    if fix is not None:
        return s + f" Set **{fix.label}** to {fix.shown} (about {seconds(fix.seconds)})."
    return s + (f" {otherwise}" if otherwise else "")


def estimate_basis() -> str:
    """Where every estimate's speed comes from (one measurement of this host)."""
    return ("rough: this server's speed, timed once when it was idle (a few training steps of two "
            "small networks, scaled by each network's layers and FLOPs); longer while others compute")
