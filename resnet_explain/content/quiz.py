"""The quiz's question bank: concept questions, and predict-then-measure items with their
guessing bins; measured and scored by :mod:`resnet_explain.experiments.quiz`."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..magnitude import judge_ratio
from ..numbers import number, sci
from ..seeding import sub_seed
from .story import ACT_RATIOS


@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    options: tuple[str, ...]
    answer: int  # index into options (as written here; pages show them in option_order)
    explanation: str
    page: str  # the page file that proves it
    cite: str


@dataclass(frozen=True)
class Prediction:
    """Guess a measured number's order of magnitude, then measure it."""

    key: str
    prompt: str
    preset: str  # a spec preset name; measured by experiments.quiz.measure_prediction
    explanation: str
    page: str


# Order-of-magnitude bins for the first/last block gradient ratio: (label, lo, hi), lo <= r < hi.
# Guessing bins, not a verdict: the verdict on a ratio is magnitude.judge_ratio (its "about the
# same size" means within 2x, so the 0.1..10 bin does not use those words).
_EDGES = (1e-10, 1e-3, 0.1, 10.0, 1e3)


def _edge(v: float) -> str:
    """A bin edge as people write it: 10⁻¹⁰, 10⁻³, 0.1, 10, 1,000."""
    return number(v, 1) if 1e-2 <= v <= 1e3 else sci(v, 1)


