"""What the Lesion Study page says (Veit et al. 2016, arXiv 1605.06431, sec. 4): the running
study's progress line, and the sentences read off the findings of
:func:`resnet_explain.charts.lesion.lesion_findings` (never typed in)."""

from __future__ import annotations

import pandas as pd

from ..chance import unfair_sides
from .fair_pair import unfair_lm_pair, unfair_pair
from .job_status import job_status

BIG_DROP = 5.0  # percentage points: what the sentences call a large drop

_SHORTCUT_AT_DOWNSAMPLING = {  # what S does where the shape changes, per shortcut option (spec.SHORTCUTS)
    "A": "subsamples and zero-pads the channels (He et al.'s option A)",
    "B": "is a projection: a strided 1×1 convolution with its norm (He et al.'s option B)",
    "C": "is a projection: a strided 1×1 convolution with its norm (He et al.'s option C)",
}
SHORTCUT_OPTIONS_TEXT = ("at a downsampling block S changes the shape: with option A it subsamples and "
                         "zero-pads the channels, with option B or C it is a strided 1×1 convolution "
                         "(a projection)")


def downsampling_shortcut(spec) -> str:
    """What a residual net's shortcut does at its downsampling blocks, read from its spec (option A
    zero-pads, B and C project): "whose shortcut …" completes with it."""
    options = sorted({b.shortcut for (_, b), c_in in zip(spec.named_blocks(), spec.in_widths())
                      if b.adds_branch and b.changes_shape(c_in)})
    if not options:
        return "has no downsampling block with a shortcut"
    return " / ".join(_SHORTCUT_AT_DOWNSAMPLING[o] for o in options)


def live_status(done: int, planned: int, elapsed: float, n: int, *, state: str, error: str | None = None,
                stopping: bool = False, finished: bool = False, abandoned: bool = False,
                items: str = "images", units: str = "block") -> tuple[str, str, float, str]:
    """(label, status state, fraction, text) of a study running as a background job: ``done`` of
    ``planned`` forward passes over ``n`` images, and the time left at the pace measured so far;
    ``finished``: the job ended with its tables (else it was stopped)."""
    frac = min(1.0, done / planned) if planned else 0.0
    text = f"{done} of {planned} forward passes over {n} {items} · {elapsed:.0f} s"
    if 0 < done < planned:
        text += f" · about {elapsed / done * (planned - done):.0f} s left"
    label, st = job_status(state=state, elapsed=elapsed, error=error, stopping=stopping,
                           abandoned=abandoned, finished=finished,
                           running=f"Deleting each {units}, {n} {'test ' if items == 'images' else ''}{items}",
                           stopping_text="Stopping after the current forward pass…")
    return label, st, frac, text


def arch_sentence(arch: str, depth: int, d: dict, big_drop: float = BIG_DROP) -> str:
    """What deleting one block of ``arch``-``depth`` costs: median and mean drop, how many blocks
    are cheap, which cannot be deleted, and the expensive ones (how many are downsampling)."""
    net = f"{arch}-{depth}"
    if not d["removable"]:
        return f"No block of **{net}** can be deleted."
    s = (f"Deleting one block of **{net}** costs a median of **{d['median_drop']:.1f}** points "
         f"(mean {d['mean_drop']:.1f}); {d['n_small']} of {d['removable']} deletable blocks cost "
         f"at most {big_drop:.0f} points each.")
    if d["not_removable"]:
        s += (f" {d['not_removable']} block{'s' if d['not_removable'] > 1 else ''} "
              f"({', '.join(d['not_removable_blocks'])}) cannot be deleted at all: "
              "they change the shape and have no path around them.")
    if d["big_blocks"]:
        where = ", ".join(f"{b} ({v:.0f})" for b, v in zip(d["big_blocks"][:4], d["big_drops"][:4]))
        more = f" and {len(d['big_blocks']) - 4} more" if len(d["big_blocks"]) > 4 else ""
        s += (f" Blocks costing more than {big_drop:.0f} points: {where}{more}; "
              f"{d['big_downsampling']} of these {len(d['big_blocks'])} "
              f"{'is a downsampling block' if d['big_downsampling'] == 1 else 'are downsampling blocks'}.")
    return s


def pair_warning(findings: dict, depth: int, chance: float) -> str | None:
    """The warning for a pair whose one twin never left chance or trained far worse than the
    other (:func:`resnet_explain.chance.unfair_sides`, on the accuracy measured here): no
    verdict on which twin is more fragile is drawn from it. None for a fair pair."""
    accs = {f"{arch}-{depth}": findings[arch]["base_accuracy_pct"] / 100 for arch in ("plain", "residual")}
    return unfair_pair(accs, chance, "Deleting a block of a net that learned little cannot cost "
                       "much, so its small drops say nothing about robustness, and this page draws "
                       "no verdict on which twin is more fragile from this pair.")


