"""Published results beside ours: the papers' own figures as data, each with where it is printed
(table / figure / section) and where we read it.

Every value here was looked up in a stored copy of the paper (issue 15: "look every figure up;
quote none from memory"); ``read_in`` names that copy. Where a paper gives a result only as a
curve (He et al. 2015, fig. 6: the plain nets' errors), there is no number here, and the pages say
so. The functions at the bottom build the pages' tables from these records and from our stored
results; they are pure (no streamlit).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..numbers import percent


@dataclass(frozen=True)
class Published:
    """One published result: a number exactly as printed, or a short quotation (``value``)."""

    paper: str  # "He et al. 2015"
    arxiv: str  # "1512.03385"
    where: str  # "table 6", "fig. 6 caption", "sec. 4.1"
    label: str  # the row it is about: "ResNet-56", "plain-34", "VGG-19"
    measure: str  # what the value is: "CIFAR-10 test error (%)"
    value: str  # as printed ("8.80", "fail"; "over 60" for "higher than 60%"), or a quotation in "…"
    read_in: str  # the stored copy we read it in (a URL, or the search index's copy)
    detail: str = ""  # what else the paper says about this row (parameters, how many runs)

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"

    @property
    def cite(self) -> str:
        """ "He et al. 2015, arXiv 1512.03385, table 6" """
        return f"{self.paper}, arXiv {self.arxiv}, {self.where}"

    @property
    def number(self) -> float | None:
        """The value as a number, when it is one ("8.80" -> 8.8); None for "fail", "over 60", quotations."""
        try:
            return float(self.value)
        except ValueError:
            return None

    @property
    def shown(self) -> str:
        return self.value


# ---------------------------------------------------------------------------------------------
# He, Zhang, Ren, Sun 2015, "Deep Residual Learning for Image Recognition", arXiv 1512.03385.
# Read in a text copy of the paper held by the search tool's GitHub index (find_string id
# 55137226131, the full paper as Markdown); tables 2, 4, 5, 6 and the fig. 6 caption also read,
# with the same numbers, in copies 69175893683 and 53479251437, and the FLOPs sentences in eight
# more copies (e.g. 54504340221, 55367606006).
# ---------------------------------------------------------------------------------------------
HE15, HE15_ID = "He et al. 2015", "1512.03385"
HE15_READ = "arXiv 1512.03385 text, search-index copy 55137226131 (checked against 69175893683, 53479251437)"


def _he15(where: str, label: str, measure: str, value: str, detail: str = "") -> Published:
    return Published(HE15, HE15_ID, where, label, measure, value, HE15_READ, detail)


CIFAR_ERR = "CIFAR-10 test error (%)"
# Table 6: "Classification error on the CIFAR-10 test set. All methods are with data augmentation.
# For ResNet-110, we run it 5 times and show 'best (mean ± std)'". (Highway rows: see HIGHWAY_CIFAR.)
HE15_TABLE6: tuple[Published, ...] = (
    _he15("table 6", "ResNet-20", CIFAR_ERR, "8.75", "0.27M parameters"),
    _he15("table 6", "ResNet-32", CIFAR_ERR, "7.51", "0.46M parameters"),
    _he15("table 6", "ResNet-44", CIFAR_ERR, "7.17", "0.66M parameters"),
    _he15("table 6", "ResNet-56", CIFAR_ERR, "6.97", "0.85M parameters"),
    _he15("table 6", "ResNet-110", CIFAR_ERR, "6.43",
          "1.7M parameters; best of 5 runs, mean ± std 6.61 ± 0.16"),
    _he15("table 6", "ResNet-1202", CIFAR_ERR, "7.93",
          "19.4M parameters; worse than ResNet-110, which the paper attributes to overfitting"),
)
# Fig. 6 (left) gives the plain nets (20, 32, 44, 56 layers) only as training curves: no numbers.
# Its caption: "The error of plain-110 is higher than 60% and not displayed."
HE15_FIG6_PLAIN110 = _he15("fig. 6 caption", "plain-110", "CIFAR-10 error (%)", "over 60",
                           "\"higher than 60% and not displayed\"; plain-20…56 are drawn as curves only")
# Sec. 4.2, the text beside fig. 6: the training budget. (Of the left panel it says: "The deep plain
# nets suffer from increased depth, and exhibit higher training error when going deeper.")
HE15_CIFAR_BUDGET = _he15("sec. 4.2", "all CIFAR-10 nets", "training", "64k iterations, mini-batch 128",
                          "50k training / 10k test images, 32×32, 10 classes; "
                          "lr 0.1, divided by 10 at 32k and 48k")

TOP1 = "ImageNet val top-1 error (%, 10-crop)"
# Table 2: "Top-1 error (%, 10-crop testing) on ImageNet validation. Here the ResNets have no extra
# parameter compared to their plain counterparts."
HE15_TABLE2: tuple[Published, ...] = (
    _he15("table 2", "plain-18", TOP1, "27.94"),
    _he15("table 2", "plain-34", TOP1, "28.54"),
    _he15("table 2", "ResNet-18", TOP1, "27.88", "identity shortcuts, zero-padding (option A)"),
    _he15("table 2", "ResNet-34", TOP1, "25.03", "identity shortcuts, zero-padding (option A)"),
)
# Table 4: "Error rates (%) of single-model results on the ImageNet validation set".
# Table 5: "Error rates (%) of ensembles. The top-5 error is on the test set of ImageNet and
# reported by the test server." Sec. 4.1: "We combine six models of different depth to form an
# ensemble (only with two 152-layer ones at the time of submitting)."
HE15_SINGLE_152 = _he15("table 4", "ResNet-152 (one model)", "ImageNet val top-5 error (%)", "4.49",
                        "single model, validation set")
HE15_ENSEMBLE = _he15("table 5", "ResNet ensemble (ILSVRC'15)", "ImageNet test top-5 error (%)", "3.57",
                      "an ensemble of six models of different depth (two of them 152-layer), on the test set")
# Table 5's other rows (read in copy 55137226131, issue 27's research): the entries before ResNet.
TOP5_TEST = "ImageNet test top-5 error (%)"
HE15_TABLE5: tuple[Published, ...] = (
    _he15("table 5", "VGG (ILSVRC'14)", TOP5_TEST, "7.32", "an ensemble; second in ILSVRC'14"),
    _he15("table 5", "GoogLeNet (ILSVRC'14)", TOP5_TEST, "6.66", "an ensemble; won ILSVRC'14"),
    _he15("table 5", "VGG (v5)", TOP5_TEST, "6.8"),
    _he15("table 5", "PReLU-net", TOP5_TEST, "4.94"),
    _he15("table 5", "BN-inception", TOP5_TEST, "4.82", "the best entry before ResNet's"),
)
# Table 1: blocks per stage (conv2_x … conv5_x) of two 3×3 convolutions each.
HE15_TABLE1: tuple[Published, ...] = (
    _he15("table 1", "18-layer", "basic blocks per stage", "2, 2, 2, 2"),
    _he15("table 1", "34-layer", "basic blocks per stage", "3, 4, 6, 3"),
)
# Sec. 4.1 ("Deeper Bottleneck Architectures"), read in copies 33117337082, 23745892984, 69434720757.
HE15_BOTTLENECK = _he15(
    "sec. 4.1", "ResNet-50/101/152", "their blocks",
    "\"We use option B for increasing dimensions\" (the 50-layer net; \"We construct 101-layer and "
    "152-layer ResNets by using more 3-layer blocks\")", "three-layer bottleneck blocks (1×1, 3×3, 1×1)")
# Sec. 4.2 and its footnote 5 (read in 55137226131 and five more copies, issue 27's research).
HE15_WARMUP_110 = _he15(
    "sec. 4.2", "ResNet-110 (CIFAR-10)", "learning-rate warm-up",
    "\"the initial learning rate of 0.1 is slightly too large to start converging. So we use 0.01 to "
    "warm up the training until the training error is below 80% (about 400 iterations), and then go "
    "back to 0.1\"", "footnote 5: \"With an initial learning rate of 0.1, it starts converging (<90% "
    "error) after several epochs, but still reaches similar accuracy.\"")
# Sec. 3.1, the identity argument as printed (the study note blends it with sec. 1's wording).
HE15_IDENTITY = _he15("sec. 3.1", "the identity argument", "as printed",
                      "\"if the added layers can be constructed as identity mappings, a deeper model "
                      "should have training error no greater than its shallower counterpart\"")
# Sec. 3.3 and sec. 4.1: FLOPs are multiply-adds.
HE15_FLOPS: tuple[Published, ...] = (
    _he15("sec. 3.3", "34-layer plain / ResNet", "billion FLOPs (multiply-adds)", "3.6",
          "\"only 18% of VGG-19\""),
    _he15("sec. 3.3, fig. 3", "VGG-19", "billion FLOPs (multiply-adds)", "19.6"),
    _he15("sec. 4.1", "VGG-16", "billion FLOPs (multiply-adds)", "15.3"),
    _he15("sec. 4.1", "ResNet-152", "billion FLOPs (multiply-adds)", "11.3",
          "\"still has lower complexity than VGG-16/19 nets\""),
)
# Sec. 4.1, on the plain nets of table 2 (all trained with BatchNorm).
HE15_NOT_VANISHING = _he15(
    "sec. 4.1", "plain-18 / plain-34 (with BN)", "their reading",
    "\"this optimization difficulty is unlikely to be caused by vanishing gradients\" … \"the backward "
    "propagated gradients exhibit healthy norms with BN\"")
# Sec. 2: "highway networks have not demonstrated accuracy gains with extremely increased depth
# (e.g., over 100 layers)".
HE15_ON_HIGHWAY = _he15("sec. 2", "Highway networks", "He et al.'s remark",
                        "\"have not demonstrated accuracy gains with extremely increased depth (e.g., "
                        "over 100 layers)\"")
# Table 6's Highway rows (results of Srivastava et al., as He et al. list them).
HIGHWAY_CIFAR: tuple[Published, ...] = (
    _he15("table 6", "19-layer Highway", CIFAR_ERR, "7.54", "2.3M parameters; mean ± std 7.72 ± 0.16"),
    _he15("table 6", "32-layer Highway", CIFAR_ERR, "8.80", "1.25M parameters"),
)

# ---------------------------------------------------------------------------------------------
# He, Zhang, Ren, Sun 2016, "Identity Mappings in Deep Residual Networks", arXiv 1603.05027,
# table 1: "Classification error on the CIFAR-10 test set using ResNet-110, with different types of
# shortcut connections applied to all Residual Units. We report 'fail' when the test error is
# higher than 20%." Sec. 3.1: "we report the median accuracy of 5 runs". Read in search-index copy
# 59087116786 (the paper as Markdown); the same rows in copy 63638813047, a table transcribed from
# the arXiv LaTeX source (resnet_plus_arxiv.tex lines 159-193).
# ---------------------------------------------------------------------------------------------
HE16, HE16_ID = "He et al. 2016", "1603.05027"
HE16_READ = "arXiv 1603.05027 text, search-index copy 59087116786 (checked against 63638813047)"
R110 = "ResNet-110 CIFAR-10 test error (%)"


def _he16(label: str, value: str, detail: str) -> Published:
    return Published(HE16, HE16_ID, "table 1", label, R110, value, HE16_READ, detail)


HE16_TABLE1: tuple[Published, ...] = (
    _he16("original (identity)", "6.61", "shortcut ×1, F ×1; every row the median of 5 runs, "
          "\"fail\" = test error above 20 %"),
    _he16("constant scaling", "fail", "shortcut ×0, F ×1: \"This is a plain net\""),
    _he16("constant scaling", "fail", "shortcut ×0.5, F ×1"),
    _he16("constant scaling", "12.35", "shortcut ×0.5, F ×0.5 (\"frozen gating\")"),
    _he16("exclusive gating", "fail", "shortcut 1−g(x), F g(x); gate bias initialised 0 to −5"),
    _he16("exclusive gating", "8.70", "gate bias initialised −6"),
    _he16("exclusive gating", "9.81", "gate bias initialised −7"),
    _he16("shortcut-only gating", "12.86", "shortcut 1−g(x), F ×1; gate bias initialised 0"),
    _he16("shortcut-only gating", "6.91", "gate bias initialised −6"),
    _he16("1×1 conv shortcut", "12.22", "shortcut: a 1×1 convolution"),
    _he16("dropout shortcut", "fail", "dropout 0.5 on the shortcut"),
)

# ---------------------------------------------------------------------------------------------
# Veit, Wilber, Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow
# Networks", arXiv 1605.06431 (NeurIPS 2016). The abstract read at ar5iv and in NeurIPS's metadata
# (both URLs below). The sec. 4.1 lesion sentences are not in the stored copies of the paper's
# body (issue 27's research looked again: only third parties quote them, ids 56739996498,
# 37280442718, 68614726779, 58456924873), so the page paraphrases them and says "second-hand".
# ---------------------------------------------------------------------------------------------
VEIT, VEIT_ID = "Veit et al. 2016", "1605.06431"
VEIT_ABSTRACT = ("https://ar5iv.labs.arxiv.org/html/1605.06431 and https://papers.nips.cc/paper_files/"
                 "paper/2016/file/37bc2f75bf1bcfe8450a1a41c200364c-Metadata.json (abstract)")
VEIT_QUOTED = ("sec. 4.1 as quoted alike in search-index notes 56739996498, 37280442718, 68614726779, "
               "58456924873")
SECOND_HAND = "(their sec. 4.1, quoted second-hand)"
VEIT_RESIDUAL = Published(VEIT, VEIT_ID, "sec. 4.1", "deleting one residual block", "test error",
                          f"the error barely changes, except at some downsampling blocks {SECOND_HAND}",
                          VEIT_QUOTED)
VEIT_VGG = Published(VEIT, VEIT_ID, "sec. 4.1", "deleting one layer of VGG (plain)", "test error",
                     f"the error goes to chance {SECOND_HAND}", VEIT_QUOTED)
VEIT_PATHS = Published(VEIT, VEIT_ID, "abstract", "why", "their reading",
                       "\"a lesion study reveals that these paths show ensemble-like behavior in the "
                       "sense that they do not strongly depend on each other\"", VEIT_ABSTRACT)

# ---------------------------------------------------------------------------------------------
# Srivastava, Greff, Schmidhuber 2015: "Highway Networks", arXiv 1505.00387 (abstract read at
# https://www.sciencestack.ai/arxiv/1505.00387v2) and "Training Very Deep Networks", arXiv
# 1507.06228 / NeurIPS 2015 (abstract read in NeurIPS's metadata, URL below). The depths of their
# MNIST experiments (fig. 1) are not in the stored copies we could read, so none is quoted.
# ---------------------------------------------------------------------------------------------
HIGHWAY = Published("Srivastava et al. 2015", "1505.00387", "abstract", "Highway networks", "depth trained",
                    "\"Highway networks with hundreds of layers can be trained directly using stochastic "
                    "gradient descent\"", "https://www.sciencestack.ai/arxiv/1505.00387v2",
                    "also arXiv 1507.06228 (NeurIPS 2015), abstract: \"Even with hundreds of layers, highway "
                    "networks can be trained directly through simple gradient descent\" (read at "
                    "https://papers.nips.cc/paper_files/paper/2015/file/"
                    "215a71a12769b056c3c32e7299f1c5ed-Metadata.json)")

# ---------------------------------------------------------------------------------------------
# The family around ResNet: each paper's own CIFAR-10 figure for the idea the Architectures page
# builds (their nets, depths and budgets, not ours). Read in the search tool's copies, named per
# record: paper text copied verbatim by third parties (ids), cross-checked against the authors'
# official repositories where those are stored. Not the arXiv PDFs themselves. Wide ResNets have
# none: their paper's text was not in the stored copies (only the authors' README).
# ---------------------------------------------------------------------------------------------
C10_AUG = "CIFAR-10 test error (%), with augmentation"
ZOO_PUBLISHED: dict[str, Published] = {
    "dense": Published("Huang et al. 2017", "1608.06993", "table 2", "DenseNet (L=40, k=12)", C10_AUG, "5.24",
                       "paper text, search-index copy 23314996494; the official README "
                       "(liuzhuang13/DenseNet, copy 1744593830) prints the same",
                       "1.0M parameters; 40 layers (ours: 6n + 4 at the page's depth)"),
    "resnext": Published("Xie et al. 2017", "1611.05431", "table 7", "ResNeXt-29, 8×64d", C10_AUG, "3.65",
                         "paper text, search-index copy 38159730226",
                         "34.4M parameters; average of 10 runs"),
    "stochastic": Published("Huang et al. 2016", "1603.09382", "table 1", "110-layer ResNet, stochastic depth",
                            C10_AUG, "5.25", "paper text, search-index copy 66828136182",
                            "p_L = 0.5; the same net with constant depth: 6.41"),
}

ALL: tuple[Published, ...] = (
    *HE15_TABLE6, HE15_FIG6_PLAIN110, HE15_CIFAR_BUDGET, *HE15_TABLE2, HE15_SINGLE_152, HE15_ENSEMBLE,
    *HE15_TABLE5, *HE15_TABLE1, HE15_BOTTLENECK, HE15_WARMUP_110, HE15_IDENTITY,
    *HE15_FLOPS, HE15_NOT_VANISHING, HE15_ON_HIGHWAY, *HIGHWAY_CIFAR, *HE16_TABLE1,
    VEIT_RESIDUAL, VEIT_VGG, VEIT_PATHS, HIGHWAY, *ZOO_PUBLISHED.values(),
)


def find(label: str, items: tuple[Published, ...] = ALL) -> Published:
    """The one record whose label is ``label`` (the first, where a label repeats)."""
    return next(p for p in items if p.label == label)


# ---------------------------------------------------------------------------------------------
# Tables for the pages (pure: records and our stored results in, DataFrames and text out)
# ---------------------------------------------------------------------------------------------
def published_table(items: tuple[Published, ...], label: str = "network") -> pd.DataFrame:
    """Records -> a small table: the row, the value as printed (headed by its measure when all rows
    share one, else beside a "measure" column), what the paper adds, and where it is printed."""
    one = len({p.measure for p in items}) == 1
    rows = [{label: p.label, **({} if one else {"measure": p.measure}),
             (items[0].measure if one else "published"): p.shown, "note": p.detail,
             "where": f"{p.paper}, {p.where}"} for p in items]
    return pd.DataFrame(rows)


def cifar10_table() -> pd.DataFrame:
    """He et al. 2015's CIFAR-10 numbers: table 6's ResNets, and what fig. 6 gives for plain nets."""
    return published_table(HE15_TABLE6 + (HE15_FIG6_PLAIN110,))




def _paper_says(h: dict) -> str:
    """What He et al. 2015 show for one of ``check_hypothesis``'s claims ("plain-56" vs "plain-20")."""
    (arch_a, depth_a), (arch_b, depth_b) = (x.split("-") for x in (h["a"], h["b"]))
    if arch_a == arch_b == "plain":
        return "yes: fig. 6 left (curves only; no numbers printed for plain-20…56)"
    if arch_a == arch_b == "residual":
        tab = {p.label: p for p in HE15_TABLE6}
        ra, rb = tab.get(f"ResNet-{depth_a}"), tab.get(f"ResNet-{depth_b}")
        both = f"; test error {ra.shown} % vs {rb.shown} % ({ra.where})" if ra and rb else ""
        return "yes: fig. 6 middle (curves)" + both
    return "yes: fig. 6 left vs middle (curves)"


