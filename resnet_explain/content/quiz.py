"""The quiz's question bank and its scoring: concept questions, and predict-then-measure items
whose answer is measured live (:func:`measure_prediction`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..lab.vanishing import SWEEP_BATCH
from ..probe import probe_spec
from ..spec import preset

@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    options: tuple[str, ...]
    answer: int  # index into options
    explanation: str
    page: str  # the page file that proves it
    cite: str


@dataclass(frozen=True)
class Prediction:
    """Guess a measured number's order of magnitude, then measure it."""

    key: str
    prompt: str
    preset: str  # a spec preset name; measured with probe_spec(seed, SWEEP_BATCH)
    explanation: str
    page: str


# Order-of-magnitude bins for the first/last block gradient ratio: (label, lo, hi), lo <= r < hi.
# Guessing bins, not a verdict: the verdict on a ratio is magnitude.judge_ratio (its "about the
# same size" means within 2x, so the 0.1..10 bin does not use those words).
RATIO_BINS: tuple[tuple[str, float, float], ...] = (
    ("below 1e-10 (or exactly 0)", -math.inf, 1e-10),
    ("1e-10 to 1e-3", 1e-10, 1e-3),
    ("1e-3 to 0.1", 1e-3, 0.1),
    ("0.1 to 10", 0.1, 10.0),
    ("10 to 1000", 10.0, 1e3),
    ("above 1000", 1e3, math.inf),
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "why_vanish", "Why do gradients vanish in a deep sigmoid network without skip connections?",
        ("Because the loss is too small at initialisation",
         "Because backpropagation multiplies one factor per layer, and each sigmoid layer contributes "
         "σ′ ≤ 0.25 times its weights, so the product shrinks geometrically with depth",
         "Because the learning rate is divided by the depth",
         "Because float32 cannot store the weights of deep networks"),
        1, "The chain rule multiplies per-layer Jacobians. σ′(x) ≤ σ′(0) = 1/4, so L sigmoid layers "
           "give at most 0.25^L before the weights shrink it further — measured on the Vanishing "
           "Gradients page.", "app_pages/vanishing.py", "He et al. 2015, arXiv 1512.03385"),
    Question(
        "skip_math", "How does a skip connection stop the gradient from vanishing, mathematically?",
        ("It normalises the gradient at every block",
         "It doubles the learning rate of the early layers",
         "With x_{l+1} = x_l + F(x_l), ∂L/∂x_l = ∂L/∂x_{l+1}(1 + ∂F/∂x_l): the '1' passes the gradient "
         "back unchanged, so the product over blocks is ∏(1 + ∂F/∂x) and does not go to 0 when ∂F/∂x is small",
         "It removes the nonlinearity from the network"),
        2, "The identity term carries ∂L/∂x_{l+1} straight back; the Gradient Highway page measures "
           "it next to the residual-branch term for every block.", "app_pages/highway.py",
        "He et al. 2016, arXiv 1603.05027, eq. 5"),
    Question(
        "projection", "When should a block use a projection shortcut instead of the identity?",
        ("Always: projections are strictly better and cost nothing",
         "Only where the shape changes (more channels or a stride): a 1×1 projection matches the shapes; "
         "elsewhere the parameter-free identity is used",
         "Never: projections break the gradient highway completely",
         "Only in the first block of the network"),
        1, "He et al. 2015 (sec. 3.3, 4.1) compare A (zero-pad), B (project only where shapes change) and "
           "C (project everywhere): B is marginally better than A, C barely better than B and costs "
           "parameters, so identity where possible. Try the options in the Network Builder.",
        "app_pages/builder.py", "He et al. 2015, arXiv 1512.03385, sec. 4.1"),
    Question(
        "residual_easier", "Why is learning F(x) = H(x) − x easier than learning H(x) directly?",
        ("Because F has fewer parameters than H",
         "Because subtraction is cheaper than multiplication",
         "If the best mapping is close to the identity, pushing F toward 0 (small weights) is easy, "
         "while stacked nonlinear layers must work hard to fit an identity; and the block starts near the "
         "identity, so signals and gradients pass through it",
         "Because residual networks do not use backpropagation"),
        2, "He et al. 2015 (sec. 3.1) hypothesise exactly this; the Gradient Highway page starts a "
           "network at F = 0 (α = 0) and measures that it is the identity, with gradient ratio 1.",
        "app_pages/highway.py", "He et al. 2015, arXiv 1512.03385, sec. 3.1"),
    Question(
        "f_zero", "What happens when a residual block learns F(x) ≈ 0?",
        ("The network output becomes 0",
         "Training stops for every block",
         "The block becomes (nearly) the identity: it passes its input forward and its gradient back "
         "unchanged, so an unneeded block does little harm",
         "The gradient of all earlier blocks becomes 0"),
        2, "With F = 0 the block is x ↦ x and ∂x_{l+1}/∂x_l = I. The Gradient Highway page measures "
           "a gradient ratio of exactly 1 at α = 0; Veit et al. 2016 show that deleting single blocks of "
           "a trained ResNet barely hurts it.", "app_pages/highway.py",
        "He et al. 2016, arXiv 1603.05027; Veit et al. 2016, arXiv 1605.06431"),
    Question(
        "bn_plain", "A 56-layer plain CNN with BatchNorm and ReLU, at initialisation: what do its "
                    "gradients do from the output back to the input?",
        ("They vanish, like in a sigmoid network",
         "They stay exactly the same size",
         "They grow (explode) toward the input",
         "They become NaN"),
        2, "Measured on the Vanishing Gradients page (and in the prediction below): BN + ReLU plain nets "
           "explode toward the input at init (Yang et al. 2019). He et al. 2015 called their degradation "
           "an optimisation difficulty, not vanishing gradients.", "app_pages/vanishing.py",
        "Yang et al. 2019, arXiv 1902.08129; He et al. 2015, arXiv 1512.03385"),
)