def lesion_verdict(findings: dict, chance: float, big_drop: float = BIG_DROP) -> str | None:
    """The "In short" sentence: does the pair show Veit et al.'s contrast? None when either twin
    has no deletable block, or one never left chance or trained far worse than the other (no
    comparative verdict from an unfair pair: :func:`pair_warning` says so)."""
    pr, rr = findings["plain"], findings["residual"]
    if pr.get("median_drop") is None or rr.get("median_drop") is None:
        return None
    if unfair_sides({a: d["base_accuracy_pct"] / 100 for a, d in (("p", pr), ("r", rr))}, chance):
        return None
    pm, rm = pr["median_drop"], rr["median_drop"]
    if pm <= big_drop:
        verdict = (f"neither net loses more than {big_drop:.0f} points from a typical deletion: "
                   "not Veit et al.'s contrast")
    elif rm <= big_drop:
        verdict = "as Veit et al. found: deleting a plain block hurts, the residual net barely moves"
    elif rm < pm / 2:
        verdict = ("in the direction Veit et al. found, but the residual net does not just "
                   f"\"barely move\": its typical block costs more than {big_drop:.0f} points "
                   "(fewer, more essential blocks at this depth)")
    else:
        verdict = "not Veit et al.'s contrast: here the residual net is about as fragile as the plain one"
    return (f"**In short:** the typical (median) deletion costs the plain net {pm:.1f} points "
            f"and the residual net {rm:.1f} — {verdict}.")


def ratio_sentence(long: pd.DataFrame, findings: dict) -> str | None:
    """The range of ‖F(x)‖/‖x‖ over residual blocks and its rank correlation with the drop."""
    res = long[long["arch"] == "residual"].dropna(subset=["residual_ratio"])
    if not len(res):
        return None
    top = res.loc[res["residual_ratio"].idxmax()]
    s = (f"The branch/input ratio runs from {res['residual_ratio'].min():.2f} to "
         f"{res['residual_ratio'].max():.2f} (median {res['residual_ratio'].median():.2f}); the "
         f"largest is at {top['block']}.")
    rho = findings.get("residual", {}).get("spearman_ratio_drop")
    if rho is None:
        return s
    if rho > 0.5:
        tail = " — the blocks that add most are the ones the network cannot lose."
    elif abs(rho) < 0.3:
        tail = " — weak: the branch's size alone does not tell which blocks matter."
    else:
        tail = "."
    return s + (f" Across residual blocks, the rank correlation between this ratio and the accuracy "
                f"drop is Spearman ρ = {rho:.2f}{tail}")



# ---------------------------------------------------------------------------------------------
# A Transformer pair (experiments/lm_lesion.py): losses in nats per byte, not accuracy
# ---------------------------------------------------------------------------------------------
BIG_LOSS = 0.1  # nats per byte: what the sentences call a large increase (the pre-LN pair's stored
# lesion: layer 0 adds 0.78, the other layers 0.001-0.026; assets/transformers/README.md)
UNIT_WORDS = {"layer": "layer (attention and MLP)", "sublayer": "sublayer"}


def lm_side_sentence(f: dict, unit: str = "layer", big: float = BIG_LOSS) -> str:
    """What deleting one ``unit`` of one network costs (``f``: one arch of
    :func:`~resnet_explain.experiments.lm_lesion.findings`); a side that never left the
    byte-frequency loss is named, and its numbers are not read."""
    net = f["net"]
    s = (f"Deleting one {UNIT_WORDS[unit]} of **{net}** adds a median of **{_nats(f['median_delta'])}** "
         f"nats per byte to its validation loss of {f['base_loss']:.3f} (mean {_nats(f['mean_delta'])}); "
         f"the largest, {_nats(f['max_delta'])}, is {f['worst']}")
    if f["flag"] == "near chance":
        return s + (f". **{net} never left the byte-frequency loss**, so what its layers do is not "
                    "testable here: these numbers are shown, not read.")
    n_big = sum(v > big for v in f["deltas"])
    return s + (f"; {n_big} of {f['units']} {unit}s {'adds' if n_big == 1 else 'add'} more than {big} nats." if n_big else
                f"; none of the {f['units']} adds more than {big} nats.")


def _nats(v: float) -> str:
    """A loss change with its sign, 3 decimals; a change that rounds to zero is "+0.000"."""
    return f"{(round(float(v), 3) or 0.0):+.3f}"


def lm_pair_warning(f: dict, reference: float) -> str | None:
    """The warning for a Transformer pair whose comparison is not fair (the one rule:
    :func:`resnet_explain.chance.unfair_lm_sides`); None for a fair pair."""
    return unfair_lm_pair({d["net"]: d["base_loss"] for d in f.values()}, reference,
                          "A network that learnt no context has nothing for a deleted layer to "
                          "take away, so this page draws no verdict on which of the two is more "
                          "fragile from this pair.")


def lm_verdict(f: dict, big: float = BIG_LOSS) -> str | None:
    """The "In short" sentence for a fair Transformer pair: Veit et al.'s contrast or not. None
    when a side is flagged (:func:`lm_pair_warning` says why) or missing."""
    pr, rr = f.get("plain"), f.get("residual")
    if pr is None or rr is None or pr["flag"] or rr["flag"]:
        return None
    pm, rm = pr["median_delta"], rr["median_delta"]
    if pm <= big:
        verdict = f"neither loses more than {big} nats from a typical deletion: not Veit et al.'s contrast"
    elif rm <= big:
        verdict = "as Veit et al. found: deleting a layer of the net without skips hurts, the residual net barely moves"
    elif rm < pm / 2:
        verdict = "in the direction Veit et al. found, but the residual net's typical deletion is not small"
    else:
        verdict = "not Veit et al.'s contrast: here the residual net is about as fragile as the one without skips"
    return (f"**In short:** the typical (median) deletion adds {_nats(pm)} nats per byte to the net "
            f"without skips and {_nats(rm)} to the residual net — {verdict}.")