def ordering_table(hypothesis: list[dict], n_seeds: int) -> pd.DataFrame:
    """He et al.'s orderings, what the paper shows for each, and whether our stored runs
    (``train.degradation.check_hypothesis``) reproduce it, with our training errors."""
    rows = []
    for h in hypothesis:
        spread = ("" if n_seeds < 2 else
                  "; seed ranges overlap" if h["seed_ranges_overlap"] else "; seed ranges apart")
        if h.get("testable", True):
            said = "yes" if h["holds"] else "no"
        else:  # a network that never left chance: no ordering to compare (chance.near_chance)
            stuck = " and ".join(h.get("untestable") or []) or "a network"
            said = f"not testable here ({stuck} never left chance)"
        rows.append({"claim": h["claim"], "He et al. 2015 (CIFAR-10)": _paper_says(h),
                     f"our stored runs (mean of {n_seeds} seeds)":
                         f"{said}: {h['a']} {percent(h['a_train_error'])} vs "
                         f"{h['b']} {percent(h['b_train_error'])} training error{spread}"})
    return pd.DataFrame(rows)


def ordering_sentence(hypothesis: list[dict]) -> str:
    """How many of He et al.'s orderings our stored runs reproduce, of those they can test
    (computed, never typed): a claim resting on a network that never left chance is not counted."""
    testable = [h for h in hypothesis if h.get("testable", True)]
    held = sum(bool(h["holds"]) for h in testable)
    untested = len(hypothesis) - len(testable)
    s = f"Our stored runs reproduce **{held} of {len(testable)}** of He et al.'s orderings they can test"
    if untested:
        s += (f" ({untested} of {len(hypothesis)} not testable here: a network they compare never left "
              "chance at this budget)")
    return s + ". The comparison is of ordering and direction only: the budgets and the data differ."


