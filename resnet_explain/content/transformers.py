"""Every sentence of the Transformers page: numbers in, words out (no streamlit), each with its paper."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..chance import NEAR_REFERENCE_NATS, near_reference
from ..numbers import percent

XIONG = "Xiong et al. 2020, [arXiv 2002.04745](https://arxiv.org/abs/2002.04745)"
CURSE = "Sun et al. 2025, [arXiv 2502.05795](https://arxiv.org/abs/2502.05795)"
VEIT = "Veit et al. 2016, [arXiv 1605.06431](https://arxiv.org/abs/1605.06431)"
GROMOV = "Gromov et al. 2024, [arXiv 2403.17887](https://arxiv.org/abs/2403.17887)"
LENS = ("nostalgebraist 2020, [\"interpreting GPT: the logit lens\"](https://www.lesswrong.com/posts/"
        "AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens); Belrose et al. 2023, "
        "[arXiv 2303.08112](https://arxiv.org/abs/2303.08112)")
VARIANT_ORDER = ("pre-LN", "post-LN", "no skips")
LEVEL = (0.8, 1.25)  # a first/last ratio in here reads "about level"
HELPED_NATS = 0.05  # warm-up "helped" where it lowered the final loss by more than this

LIMITS = (
    "**What a small character model can and cannot say.** These are 6-layer (up to 24 at "
    "initialisation) decoder-only models of width 128 reading bytes of Python's own source for a few "
    "hundred steps on a CPU. They can show mechanisms that hold at any size because they are "
    "arithmetic of the architecture: where the gradient goes at initialisation, whether a stream "
    "without normalisation grows, whether removing a skip changes what training reaches, whether a "
    "layer's output is a refinement of one running prediction. They cannot show what an LLM does "
    "after billions of tokens: our runs are far from converged, one seed per cell (differences of a "
    "few hundredths of a nat are noise), the learning-rate thresholds where post-LN breaks move with "
    "width, depth, batch and optimizer settings, and a byte model's layers do not learn the features a "
    "large model's do. Read the grid as \"at this budget, on this machine\", never as a law.")


def _shape(r: float) -> str:
    if not math.isfinite(r):
        return "not measurable (a zero or non-finite gradient)"
    if LEVEL[0] <= r <= LEVEL[1]:
        return "about level"
    return "larger toward the output" if r < LEVEL[0] else "larger toward the input"


def xiong_sentence(first_last: pd.DataFrame, depth: int, init: str = "default", init_label: str = "") -> str:
    """Our first/last-layer gradient ratio of the MLP output weights beside Xiong et al.'s prediction."""
    d = first_last[(first_last["depth"] == depth) & (first_last["init"] == init)]
    d = d.set_index("variant")["first_over_last"]
    parts = [f"**{v}** {d[v]:.2g}× ({_shape(float(d[v]))})" for v in d.index]
    pre, post = float(d.get("pre-LN", np.nan)), float(d.get("post-LN", np.nan))
    agree = []
    agree.append("post-LN's grow toward the output, as predicted" if post < LEVEL[0]
                 else "post-LN's do **not** grow toward the output here")
    agree.append("pre-LN's stay level, as predicted" if LEVEL[0] <= pre <= LEVEL[1]
                 else f"pre-LN's are **not** level: {_shape(pre)}")
    how = f" with {init_label} init" if init_label else ""
    return (f"At depth {depth}{how}, the MLP output weights' gradient norm in the first layer over the last "
            f"layer's: {', '.join(parts)}. {XIONG} predict post-LN's gradients grow toward the output at "
            f"initialisation and pre-LN's stay level; in our measurement {agree[0]}, and {agree[1]}.")


