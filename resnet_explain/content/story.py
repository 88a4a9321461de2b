"""The guided story, in order: one list that both the navigation (app.py) and the home page read.

Each step: page file, title, icon, sidebar section, url path, and one line of what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    file: str
    title: str
    icon: str
    section: str
    url_path: str
    blurb: str


STEPS: tuple[Step, ...] = (
    Step("app_pages/vanishing.py", "Vanishing Gradients", ":material/trending_down:", "Learn", "vanishing",
         "Why gradients vanish: σ′ ≤ 1/4, measured on live sigmoid, tanh and ReLU networks; float32 "
         "underflow; and the honest correction: BatchNorm + ReLU CNNs explode instead."),
    Step("app_pages/highway.py", "The Gradient Highway", ":material/add_road:", "Learn", "highway",
         "∂L/∂x_l = ∂L/∂x_(l+1) · (1 + ∂F/∂x_l): the identity term and the residual-branch term of every "
         "block of your network, and a network that starts as the identity (α = 0)."),
    Step("app_pages/shattered.py", "Shattered Gradients", ":material/grain:", "Learn", "shattered",
         "Sweep one input along a line: a deep plain net's gradient looks like white noise, a residual "
         "net's stays correlated (Balduzzi et al. 2017)."),
    Step("app_pages/misconceptions.py", "Misconceptions", ":material/psychology_alt:", "Learn", "misconceptions",
         "\"Skips just copy\", \"skips always help\", \"identities learn nothing\", \"any skip fixes "
         "vanishing\": each settled by a live mini-experiment."),
    Step("app_pages/builder.py", "Network Builder", ":material/construction:", "Experiment", "builder",
         "Build a network block by block: stages, block kinds, skips on or off, shortcut kinds, "
         "activation, normalisation, initialisation. See its diagram, size and cost."),
    Step("app_pages/gradient_flow.py", "Gradient Flow", ":material/timeline:", "Experiment",
         "gradient-flow",
         "Run a real forward and backward pass on your network and on its twin with the skips "
         "toggled, and see how the gradient's size changes from the output back to the input."),
    Step("app_pages/real_models.py", "Real Architectures", ":material/account_tree:", "Experiment",
         "real-models",
         "The same probe on torchvision's ResNets, VGG with and without BatchNorm, DenseNet, ResNeXt, "
         "Wide ResNet, ConvNeXt and ViT at initialisation: random weights, nothing downloaded."),
    Step("app_pages/architectures.py", "Architectures", ":material/table_chart:", "Experiment",
         "architectures",
         "The family around ResNet at one depth, one row each: He et al. 2016's shortcut variants, "
         "Highway, ResNeXt, Wide ResNet, DenseNet, stochastic depth, SkipInit, Fixup — size, gradient "
         "ratio for the network and its twin, published error, training error after one budget."),
    Step("app_pages/your_network.py", "Train Your Network", ":material/fitness_center:", "Experiment",
         "your-network",
         "Train the network you built and its twin with one budget, side by side: live curves, "
         "Stop, and the gradient at every block while it learns, from the training steps themselves."),
    Step("app_pages/training.py", "Training: Degradation", ":material/model_training:", "Experiment",
         "training",
         "Train plain and residual nets of 20 and 56 layers with one budget: stored runs at once, "
         "live runs with Stop, and He et al.'s degradation claims checked against the numbers."),
    Step("app_pages/why_plain_fails.py", "Why Plain Nets Fail", ":material/troubleshoot:", "Experiment",
         "why-plain-fails",
         "Why deep plain nets fail, measured on the trained twins: gradients and updates per block "
         "over training, shattered gradients, the residual branch's share, signal propagation."),
    Step("app_pages/learning_rates.py", "Learning Rates", ":material/speed:", "Experiment",
         "learning-rates",
         "Do residual nets tolerate higher learning rates? A stored sweep for the shipped recipe and a "
         "live one for your network and its twin, final training error against the learning rate."),
    Step("app_pages/landscape.py", "Loss Landscape", ":material/landscape:", "Experiment",
         "landscape",
         "The loss around trained twins' weights on random filter-normalised planes (Li et al. 2018), "
         "with the Hessian's top eigenvalue and the slice's roughness measured beside the picture."),
    Step("app_pages/lesion.py", "Lesion Study", ":material/content_cut:", "Experiment", "lesion",
         "Delete one block at a time from trained twins and measure what each deletion costs, next to "
         "Veit et al. 2016's finding; and how close each residual block is to the identity."),
    Step("app_pages/attribution.py", "Attribution Lab", ":material/center_focus_strong:", "Experiment",
         "attribution",
         "Captum attributions of trained plain and residual twins side by side, and scored against "
         "the true object masks: which method, on which network, points at the object?"),
    Step("app_pages/transformers.py", "Transformers", ":material/stacks:", "Experiment",
         "transformers",
         "Pre-LN vs post-LN vs no skips in a small byte-level Transformer: gradients and the stream at "
         "init (Xiong et al. 2020), a learning-rate × warm-up grid, a sorting task at depths 1-12, a lesion "
         "of each layer, the logit lens."),
    Step("app_pages/why_residuals_work.py", "So, Why Do Residuals Work?", ":material/lightbulb:",
         "Check yourself", "why-residuals-work",
         "The answer in a few sentences, each from a number measured in this app and linked to the "
         "page that measured it: the sigmoid case and the BatchNorm + ReLU case told apart."),
    Step("app_pages/quiz.py", "Self-check Quiz", ":material/quiz:", "Check yourself", "quiz",
         "Concept questions and predict-then-measure items, scored, each answer linked to the page "
         "that proves it."),
)

SECTIONS = ("Learn", "Experiment", "Check yourself")


def next_step(url_path: str | None) -> Step | None:
    """The step after the page at ``url_path`` (home, "" or None, leads to the first step)."""
    paths = [s.url_path for s in STEPS]
    if not url_path or url_path not in paths:
        return STEPS[0] if STEPS else None
    i = paths.index(url_path)
    return STEPS[i + 1] if i + 1 < len(STEPS) else None


@dataclass(frozen=True)
class Act:
    """One act of the workshop talk: a page and the URL state that sets it up."""

    title: str
    file: str
    query: tuple[tuple[str, str], ...]  # extra query parameters (the network, the seed, ...)
    say: str  # what the act shows, for the presenter


def _q(preset_name: str, **extra) -> tuple[tuple[str, str], ...]:
    from ..spec import preset

    params = dict(preset(preset_name).to_params())
    params.update({k: str(v) for k, v in extra.items()})
    return tuple(params.items())


# The first/last block gradient ratios the acts quote, so the home page says them without running
# two 56-layer probes: probe_spec(preset(name), seed=0, batch=32).ratio, float32 on a CPU (the acts'
# links set no seed, so they open at seed 0). tests/unit/test_claims.py measures them again and
# fails when a value here drifts from the measurement.
ACT_RATIOS: dict[str, float] = {"mlp-sigmoid20-plain": 3.07e-14, "mlp-sigmoid20": 0.997,
                                "plain56": 1.21e4, "resnet56": 18.8}


def _grad(name: str) -> str:
    """ "the gradient grows 19-fold toward the input" for a preset in ACT_RATIOS."""
    from ..magnitude import judge_ratio

    return "the gradient " + judge_ratio(ACT_RATIOS[name]).phrase


def _crossed(name: str) -> int:
    """Blocks between the first block's output and the last one's: the factors in the ratio."""
    from ..spec import preset

    return preset(name).n_blocks - 1


def home_intro(detail: str) -> str:
    """The Home page's opening paragraph (``detail``: where the live passes run)."""
    from .papers import HE15_BOTTLENECK as b  # papers imports pandas: only when the page asks

    return (
        "In 2015 He et al. (arXiv [1512.03385](https://arxiv.org/abs/1512.03385)) trained a 152-layer "
        f"network whose blocks add their input back to what they compute: `out = F(x) + x`. Its blocks "
        f"are {b.detail}, and where the dimensions grow the added input goes through a projection: "
        f"option B, {b.where}. Deeper plain networks "
        "had trained *worse* than shallower ones. This app lets you **measure** why. Every number here "
        "is measured or computed, or quoted with its paper beside it: live forward and backward passes "
        f"on real networks, run here on **{detail}**; closed-form curves such as σ′ and its 0.25^L bound; "
        "training runs, stored with the app or trained here; and lesions that only run trained nets "
        "forward. Each page says where its numbers come from, and everything is seeded: the same link "
        "gives the same numbers.")