def budgets_caption(meta: dict) -> str:
    """Whose budget is whose, from the paper's sec. 4.2 and our stored runs' meta."""
    b = HE15_CIFAR_BUDGET
    return (f"Different data, different budgets. {b.paper} ({b.where}): CIFAR-10 ({b.detail}), "
            f"{b.value}, full-width networks (16/32/64 filters); their table 6 is *test* error. Ours: "
            f"{meta.get('dataset', 'generated shapes')}, {meta.get('size', '?')}×{meta.get('size', '?')} "
            f"pixels, width {meta.get('width', '?')}, {meta.get('epochs', '?')} epochs on "
            f"{meta.get('n_train', '?')} images, {len(meta.get('seeds', []))} seeds, on a CPU; the "
            "orderings are of *training* error, as in their fig. 6.")


def imagenet_table() -> pd.DataFrame:
    """He et al. 2015 on ImageNet: table 2 (18 vs 34 layers), one model vs the 3.57 % ensemble."""
    return published_table(HE15_TABLE2 + (HE15_SINGLE_152, HE15_ENSEMBLE))


def more_numbers_label() -> str:
    """The Training page's expander title, its numbers from the records."""
    return (f"More published numbers: ImageNet (18 vs 34 layers; one ResNet-152 at {HE15_SINGLE_152.shown} "
            f"% top-5 vs the {HE15_ENSEMBLE.shown} % ensemble) and He et al. 2016's shortcut variants of "
            "ResNet-110")


