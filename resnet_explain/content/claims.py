"""Common claims, checked: where popular accounts of ResNets go wrong, each with its measurement
(from the library: the workshop acts' pinned gradient ratios, :data:`.story.ACT_RATIOS`, which
tests/unit/test_claims.py measures again) or its citation (a record in :mod:`.papers`).

Every number in these sentences is read from those two places at call time, never typed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import papers as P
from . import story


@dataclass(frozen=True)
class Claim:
    popular: str  # what popular accounts say
    checked: str  # what the measurement or the paper says (markdown)
    sources: str  # where each number comes from


def _grad(name: str) -> str:
    """ "grows **1.2e+04-fold** toward the input: it **explodes**" for a preset in ACT_RATIOS."""
    from ..magnitude import judge_ratio

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