def talk() -> tuple[Act, ...]:
    """The talk in order: vanishing -> highway -> degradation -> attributions (presenter mode on)."""
    return (
        Act("1 · Gradients vanish (sigmoid)", "app_pages/vanishing.py", (("presenter", "true"),),
            "σ′ ≤ 1/4 per layer: measure it on live sigmoid MLPs; float32 underflow."),
        Act("2 · The highway: a skip rescues the sigmoid net", "app_pages/gradient_flow.py",
            _q("mlp-sigmoid20-plain", presenter="true"),
            f"Same weights, skips toggled: without skips {_grad('mlp-sigmoid20-plain')}; with them "
            f"{_grad('mlp-sigmoid20')}. Flip the switch live."),
        Act("3 · The honest correction: BN + ReLU explodes", "app_pages/gradient_flow.py",
            _q("plain56", presenter="true"),
            f"Plain-56 CNN: {_grad('plain56')}. Its residual twin: {_grad('resnet56')} — the skips keep "
            f"each block's factor near 1 + something, but {_crossed('resnet56')} such factors still multiply up."),
        Act("4 · The highway, term by term", "app_pages/highway.py", _q("resnet56", presenter="true"),
            "Identity term vs residual-branch term in every block; α = 0 starts as the identity."),
        Act("5 · Degradation", "app_pages/training.py", (("presenter", "true"),),
            "He et al.'s experiment (2015, fig. 6): plain-56 trains worse than plain-20; ResNet-56 does not."),
        Act("6 · Attributions", "app_pages/attribution.py", (("presenter", "true"),),
            "Which pixels the trained twins use, scored against the true object masks."),
    )
