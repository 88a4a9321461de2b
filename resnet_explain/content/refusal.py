"""The words of a refused Start, the same on every page that starts long work: the estimate, the
host's limit, and the one control on that page (its visible label) that brings it under the limit
(the rule: :func:`resnet_explain.train.budgets.fix`). Pure: no streamlit, no torch."""

from __future__ import annotations


SMALLER_NETWORK = ("No budget on this page fits this network: make it shallower or narrower in the "
                   "**Network Builder**.")


def seconds(s: float) -> str:
    """"45 s", "154 s", "3 min 20 s", "2 h 05 min": how long, as a person says it."""
    s = max(0.0, float(s))
    if s < 180:
        return f"{s:.0f} s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{m} min {r:02d} s"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m:02d} min"


def refusal(estimate: float, cap: float, fix=None, otherwise: str = "", setting: str = "",
            first=None) -> str:
    """Why Start is off: ``estimate`` over ``cap`` (``setting``: the host setting that sets the
    cap), and ``fix`` (a :class:`~resnet_explain.train.budgets.Fix`: label, value shown, estimate
    then); when no single control fixes it, ``otherwise``, or else ``first`` (the control that
    does the most, :func:`~resnet_explain.train.budgets.nearest`) as the first step."""
    where = f" ({setting})" if setting else ""
    s = (f"Start is off: this would take about {seconds(estimate)} here, over this host's limit of "
         f"{seconds(cap)} for one Start{where}.")
    if fix is not None:
        return s + f" Set **{fix.label}** to {fix.shown} (about {seconds(fix.seconds)})."
    if otherwise:
        return f"{s} {otherwise}"
    if first is not None:
        return (s + f" No one control is enough: set **{first.label}** to {first.shown} first "
                f"(about {seconds(first.seconds)}), then make another smaller.")
    return s


def estimate_basis() -> str:
    """Where every estimate's speed comes from (one measurement of this host)."""
    return ("rough: this server's speed, timed once when it was idle (a few training steps of two "
            "small networks, scaled by each network's layers and FLOPs); longer while others compute")