def shortcut_table() -> pd.DataFrame:
    """He et al. 2016, table 1: ResNet-110 with other shortcuts ("fail" = test error above 20 %)."""
    return published_table(HE16_TABLE1, label="shortcut")


def veit_caption() -> str:
    """Where the Lesion page's published sentences come from, and what they do not compare."""
    return (f"{VEIT} (arXiv {VEIT_ID}, {VEIT_RESIDUAL.where}) deleted one block at a time "
            "from trained residual networks, and one layer at a time from VGG, at test time. Their section "
            "was not in the stored copies of the paper: its findings are paraphrased here from others' "
            f"quotations of it. Their abstract, read first-hand, says: {VEIT_PATHS.shown}. Their "
            "networks, data and budget differ from this pair's: compare the direction, not the sizes.")


def veit_beside_ours(findings: dict, depth: int, chance: float) -> pd.DataFrame:
    """Veit et al.'s lesion findings beside this pair's (``charts.lesion.lesion_findings``): the
    median and largest accuracy drop per deleted block, and the accuracy a median deletion leaves
    against chance (Veit et al.'s VGG fell to chance)."""
    def ours(arch: str) -> str:
        f = findings.get(arch, {})
        if not f.get("removable"):
            return f"{arch}-{depth}: no block can be deleted"
        where = " (a downsampling block)" if f["worst_is_downsampling"] else ""
        left = f["base_accuracy_pct"] - f["median_drop"]
        s = (f"{arch}-{depth}: median drop {f['median_drop']:.1f} points (leaves {left:.1f} % accuracy; "
             f"chance {chance * 100:.0f} %), largest {f['max_drop']:.1f} at {f['worst_block']}{where}")
        return s + (f"; {f['not_removable']} cannot be deleted" if f.get("not_removable") else "")
    pairs = ((VEIT_RESIDUAL, "residual"), (VEIT_VGG, "plain"))
    return pd.DataFrame([{"deleting one block": p.label, f"{p.paper} ({p.where})": p.shown,
                          "this pair": ours(a)} for p, a in pairs])