RATIO_BINS: tuple[tuple[str, float, float], ...] = (
    (f"below {_edge(_EDGES[0])} (or exactly 0)", -math.inf, _EDGES[0]),
    *((f"{_edge(lo)} to {_edge(hi)}", lo, hi) for lo, hi in zip(_EDGES, _EDGES[1:])),
    (f"above {_edge(_EDGES[-1])}", _EDGES[-1], math.inf),
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "why_vanish", "Why do gradients vanish in a deep sigmoid network without skips or normalisation, "
                      "at PyTorch's default init?",
        ("Depth alone does it: every deep network loses gradient, whatever activation or init",
         "Each layer scales the gradient by σ′ ≤ 1/4 times its weights, and the weights are small",
         "Sigmoid saturates at once: default init drives inputs past |x| > 5, where σ′ ≈ 0",
         "float32 rounds each layer's gradient below 10⁻⁷ to 0, so a few layers zero it out"),
        1, "Backpropagation multiplies one Jacobian per layer, diag(σ′)·Wᵀ, and σ′(x) ≤ σ′(0) = 1/4, so a "
           "layer can change the gradient's size by at most ‖W‖/4 (‖W‖: the weights' largest gain). While "
           "every ‖W‖ is below 4 each factor is below 1 and the product shrinks geometrically with depth — "
           "true at PyTorch's default init, whose small weights (variance 1/(3·fan_in)) keep the sigmoids' "
           "inputs near 0, far from saturation; with gains above 4 the bound no longer promises a shrink. "
           "Depth alone does not do it: BatchNorm + ReLU CNNs grow instead. Measured on the Vanishing "
           "Gradients page.",
        "app_pages/vanishing.py",
        "Hochreiter 1991, diploma thesis; Bengio, Simard & Frasconi 1994, IEEE Trans. Neural Networks 5, "
        "doi:10.1109/72.279181"),
    Question(
        "skip_math", "How does an identity skip connection keep a deep network's gradient from vanishing?",
        ("It adds parameters to every block, so the early layers get more capacity to learn",
         "It renormalises the gradient in each block, like BatchNorm, to a norm of exactly 1",
         "x + F(x) has Jacobian 1 + ∂F/∂x: the 1 passes the gradient back where ∂F/∂x ≈ 0",
         "It turns the ReLU off on the shortcut, so the whole network then becomes linear and easy to train"),
        2, "With x_{l+1} = x_l + F(x_l), ∂L/∂x_l = ∂L/∂x_{l+1}(1 + ∂F/∂x_l). He et al. 2016 (eq. 5) write it "
           "for any two blocks as ∂E/∂x_l = ∂E/∂x_L(1 + ∂/∂x_l Σ F_i): one term reaches x_l through no "
           "weight layer at all. The identity adds no parameters and does not fix the gradient's size: a "
           "product of factors near 1 + something can still grow, as ResNet-56's does on the Vanishing "
           "Gradients page. The Gradient Highway page measures both terms in every block.",
        "app_pages/highway.py", "He et al. 2016, arXiv 1603.05027, eqs. 3–5"),
    Question(
        "projection", "When should a block use a projection shortcut instead of the identity?",
        ("In every block: 1×1 projections always beat identities and add almost no parameters at all",
         "Where the shape changes (channels or stride), and the free identity everywhere else",
         "Never: a 1×1 projection on the shortcut cuts the gradient highway in every block",
         "Only in the stem, where the image's 3 channels must become the first stage's 16"),
        1, "He et al. 2015 (sec. 3.3 and 4.1, table 3) compare A (zero-padding where the shape changes), B "
           "(projections only there) and C (projections everywhere) on ImageNet: B is slightly better than "
           "A, C marginally better than B, which they put down to C's extra parameters. The differences are "
           "small, so projections are not essential and identities are kept where shapes match. Try the "
           "options in the Network Builder.",
        "app_pages/builder.py", "He et al. 2015, arXiv 1512.03385, sec. 4.1, table 3"),
    Question(
        "residual_easier", "Why is learning F(x) = H(x) − x easier than learning H(x) directly?",
        ("F needs fewer parameters than H, so the optimiser searches a much smaller weight space",
         "If H is near the identity, F only has to stay near 0, and small weights do that",
         "The skip stops the gradient vanishing, which happens in every deep network of 20+ layers",
         "Subtracting x removes the input's noise before the 3×3 convolutions see it"),
        1, "He et al. 2015 (sec. 3.1) hypothesise that if the best mapping is close to the identity, it is "
           "easier to push a residual towards zero than to fit an identity with a stack of nonlinear "
           "layers. F and H use the same layers, so there are no fewer parameters. The Gradient Highway page "
           "starts a network at F = 0 (α = 0) and measures that it is the identity, with gradient ratio 1.",
        "app_pages/highway.py", "He et al. 2015, arXiv 1512.03385, sec. 3.1"),
    Question(
        "f_zero", "What happens when a residual block's branch gives F(x) ≈ 0?",
        ("The network's output becomes 0: a block with F(x) = 0 passes nothing forward",
         "The block is about the identity: input forward, gradient back, little harm done",
         "Every block before it stops getting gradient, because ∂F/∂x = 0 cuts the chain",
         "The block is wasted, and its skip must be pruned before training can continue"),
        1, "With F = 0 the block is x ↦ x and its Jacobian is I: the Gradient Highway page measures a "
           "first/last gradient ratio of exactly 1 at α = 0. Veit et al. 2016 delete single blocks of "
           "trained ResNets at test time; their abstract reads the result as paths that \"do not strongly "
           "depend on each other\". The Lesion Study measures it on our trained twins.",
        "app_pages/highway.py", "He et al. 2016, arXiv 1603.05027; Veit et al. 2016, arXiv 1605.06431"),
    Question(
        "bn_plain", "A 56-layer plain CNN with BatchNorm and ReLU, at initialisation: what does its "
                    "gradient do from the output back to the input?",
        ("It vanishes, as in every deep network: 56 layers shrink it below 10⁻¹⁰",
         "It stays the same size: BatchNorm alone fixes the gradient's scale",
         "It grows toward the input: early blocks get more than later ones",
         "It becomes NaN within a few blocks, once float32 overflows past 3.4 × 10³⁸"),
        2, "Measured on the Vanishing Gradients page (and in the prediction below): BatchNorm + ReLU plain "
           "nets grow toward the input at initialisation (Yang et al. 2019 prove it for wide fully-connected "
           "BatchNorm nets). He et al. 2015 called their "
           "degradation an optimisation difficulty, not vanishing gradients.", "app_pages/vanishing.py",
        "Yang et al. 2019, arXiv 1902.08129; He et al. 2015, arXiv 1512.03385, sec. 4.1"),
    Question(
        "degradation", "He et al.'s plain 56-layer CIFAR net had a higher training error than the plain "
                       "20-layer one. What did they conclude?",
        ("Overfitting: the 56-layer net memorised its training images and then failed on test ones",
         "Vanishing gradients: even with BatchNorm, no gradient got back through 56 layers",
         "Optimisation: the solver fails to find weights as good as the 20-layer net's",
         "Too few epochs: trained 2× as long, the 56-layer net would have caught up"),
        2, "Not overfitting: the deeper plain net has the higher *training* error (sec. 1, fig. 1; fig. 6 "
           "left). Not vanishing: their plain nets use BatchNorm, and they checked that forward signals and "
           "backward gradients have healthy sizes (sec. 4.1). A deeper net could copy the shallow one and "
           "make its extra layers identities, so a solution at least as good exists; the solver does not "
           "find it. The Training page reruns the comparison on a small budget.",
        "app_pages/training.py", "He et al. 2015, arXiv 1512.03385, sec. 1 and 4.1, fig. 1 and 6"),
)


