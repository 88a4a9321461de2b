"""What the Architectures page (and ``python -m resnet_explain architectures``) says about
:func:`resnet_explain.experiments.architectures.compare`'s table: its column help, its caption,
a ratio cell where there is no number, and the sentences read off the table."""

from __future__ import annotations

import math

import pandas as pd

from ..chance import NEAR_CHANCE, chance_error, near_chance
from ..magnitude import SAME_FACTOR, fmt_ratio
from ..numbers import percent

# why a Fixup row has no ratio: the table's ratio_note, and the sentence under it
FIXUP_NOTE = ("no gradient reaches any block at initialisation: Fixup starts its classifier at 0 "
              "(Zhang et al. 2019, rule 1), so the ratio is 0/0 by design")

COLUMN_HELP = {
    "first/last gradient": "‖∂L/∂x‖ at the first block ÷ at the last, at initialisation (one seeded "
                           "batch, train mode).",
    "twin: first/last": "The same ratio for the twin: the same network with every skip off.",
    "training error (%)": "Eval mode, whole training set, after the last epoch of the quick budget.",
    "published error (%)": "CIFAR-10 test error as printed: He et al. 2016 (arXiv 1603.05027) table 1 "
                           "for the shortcut variants (ResNet-110, median of 5 runs); DenseNet, ResNeXt "
                           "and stochastic depth from their own papers (their nets; see 'published'). "
                           "Their depth, data and budget, not this page's.",
}


# Issue 27, "stochastic depth looks broken": scripts/measure_stochastic_depth.py (seed 0, one CPU
# thread; the builder's ResNet-20 at width 8 on the quick budget's data, only the epochs varied).
# epochs -> (p_L = 0.5: training error, test error; p_L = 1: training error, test error), eval mode.
STOCHASTIC_RUNS: dict[int, tuple[float, float, float, float]] = {
    8: (0.813, 0.854, 0.113, 0.214), 16: (0.337, 0.424, 0.001, 0.072),
    32: (0.013, 0.088, 0.000, 0.062), 64: (0.000, 0.032, 0.000, 0.048),
}
# 8 epochs, p_L = 0.5, seeds 0, 1, 2: training error with our row-mode drop, and with Huang et al.'s
# own per-mini-batch rule (``--paper-drop``).
STOCHASTIC_8_EPOCHS = {"ours": (0.813, 0.809, 0.787), "paper": (0.324, 0.563, 0.583)}
# The same pair at seed 1, epochs -> (p_L = 0.5 training, test; p_L = 1 training, test).
STOCHASTIC_SEED1 = {64: (0.000, 0.032, 0.000, 0.046)}
STOCHASTIC_EPOCHS_PAPER = 500  # Huang et al. 2016 sec. 4, CIFAR-10 (read in search-index copy 66828136182)


def caught_up(runs: dict[int, tuple[float, float, float, float]] = STOCHASTIC_RUNS,
              within: float = 0.01) -> int | None:
    """The fewest epochs at which p_L = 0.5's training error is within ``within`` of no drop's."""
    return next((ep for ep, (a, _, c, _) in sorted(runs.items()) if a - c <= within), None)


def stochastic_sentence(train_error: float | None) -> str:
    """Why stochastic depth's row trains worst here: a slow start; how long it takes to catch up
    (:data:`STOCHASTIC_RUNS`, computed, never typed)."""
    runs = "; ".join(f"{ep} epochs {percent(a)} (no drop {percent(c)})" for ep, (a, _, c, _) in STOCHASTIC_RUNS.items())
    ours, paper = (STOCHASTIC_8_EPOCHS[k] for k in ("ours", "paper"))
    here = f" ({percent(train_error)} training error in the table)" if train_error is not None else ""
    ep = caught_up()
    if ep is None:
        end = f" It has not caught up within the {max(STOCHASTIC_RUNS)} epochs we could run."
    else:
        a_test, c_test = STOCHASTIC_RUNS[ep][1], STOCHASTIC_RUNS[ep][3]
        end = (f" It catches up by {ep} epochs (within 1 point), where its test error is {percent(a_test)} "
               f"against {percent(c_test)} without drop.")
    for e1, (a1, t1, c1, u1) in STOCHASTIC_SEED1.items():
        end += (f" Seed 1 at {e1} epochs: training {percent(a1)} (no drop {percent(c1)}), test {percent(t1)} "
                f"(no drop {percent(u1)}).")
    return (f"Stochastic depth starts slowly{here}, and that is not a bug: its drop-path follows "
            "torchvision's `stochastic_depth` rule (row mode: each example keeps its branch with "
            "probability p_l, a kept branch scaled by 1/p_l), checked against an independent "
            "implementation (tests/unit/test_zoo_blocks.py), and Huang et al.'s own per-mini-batch drop "
            f"is slow here too (8 epochs: {percent(min(paper))}–{percent(max(paper))} training error over "
            f"{len(paper)} seeds; ours {percent(min(ours))}–{percent(max(ours))}). Trained longer (ResNet-20, "
            f"width 8, this budget's data, seed 0, p_L = 0.5), its training error is: {runs}." + end
            + f" Huang et al. train for {STOCHASTIC_EPOCHS_PAPER} epochs.")


