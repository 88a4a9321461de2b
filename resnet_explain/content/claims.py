"""Common claims, checked: where popular accounts of ResNets go wrong, each with its measurement
(from the library: the workshop acts' pinned gradient ratios, :data:`.story.ACT_RATIOS`, which
tests/unit/test_claims.py measures again) or its citation (a record in :mod:`.papers`).

Every number in these sentences is read from those two places at call time, never typed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..experiments.theory import SIGMOID_MAX_SLOPE
from ..magnitude import fmt_ratio, judge_ratio
from ..spec import preset
from ..spec.kinds import acts_crossed
from . import papers as P
from . import story
from . import study_note as N


@dataclass(frozen=True)
class Claim:
    popular: str  # what popular accounts say
    checked: str  # what the measurement or the paper says (markdown)
    sources: str  # where each number comes from


def _grad(name: str) -> str:
    """ "grows **1.2e+04-fold** toward the input: it **explodes**" for a preset in ACT_RATIOS."""
    return judge_ratio(story.ACT_RATIOS[name]).markdown


def _gain(a: P.Published, b: P.Published) -> str:
    """b's error minus a's, in points, as "0.60 points worse" / "2.85 points better"."""
    d = b.number - a.number
    return f"{abs(d):.2f} points {'worse' if d > 0 else 'better'}"


def claims() -> tuple[Claim, ...]:
    t2 = {p.label: p for p in P.HE15_TABLE2}
    p18, p34, r18, r34 = t2["plain-18"], t2["plain-34"], t2["ResNet-18"], t2["ResNet-34"]
    fl = {p.label: p for p in P.HE15_FLOPS}
    r152, vgg16, vgg19, b34 = fl["ResNet-152"], fl["VGG-16"], fl["VGG-19"], fl["34-layer plain / ResNet"]
    r110 = P.find("ResNet-110", P.HE15_TABLE6)
    single, ens = P.HE15_SINGLE_152, P.HE15_ENSEMBLE
    return (
        Claim("Deep plain nets fail because their gradients vanish.",
              "Not in deep **BatchNorm + ReLU** CNNs at initialisation: in our plain-56 the gradient "
              f"{_grad('plain56')}, and in its residual twin it still {_grad('resnet56')}. "
              f"{P.HE15_NOT_VANISHING.paper} ({P.HE15_NOT_VANISHING.where}) said as much of their BN plain "
              f"nets: {P.HE15_NOT_VANISHING.shown}. Vanishing is real without normalisation: in a 20-layer "
              f"sigmoid MLP the gradient {_grad('mlp-sigmoid20-plain')}.",
              "measured: probe_spec(preset(name), seed=0, batch=32).ratio, first/last block, for the "
              "presets plain56, resnet56 and mlp-sigmoid20-plain (Gradient Flow page); cited: "
              f"{P.HE15_NOT_VANISHING.cite}"),
        Claim("ResNet was the first network trained with 100+ layers.",
              f"Highway networks came first ({P.HIGHWAY.paper}, arXiv {P.HIGHWAY.arxiv}; ResNet is "
              f"{P.HE15_ID}): {P.HIGHWAY.shown}. What ResNet added was accuracy from that depth: "
              "He et al.'s table 6 lists CIFAR-10 test errors of "
              + ", ".join(f"{h.shown} % ({h.label})" for h in P.HIGHWAY_CIFAR)
              + f" beside ResNet-110's {r110.shown} %, and remarks that highway networks "
              f"{P.HE15_ON_HIGHWAY.shown}.",
              f"cited: {P.HIGHWAY.cite}; {P.HE15_ON_HIGHWAY.cite}; {r110.cite}"),
        Claim("152 layers means ResNet-152 costs more than VGG.",
              f"It costs less: ResNet-152 has {r152.shown} billion FLOPs (multiply-adds), VGG-16 has "
              f"{vgg16.shown} billion and VGG-19 {vgg19.shown} — ResNet-152 is "
              f"{r152.number / vgg19.number:.0%} of VGG-19. The 34-layer plain and residual nets have "
              f"{b34.shown} billion ({b34.number / vgg19.number:.0%} of VGG-19): fewer filters per layer.",
              f"cited: {r152.cite}; {b34.cite}; percentages computed from those numbers"),
        Claim("Going from 18 to 34 layers helps.",
              "In He et al.'s experiment, only with shortcuts. ImageNet top-1 error: plain "
              f"{p18.shown} % → {p34.shown} % ({_gain(p18, p34)}); ResNet {r18.shown} % → {r34.shown} % "
              f"({_gain(r18, r34)}). At 18 layers the two are about as accurate; the skips pay off deeper.",
              f"cited: {p18.cite} (10-crop, validation); differences computed"),
        Claim(f"ResNet's {ens.shown} % ImageNet error is one network.",
              f"It was {ens.detail} ({ens.where}). One ResNet-152 has {single.shown} % top-5 "
              f"error ({single.where}, {single.detail}).",
              f"cited: {ens.cite}; {single.cite}"),
    )


def markdown(items: tuple[Claim, ...] | None = None) -> str:
    """The claims as one markdown list for the Home page's box."""
    return "\n".join(f"- *“{c.popular}”* — {c.checked} *(Sources — {c.sources}.)*"
                     for c in (claims() if items is None else items))