def stream_sentence(streams: pd.DataFrame, depth: int, init: str = "default") -> str:
    """How the stream's norm and the sublayers' shares change from the first sublayer to the last,
    and whether pre-LN shows the curse of depth (its stream grows, its later shares shrink)."""
    d = streams[(streams["depth"] == depth) & (streams["init"] == init)].sort_values("position")
    out, pre = [], None
    for v, g in d.groupby("variant", sort=False):
        a, b = float(g["stream_norm"].iloc[0]), float(g["stream_norm"].iloc[-1])
        s0, s1 = float(g["branch_share"].iloc[0]), float(g["branch_share"].iloc[-1])
        out.append(f"**{v}**: ‖stream‖ {a:.3g} → {b:.3g} (×{b / a:.2g}), ‖F(x)‖/‖x‖ {s0:.2g} → {s1:.2g}")
        if v == "pre-LN":
            pre = (b / a, s1 / s0)
    said = ""
    if pre is not None:
        grows = "grows" if pre[0] > 1.1 else "does not grow"
        shares = "and the last sublayer's share is smaller than the first's" if pre[1] < 1 else \
            "but the last sublayer's share is not smaller than the first's"
        said = f" Here pre-LN's stream {grows} (×{pre[0]:.2g}) {shares} (×{pre[1]:.2g})."
    return (f"From the first sublayer to the last at depth {depth}: " + "; ".join(out) + ". "
            "In pre-LN nothing normalises the stream, so the adds can grow it and later sublayers' "
            f"shares shrink — the \"curse of depth\" ({CURSE}); post-LN renormalises after every add."
            f"{said} This is initialisation; training changes both.")


def _warmup_effect(finals: pd.DataFrame, variant: str) -> tuple[list[float], list[float], list[float]]:
    """(lrs where warm-up helped, lrs where no warm-up diverged, lrs measured) for ``variant``."""
    g = finals[finals["variant"] == variant]
    helped, blew, lrs = [], [], sorted(g["lr"].unique())
    for lr in lrs:
        at = g[np.isclose(g["lr"], lr)]
        cold = at[at["warmup_steps"] == 0]
        warm = at[at["warmup_steps"] > 0]
        if not len(cold) or not len(warm):
            continue
        cold_loss = math.inf if bool(cold["diverged"].iloc[0]) else float(cold["val_loss"].iloc[0])
        if bool(cold["diverged"].iloc[0]):
            blew.append(lr)
        best_warm = warm.loc[~warm["diverged"].astype(bool), "val_loss"].min()
        if math.isfinite(best_warm) and cold_loss - best_warm > HELPED_NATS:
            helped.append(lr)
    return helped, blew, lrs


def _near(losses: pd.Series, unigram: float) -> pd.Series:
    """Per finite loss: the run learnt no context, by the one rule (chance.near_reference: within
    NEAR_REFERENCE_NATS of the byte-frequency loss ``unigram``, or above it)."""
    return losses.map(lambda v: math.isfinite(v) and near_reference(v, unigram)).astype(bool)


def _stuck(cells: pd.DataFrame, unigram: float | None) -> str:
    """How many cells got no further than byte frequencies (:func:`_near`)."""
    if unigram is None or not len(cells):
        return ""
    n = int((~cells["diverged"].astype(bool) & _near(cells["val_loss"], unigram)).sum())
    return (f"; {n} of {len(cells)} of its cells ended within {NEAR_REFERENCE_NATS} nats of (or above) "
            f"{unigram:.3f}, the loss of a model that knows only how often each byte occurs (it "
            "learnt no context)" if n else f"; every cell beat the byte-frequency model ({unigram:.3f})")


def _lrs(v: list[float]) -> str:
    return ", ".join(f"{x:g}" for x in v) if v else "none"