def caption(seed: int, batch: int) -> str:
    """What the table's columns are, under it."""
    return ("Layers: weighted layers of the variant (a bottleneck or ResNeXt block has three, a dense "
            "layer one). Parameters and FLOPs counted from the spec at 32×32 inputs (CIFAR's; the probe "
            f"and the builder link use the same network). Ratios: seed {seed}, batch {batch}, train "
            "mode; Fixup's is none: its classifier starts at 0, so no gradient reaches any block at "
            "initialisation. **Published** errors are CIFAR-10 test errors as printed: He et al. 2016 "
            "table 1 (arXiv 1603.05027, ResNet-110; \"fail\" means above 20 %) for the shortcut "
            "variants, each other paper's own net for DenseNet, ResNeXt and stochastic depth — "
            "their depths, data and budgets, so compare them with each other, not with our rows. Training error: the "
            "quick budget (the Train-your-network page's: its 16×16 images are the only change to the "
            "network), one run per variant, eval mode on its whole training set.")


def ratio_text(ratio: float, note: str) -> str:
    """A ratio as the table shows it: the number, or the reason in words where there is none."""
    if note:
        return "none (classifier = 0)"
    return fmt_ratio(ratio) if math.isfinite(ratio) else "not finite"


def sentences(df: pd.DataFrame) -> list[str]:
    """Sentences read off the table: which variants keep the first/last ratio within 2× of 1,
    which shrink it, which grow it (largest first), how the twins compare; then training."""
    def listed(rows) -> str:
        return ", ".join(f"{r.label} ({fmt_ratio(r.ratio)})" for r in rows.itertuples())

    fin = df[df["ratio"].map(lambda r: math.isfinite(r) and r > 0)]
    near = fin[(fin["ratio"] < SAME_FACTOR) & (fin["ratio"] > 1 / SAME_FACTOR)]
    low = fin[fin["ratio"] <= 1 / SAME_FACTOR].sort_values("ratio")
    high = fin[fin["ratio"] >= SAME_FACTOR].sort_values("ratio", ascending=False)
    out = []
    if len(near):
        out.append(f"Within {SAME_FACTOR:g}× of 1 — the gradient reaches the first block about as large "
                   f"as the last: {listed(near)}.")
    elif len(fin):
        best = fin.loc[fin["log10_ratio"].abs().idxmin()]
        out.append(f"No variant keeps the ratio within {SAME_FACTOR:g}× of 1 at this depth; the closest "
                   f"is {best['label']}.")
    if len(low):
        out.append(f"Shrinks toward the input (ratio at most 1/{SAME_FACTOR:g}): {listed(low)}.")
    if len(high):
        out.append(f"Grows toward the input, as a plain net's does (ratio at least {SAME_FACTOR:g}): "
                   f"{listed(high)}.")
    tw = df[df["twin_ratio"].map(lambda r: math.isfinite(r) and r > 0) & df["log10_ratio"].notna()]
    if len(tw):
        closer = tw[tw["log10_ratio"].abs() < tw["log10_twin_ratio"].abs()]
        out.append(f"With its skips on, {len(closer)} of {len(tw)} variants keep the ratio closer to 1 "
                   "than their twin does (the same network, every skip off).")
    tr = df[df["train_error"].notna()]
    if len(tr) >= 2:
        best, worst = tr.loc[tr["train_error"].idxmin()], tr.loc[tr["train_error"].idxmax()]
        out.append(f"After the same training budget ({len(tr)} of {len(df)} variants trained), "
                   f"{best['label']} has the lowest training error ({best['train_error']:.1%}) and "
                   f"{worst['label']} the highest ({worst['train_error']:.1%}).")
    if len(tr):
        guess = chance_error()
        stuck = tr[[near_chance(1 - e, 1 - guess) for e in tr["train_error"]]]
        if len(stuck):
            out.append(f"Barely left chance in this short budget (less than {NEAR_CHANCE:.0%} of the way "
                       f"from guessing, {guess:.0%} error, to 0 %): "
                       + ", ".join(f"{r.label} ({r.train_error:.1%})" for r in stuck.itertuples()) + ".")
    sd = df[df["variant"] == "stochastic"] if "variant" in df else df.iloc[:0]
    if len(sd):
        e = sd["train_error"].iloc[0]
        out.append(stochastic_sentence(None if pd.isna(e) else float(e)))
    if df["ratio_note"].astype(bool).any():
        out.append("Fixup has no ratio (nor has its twin): " + FIXUP_NOTE + ".")
    return out