def answer_positions(seed: int = 0, questions=QUESTIONS) -> dict[str, int]:
    """Where each question's right answer is shown, dealt so every position gets its share (with
    4 options and 7 questions no position holds more than 2 answers): always clicking the same
    place scores no better than guessing. Fixed by the seed."""
    k = min(len(q.options) for q in questions)
    rng = random.Random(sub_seed(seed, "quiz", "answer positions"))
    start = rng.randrange(k)  # which positions get the extra answers when k does not divide n
    slots = [(start + i) % k for i in range(len(questions))]
    rng.shuffle(slots)
    return {q.key: slot for q, slot in zip(questions, slots)}


def option_order(q: Question, seed: int = 0, questions=QUESTIONS) -> tuple[int, ...]:
    """The order to show ``q``'s options in: the answer at its dealt position
    (:func:`answer_positions`), the distractors shuffled around it, all fixed by (seed, the
    question's key), so a link shows the same quiz every time. Grading uses the original
    indices (``q.answer``), whatever the order shown."""
    rng = random.Random(sub_seed(seed, "quiz", q.key))
    order = [i for i in range(len(q.options)) if i != q.answer]
    rng.shuffle(order)
    pos = answer_positions(seed, questions).get(q.key)
    order.insert(rng.randrange(len(q.options)) if pos is None else pos, q.answer)
    return tuple(order)


def _near_one_explanation() -> str:
    """Why the sigmoid residual net's ratio is near 1, and that ∏(1 + ∂F/∂x) is not near 1 in
    general: both numbers from :data:`.story.ACT_RATIOS` (measured again by tests/unit/test_claims.py)."""
    near, res56 = ACT_RATIOS["mlp-sigmoid20"], ACT_RATIOS["resnet56"]
    return (f"The identity path carries the gradient back through no weight layer, and this net's branches "
            f"have small derivatives (σ′ ≤ 1/4, small default-init weights): its product ∏(1 + ∂F/∂x) "
            f"measures {near:.3g}. That "
            f"is not a rule: in ResNet-56 (BatchNorm + ReLU) the same product {judge_ratio(res56).phrase}.")


PREDICTIONS: tuple[Prediction, ...] = (
    Prediction("p_sigmoid_plain", "A 20-layer sigmoid MLP **without** skips (no normalisation). "
               "Guess the first block's gradient as a fraction of the last block's.",
               "mlp-sigmoid20-plain",
               "Each sigmoid layer shrinks the gradient by at most 0.25, and the weights shrink it more.",
               "app_pages/vanishing.py"),
    Prediction("p_sigmoid_res", "The same 20-layer sigmoid MLP **with** skips (pre-activation blocks). "
               "Guess the ratio now.", "mlp-sigmoid20",
               _near_one_explanation(),
               "app_pages/highway.py"),
    Prediction("p_relu_plain", "A 20-layer ReLU MLP without skips, PyTorch's default init. ReLU's slope "
               "is 1 where active. Guess the ratio.", "mlp-relu20-plain",
               "The default init's weights have variance 1/(3·fan_in): each layer scales the gradient by "
               "about √(1/6) ≈ 0.41, so ReLU alone does not save it.", "app_pages/vanishing.py"),
    Prediction("p_cnn_plain56", "The plain 56-layer CIFAR CNN (BatchNorm + ReLU, no skips). Guess the ratio.",
               "plain56",
               "BatchNorm + ReLU plain nets do not vanish at init: their gradients grow toward the input "
               "(measured here; Yang et al. 2019, arXiv 1902.08129, prove it for wide fully-connected "
               "BatchNorm nets).", "app_pages/vanishing.py"),
)