def grid_sentences(finals: pd.DataFrame, unigram: float | None = None) -> list[str]:
    """Does post-LN need warm-up? Does pre-LN train without it? Does the no-skip twin train?"""
    out = []
    for v in ("post-LN", "pre-LN"):
        if not (finals["variant"] == v).any():
            continue
        helped, blew, lrs = _warmup_effect(finals, v)
        g = finals[(finals["variant"] == v) & ~finals["diverged"].astype(bool)]
        best = g.loc[g["val_loss"].idxmin()] if len(g) else None
        best_s = (f"; its best cell: {best['val_loss']:.3f} nats per byte at lr {best['lr']:g}, "
                  f"{int(best['warmup_steps'])} warm-up steps" if best is not None else "")
        out.append(f"**{v}**: warm-up lowered the final validation loss by more than {HELPED_NATS} nats at "
                   f"{len(helped)} of {len(lrs)} learning rates ({_lrs(helped)}); without warm-up it "
                   f"diverged at {_lrs(blew)}{best_s}{_stuck(finals[finals['variant'] == v], unigram)}.")
    ns = finals[finals["variant"] == "no skips"]
    if len(ns):
        ok = ns[~ns["diverged"].astype(bool)]
        best = float(ok["val_loss"].min()) if len(ok) else math.nan
        pre = finals[(finals["variant"] == "pre-LN") & finals["warmup_steps"].isin(ns["warmup_steps"])]
        pre_best = float(pre["val_loss"].min()) if len(pre) else math.nan
        uni = _stuck(ns, unigram)
        out.append(f"**No skips** (pre-LN's norms and weights, every skip off): best {best:.3f} nats per "
                   f"byte over {len(ns)} learning rates, against pre-LN's {pre_best:.3f} with the same "
                   f"warm-up{uni}.")
    out.append(f"The question and the prediction: {XIONG} (post-LN needs warm-up; pre-LN trains "
               "without it).")
    return out


def _learnt_nothing(loss: float, unigram: float | None) -> bool:
    return unigram is not None and math.isfinite(loss) and near_reference(loss, unigram)


def lesion_sentence(lesion: pd.DataFrame, unigram: float | None = None) -> str:
    """Median and largest loss added by deleting one layer, per network; a network that learnt no
    more than byte frequencies is named, and its lesion is not read as evidence."""
    d = lesion[lesion["unit"] == "layer"]
    parts, idle = [], []
    for v, g in d.groupby("variant", sort=False):
        worst = g.loc[g["delta"].idxmax()]
        base = float(lesion[(lesion["variant"] == v) & (lesion["unit"] == "none")]["val_loss"].iloc[0])
        parts.append(f"**{v}** median {g['delta'].median():+.3f}, largest {worst['delta']:+.3f} "
                     f"({worst['removed']})")
        if _learnt_nothing(base, unigram):
            idle.append(v)
    warn = (f" **{' and '.join(idle)} learnt no more than byte frequencies** ({unigram:.3f} nats) at this "
            "setting: deleting their layers cannot show what the layers do." if idle else "")
    return ("Deleting one whole layer (attention and MLP) of the trained networks adds to the validation "
            f"loss: {'; '.join(parts)}.{warn} {VEIT} found a residual network barely hurt by deleting one "
            f"block and a plain one broken; {GROMOV} prune about half of an LLM's deepest layers before "
            "it collapses. Without skips a deleted layer is replaced by passing its input on, a path "
            "the network never trained with.")


def lens_sentence(lens: pd.DataFrame, unigram: float | None = None) -> str:
    """Where in depth each network's decoded stream reaches its final loss."""
    parts = []
    for v, g in lens.groupby("variant", sort=False):
        g = g.sort_values("layer")
        final = float(g["val_loss"].iloc[-1])
        close = g[g["val_loss"] <= final + 0.1]
        first = close["after"].iloc[0] if len(close) else "—"
        idle = " (byte frequencies only)" if _learnt_nothing(final, unigram) else ""
        parts.append(f"**{v}** {float(g['val_loss'].iloc[0]):.2f} after the embedding → {final:.2f} at "
                     f"the end{idle}, within 0.1 of it from {first}")
    return ("The logit lens decodes the stream after each layer with the model's own final norm and "
            f"unembedding ({LENS}): {'; '.join(parts)}. A residual stream is one running prediction that "
            "each layer refines; without skips the intermediate states are not meant to be read by the "
            "unembedding at all.")


def live_status(records: list, total_cells: int) -> tuple[float, str]:
    """(fraction, text) of a live training job from its progress records."""
    done = sum(1 for r in records if "step" not in r)
    last = next((r for r in reversed(records) if "step" in r), None)
    now = (f" · {last['variant']}: step {int(last['step'])}, validation loss {last['val_loss']:.3f}"
           if last is not None and math.isfinite(last.get("val_loss", math.nan)) else "")
    return (done / total_cells if total_cells else 0.0), f"{done} of {total_cells} networks trained{now}"