# ---------------------------------------------------------------------------------------------
# Your notes vs the papers: the study note's own errors, each with the paper's figure (a record
# of :mod:`.papers`, whose ``read_in`` says where it was read) and our measurement where we have one.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoteError:
    note: str  # what the study note says (its words, shortened)
    paper: str  # what the paper prints (built from ``records``)
    ours: str  # our measurement, or "—" where we have none
    records: tuple[P.Published, ...]  # the records whose values ``paper`` quotes


def _crossed_bound(name: str) -> tuple[int, float]:
    """(activation layers the first/last ratio of preset ``name`` crosses, 0.25 to that power)."""
    spec = preset(name)
    L = int(sum(acts_crossed(b.kind) for b in spec.blocks[1:]))
    return L, SIGMOID_MAX_SLOPE ** L


def note_errors() -> tuple[NoteError, ...]:
    t6, t1 = {p.label: p for p in P.HE15_TABLE6}, {p.label: p for p in P.HE15_TABLE1}
    r20, r56 = t6["ResNet-20"], t6["ResNet-56"]
    t5 = {p.label: p for p in P.HE15_TABLE5}
    vgg, goog, bn, prelu = (t5[k] for k in ("VGG (ILSVRC'14)", "GoogLeNet (ILSVRC'14)", "BN-inception", "PReLU-net"))
    b18, b34 = t1["18-layer"], t1["34-layer"]
    n18, n34 = (sum(int(v) for v in b.value.split(",")) for b in (b18, b34))
    sig, res, r56m = (story.ACT_RATIOS[k] for k in ("mlp-sigmoid20-plain", "mlp-sigmoid20", "resnet56"))
    L, bound = _crossed_bound("mlp-sigmoid20-plain")
    ens, single = P.HE15_ENSEMBLE, P.HE15_SINGLE_152
    return (
        NoteError(N.CIFAR_TABLE,
                  f"Not in He et al. 2015. Table 6 has no plain rows and no training errors; ResNet-56's "
                  f"test error is {r56.shown} %. {r20.shown} % is ResNet-20's test error. Plain nets are "
                  f"only curves (fig. 6 left; plain-110 {P.HE15_FIG6_PLAIN110.shown} %).",
                  "— (our data and budget differ: the Training page checks the orderings, not the numbers)",
                  (r56, r20, P.HE15_FIG6_PLAIN110)),
        NoteError(N.PREVIOUS_BEST,
                  f"{vgg.shown} % is VGG's ILSVRC'14 entry (an ensemble, second); GoogLeNet won with "
                  f"{goog.shown} %, and {prelu.label} ({prelu.shown} %) and {bn.label} ({bn.shown} %) came "
                  "before ResNet (table 5).", "—", (vgg, goog, prelu, bn)),
        NoteError(N.ENSEMBLE,
                  f"{ens.shown} % is {ens.detail} ({ens.where}); one ResNet-152: {single.shown} % "
                  f"({single.where}, validation).", "—", (ens, single)),
        NoteError(N.SIXTEEN_BLOCKS,
                  f"Table 1: blocks per stage {b18.value} (18-layer) vs {b34.value} (34-layer): "
                  f"{n34 - n18} more blocks, {2 * (n34 - n18)} more layers, spread over every stage.",
                  "—", (b18, b34)),
        NoteError(N.IDENTITY_QUOTE,
                  f"{P.HE15_IDENTITY.where.capitalize()} prints {P.HE15_IDENTITY.shown}; the note's quotation blends it with sec. 1.",
                  "—", (P.HE15_IDENTITY,)),
        NoteError(N.SIGMOID_BOUND,
                  f"σ′ ≤ {SIGMOID_MAX_SLOPE:g} bounds the activations' factors alone; the weights multiply "
                  "in too (no paper figure: a bound, not a measurement).",
                  f"our 20-layer sigmoid MLP: {fmt_ratio(sig, 2)}, {SIGMOID_MAX_SLOPE ** 20 / sig:.0f}× below "
                  f"{SIGMOID_MAX_SLOPE:g}^20 and {bound / sig:.2g}× below {SIGMOID_MAX_SLOPE:g}^{L} (the {L} σ "
                  "layers its ratio crosses)", ()),
        NoteError(N.RESNET_ONE,
                  "He et al. 2016 (eq. 5): each block's factor is 1 + ∂F/∂x, not 1 (no figure).",
                  f"our ResNet-56: {judge_ratio(r56m).phrase}; only the sigmoid residual MLP is near 1 "
                  f"({res:.3g})", ()),
    )


def notes_markdown(items: tuple[NoteError, ...] | None = None) -> str:
    """The Home page's "Your notes vs the papers" box: one table row per error of the note."""
    rows = ["| your note says | the paper prints | we measure | where it was read |", "|---|---|---|---|"]
    for e in note_errors() if items is None else items:
        cites = "; ".join(sorted({r.cite for r in e.records}))
        read = f"{cites} — read in {'; '.join(sorted({r.read_in for r in e.records}))}" if cites else "our measurement"
        rows.append(f"| {e.note} | {e.paper} | {e.ours} | {read} |")
    return "\n".join(rows)