PREDICTIONS: tuple[Prediction, ...] = (
    Prediction("p_sigmoid_plain", "A 20-layer sigmoid MLP **without** skips (no normalisation). "
               "Guess the first block's gradient as a fraction of the last block's.",
               "mlp-sigmoid20-plain",
               "Each sigmoid layer shrinks the gradient by at most 0.25, and the weights shrink it more.",
               "app_pages/vanishing.py"),
    Prediction("p_sigmoid_res", "The same 20-layer sigmoid MLP **with** skips (pre-activation blocks). "
               "Guess the ratio now.", "mlp-sigmoid20",
               "The identity path carries the gradient back untouched: ∏(1 + ∂F/∂x) stays near 1.",
               "app_pages/highway.py"),
    Prediction("p_relu_plain", "A 20-layer ReLU MLP without skips, PyTorch's default init. ReLU's slope "
               "is 1 where active. Guess the ratio.", "mlp-relu20-plain",
               "The default init's weights have variance 1/(3·fan_in): each layer scales the gradient by "
               "about √(1/6) ≈ 0.41, so ReLU alone does not save it.", "app_pages/vanishing.py"),
    Prediction("p_cnn_plain56", "The plain 56-layer CIFAR CNN (BatchNorm + ReLU, no skips). Guess the ratio.",
               "plain56",
               "BatchNorm + ReLU plain nets do not vanish at init: their gradients grow toward the input "
               "(Yang et al. 2019, arXiv 1902.08129).", "app_pages/vanishing.py"),
)


def ratio_bin(ratio: float) -> int | None:
    """Index into RATIO_BINS of a measured ratio (0 goes to the lowest bin); None for NaN/Inf."""
    if ratio is None or not np.isfinite(ratio) or ratio < 0:
        return None
    for i, (_, lo, hi) in enumerate(RATIO_BINS):
        if lo <= ratio < hi:
            return i
    return None


def measure_prediction(p: Prediction, seed: int = 0, batch: int = SWEEP_BATCH) -> float:
    """The first/last block gradient ratio of the prediction's network (the number to guess)."""
    return probe_spec(preset(p.preset), seed=seed, batch=batch).ratio


def score_quiz(choices: dict[str, int | None], measured: dict[str, float] | None = None,
               questions=QUESTIONS, predictions=PREDICTIONS) -> pd.DataFrame:
    """One row per item: the chosen and the correct option and whether they agree. A prediction is
    correct when the chosen bin contains the measured value; unanswered items count as wrong.
    Predictions without a measurement in ``measured`` are left out."""
    measured = measured or {}
    rows = []
    for q in questions:
        c = choices.get(q.key)
        rows.append({"key": q.key, "kind": "concept", "prompt": q.prompt,
                     "chosen": q.options[c] if c is not None else None,
                     "correct_option": q.options[q.answer], "correct": c == q.answer,
                     "measured": np.nan, "explanation": q.explanation, "page": q.page})
    for p in predictions:
        if p.key not in measured:
            continue
        c = choices.get(p.key)
        r = measured[p.key]
        right = ratio_bin(r)
        rows.append({"key": p.key, "kind": "prediction", "prompt": p.prompt,
                     "chosen": RATIO_BINS[c][0] if c is not None else None,
                     "correct_option": RATIO_BINS[right][0] if right is not None else "not finite",
                     "correct": c is not None and c == right, "measured": r,
                     "explanation": p.explanation, "page": p.page})
    return pd.DataFrame(rows)