DEPTH_POINTS = 0.05  # one seed per network: accuracy changes under 5 points are not read as effects
SAME = 0.005  # a per-token accuracy this close to an input-blind rule's is read as that rule
SORTED = 0.95  # a network "sorts" when it gets at least this share of held-out sequences exactly right


def _pcts(values) -> str:
    return " → ".join(percent(float(v)) for v in values)


def _points(fraction: float) -> str:
    """A difference of two accuracies in percentage points: 0.83 -> "83 points"."""
    return f"{abs(100 * float(fraction)):.0f} points"


def _and(items) -> str:
    items = [str(i) for i in items]
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else (items[0] if items else "none")


def sort_intro(recipe, label: str) -> str:
    """What the sorting task is and how it is scored, from its recipe (data/text.py: TextRecipe.sort)."""
    n, k = recipe.length, recipe.n_symbols
    return (f"Each sequence is {n} symbols drawn from {k}, a separator, then the same {n} sorted; only the "
            f"sorted half is scored. Emitting the k-th smallest means reading the whole input and counting "
            f"duplicates, a composition of attention steps, so one might expect depth to help. Scored on "
            f"{recipe.n_val:,} held-out sequences (teacher-forced argmax; a sequence is exact when all {n} "
            f"are right, which is also greedy decoding's success). One recipe for every network, fixed "
            f"before any ran: {label}.")


def _variants(finals: pd.DataFrame) -> list[str]:
    return [v for v in VARIANT_ORDER if v in set(finals["variant"])]


def _sort_line(v: str, g: pd.DataFrame, b: pd.DataFrame, best: float) -> str:
    """One network's accuracies by depth, where it beats the input-blind rules, where it equals one."""
    reads = [int(d) for d, t in zip(g["depth"], g["token_acc"]) if t > best + DEPTH_POINTS]
    same = [f"equal to \"{n}\" ({percent(r)}) at {_and(int(d) for d in at)} layers"
            for n, r in b["token_acc"].items()
            if len(at := g.loc[(g["token_acc"] - r).abs() < SAME, "depth"].tolist())]
    return (f"**{v}**: exact sequences {_pcts(g['exact_acc'])}, tokens {_pcts(g['token_acc'])} at "
            f"{_and(int(d) for d in g['depth'])} layers; more than {_points(DEPTH_POINTS)} above the best "
            f"input-blind rule per token at {_and(reads) if reads else 'no depth'}"
            + (f"; per token {'; '.join(same)}: there it never read the input" if same else "") + ".")


def _depth_reading(finals: pd.DataFrame, depths: list[int]) -> str:
    """The answer in words: does depth matter with skips, and what does depth do without them?"""
    out = []
    sorts = {v: sorted(int(d) for d in finals.loc[(finals["variant"] == v) & (finals["exact_acc"] >= SORTED),
                                                  "depth"]) for v in _variants(finals)}
    skip = [v for v in sorts if v != "no skips"]
    if skip and all(sorts[v] == depths for v in skip):
        out.append(f"With skips, depth does not matter on this task: {_and(skip)} sort at every depth "
                   f"tried, {depths[0]} layer{'s' if depths[0] > 1 else ''} included.")
    if "no skips" not in sorts:
        return " ".join(out)
    ns = sorts["no skips"]
    fails = [d for d in depths if d not in ns]
    if not ns:
        out.append("Without skips the same recipe sorts at no depth tried.")
    elif fails:
        worse = min(fails) > max(ns) and len(out) > 0  # shallow sorts, deep fails, skips sort everywhere
        out.append(f"Without skips the same recipe fails at {_and(fails)} layers and sorts at {_and(ns)}"
                   + (": on this task depth hurts only the stack without skips." if worse else "."))
    return " ".join(out)


def sort_sentences(finals: pd.DataFrame, baselines: pd.DataFrame) -> list[str]:
    """Does depth matter on the sorting task, for which network, and against the baselines that
    never read the input?"""
    depths = sorted(int(d) for d in finals["depth"].unique())
    b = baselines.set_index("baseline")
    blind = b.drop(index="chance", errors="ignore")
    best_name, best = blind["token_acc"].idxmax(), float(blind["token_acc"].max())
    verdicts, fewest, lines = [], [], []
    for v in _variants(finals):
        g = finals[finals["variant"] == v].sort_values("depth")
        change = float(g["exact_acc"].iloc[-1] - g["exact_acc"].iloc[0])
        verdicts.append(f"{v} {'gained' if change > 0 else 'lost'} {_points(change)}"
                        if abs(change) > DEPTH_POINTS else f"{v} changed by less than {_points(DEPTH_POINTS)}")
        ok = g.loc[g["exact_acc"] >= SORTED, "depth"]
        fewest.append(f"{v} {int(ok.min()) if len(ok) else 'none'}")
        lines.append(_sort_line(v, g, b, best))
    head = (f"Fewest layers that sorted at least {percent(SORTED, 0)} of the held-out sequences exactly: "
            f"{', '.join(fewest)} (of {_and(depths)}). From {depths[0]} to {depths[-1]} layers the share "
            f"sorted exactly: {'; '.join(verdicts)} (one seed each; changes under "
            f"{_points(DEPTH_POINTS)} are not read). {_depth_reading(finals, depths)}").rstrip()
    if "planned" in finals and not finals["planned"].astype(bool).all():
        later = sorted(int(d) for d in finals.loc[~finals["planned"].astype(bool), "depth"].unique())
        head += (f" Depth {_and(later)} was added after the planned depths' results were seen "
                 "(assets/transformers/README.md).")
    base = (f"Rules that never read the input: chance {percent(b.loc['chance', 'token_acc'])} a token; "
            + "; ".join(f"{n} {percent(r.token_acc)} a token, {percent(r.exact_acc)} of sequences"
                        for n, r in blind.iterrows())
            + f". A network near {percent(best)} ({best_name}) has learnt the output's shape, not to sort.")
    return [head, *lines, base]


def seeds_sentence(cells: pd.DataFrame, unigram: float | None) -> str:
    """What more seeds say about post-LN at one learning rate: which warm-ups stay at byte
    frequencies with every seed, with none, or with some."""
    parts, all_stuck, none_stuck, mixed, n_stuck = [], [], [], [], 0
    for w, g in cells.groupby("warmup_steps"):
        stuck = int(_near(g["val_loss"], unigram).sum()) if unigram is not None else 0
        losses = ", ".join(f"{x:.3f}" for x in g["val_loss"])
        parts.append(f"{int(w)} warm-up steps {losses} (seeds {_and(int(s) for s in g['seed'])})")
        (all_stuck if stuck == len(g) else none_stuck if stuck == 0 else mixed).append(int(w))
        n_stuck += stuck
    lr = float(cells["lr"].iloc[0])
    said = f"Post-LN at lr {lr:g} with more seeds, validation loss: {'; '.join(parts)}."
    if unigram is None:
        return said
    if mixed:
        return (f"{said} The seed decides: with {_and(mixed)} warm-up steps some seeds stayed at the "
                f"byte-frequency loss ({unigram:.3f}) and others trained ({n_stuck} of {len(cells)} runs "
                f"stuck in all). At this learning rate post-LN sits on an edge, three seeds cannot rank "
                "the warm-up lengths, and a single-seed cell of the grid near it is a draw, not a verdict.")
    if not all_stuck:
        return f"{said} Every run trained: seed 0's stuck cell did not repeat."
    steps = f" by step {int(cells['steps'].max())}" if "steps" in cells else ""
    return (f"{said} Every seed agrees: still at the byte-frequency loss ({unigram:.3f}){steps} with "
            f"{_and(all_stuck)} warm-up steps, past it with {_and(none_stuck)}: not one seed's luck. It is "
            "a fact of this short budget, not a proof that such a run never trains.")
