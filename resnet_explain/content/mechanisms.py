"""Every sentence of the "Why deep plain nets fail" page: the stored tables of
:mod:`resnet_explain.experiments.mechanism_runs` -> words, one sentence per mechanism, its paper
cited, and "does not show here" where our numbers do not show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..magnitude import fmt_ratio, judge_ratio
from ..numbers import count
from .training import net_label

if TYPE_CHECKING:
    import pandas as pd

BALDUZZI = "[Balduzzi et al. 2017](https://arxiv.org/abs/1702.08591)"
DE_SMITH = "[De & Smith 2020](https://arxiv.org/abs/2002.10444)"
BROCK = "[Brock et al. 2021](https://arxiv.org/abs/2101.08692)"
YANG = "[Yang et al. 2019](https://arxiv.org/abs/1902.08129)"
HE15 = "[He et al. 2015](https://arxiv.org/abs/1512.03385)"
SHATTERED_BELOW = 0.2  # a lag-1 correlation below this is "like white noise" (content.shattered)
CLEAR_GAP = 0.1  # correlations closer than this are "about the same"


def _one(df: pd.DataFrame, arch: str, depth: int, state: str | None = None) -> pd.DataFrame:
    sel = (df["arch"] == arch) & (df["depth"] == depth)
    if state is not None:
        sel = sel & (df["state"] == state)
    return df[sel]


def _threads(n) -> str:
    return count(n, "CPU thread") if isinstance(n, int) else f"{n} CPU threads"


def _f(v: float, digits: int = 2) -> str:
    return fmt_ratio(float(v), digits)


# ---- (a) gradients and updates over training ---------------------------------------------------
VAN_LAARHOVEN = "[van Laarhoven 2017](https://arxiv.org/abs/1706.05350)"
HUGE_STEP = 0.5  # one step that changes a block's weights by more than half their norm


def _wide(grads: pd.DataFrame, arch: str, depth: int, column: str) -> pd.DataFrame:
    """step x block position of ``column`` (blocks only, not the stem and head)."""
    g = _one(grads, arch, depth)
    return g[g["kind"] == "block"].pivot_table(index="step", columns="position", values=column)


def first_last_over_training(grads: pd.DataFrame, arch: str, depth: int, column: str) -> float:
    """The median over the snapshot steps after step 0 of ``column`` at the first block / at the
    last block."""
    w = _wide(grads, arch, depth, column)
    w = w[w.index > w.index.min()]
    return float((w[w.columns.min()] / w[w.columns.max()]).median())


def at_start(grads: pd.DataFrame, arch: str, depth: int, column: str) -> tuple[float, float]:
    """``column`` at step 0: (first block, last block)."""
    w = _wide(grads, arch, depth, column)
    row = w.loc[w.index.min()]
    return float(row[w.columns.min()]), float(row[w.columns.max()])


def weight_growth(grads: pd.DataFrame, arch: str, depth: int) -> float:
    """The first block's largest ‖W‖ over training / its ‖W‖ at step 0."""
    w = _wide(grads, arch, depth, "weight_norm")
    col = w[w.columns.min()]
    return float(col.max() / col.iloc[0])


def gradient_sentence(grads: pd.DataFrame, depth: int) -> str:
    """Plain vs residual at ``depth``: the gradient and the update ratio at step 0, the first
    block's weight growth, and the update ratio's first/last median over the rest of training."""
    parts = []
    for arch in ("plain", "residual"):
        g0, g1 = at_start(grads, arch, depth, "grad_norm")
        u0, _u1 = at_start(grads, arch, depth, "update_ratio")
        u = first_last_over_training(grads, arch, depth, "update_ratio")
        parts.append(f"in {net_label(arch, depth)} the gradient at step 0 {judge_ratio(g0 / g1).markdown}, "
                     f"one step changes the first block's weights by ‖ΔW‖/‖W‖ = **{_f(u0)}**, its ‖W‖ "
                     f"grows **{_f(weight_growth(grads, arch, depth))}×** in training, and after step 0 "
                     f"its ‖ΔW‖/‖W‖ is a median **{_f(u)}×** the last block's")
    txt = "Measured: " + "; ".join(parts) + "."
    g0, g1 = at_start(grads, "plain", depth, "grad_norm")
    u0, _ = at_start(grads, "plain", depth, "update_ratio")
    later = first_last_over_training(grads, "plain", depth, "update_ratio")
    if g0 / g1 > 1 and u0 > HUGE_STEP and later < 1 / 2:
        return txt + (f" The plain net's gradient explodes toward the input at the start ({YANG}), so "
                      "the first steps blow its early blocks' weights up; BatchNorm makes a block's "
                      "output blind to its weights' scale, so larger weights then take "
                      f"proportionally smaller steps ({VAN_LAARHOVEN}): its early blocks almost stop "
                      f"learning. An optimisation difficulty, as {HE15} call it — not a vanishing "
                      "gradient.")
    if g0 / g1 > 1:
        return txt + (f" The plain net's gradient grows toward the input ({YANG}), it does not vanish; "
                      "the runaway first steps that stall a deeper plain net's early blocks do not "
                      "show at this depth.")
    return txt + " Here the plain net's gradient shrinks toward the input."


# ---- (b) shattered gradients -------------------------------------------------------------------
def lag1(corr: pd.DataFrame, arch: str, depth: int, state: str) -> float:
    c = _one(corr, arch, depth, state)
    return float(c.loc[c["lag"] == 1, "correlation"].iloc[0])


def correlation_sentence(corr: pd.DataFrame, depth: int) -> str:
    """Lag-1 correlation of neighbouring inputs' gradients, plain vs residual, init and trained."""
    p0, r0 = lag1(corr, "plain", depth, "init"), lag1(corr, "residual", depth, "init")
    p1, r1 = lag1(corr, "plain", depth, "trained"), lag1(corr, "residual", depth, "trained")
    txt = (f"At depth {depth}, the gradients of neighbouring inputs on a line correlate at "
           f"r = **{p0:.2f}** (plain) and **{r0:.2f}** (residual) at initialisation, "
           f"**{p1:.2f}** and **{r1:.2f}** trained.")
    if r0 - p0 > CLEAR_GAP and p0 < SHATTERED_BELOW:
        return txt + (f" The plain net's gradient is shattered — like white noise — at the start, "
                      f"the residual net's is not, as {BALDUZZI} found: a plain net starts with "
                      "gradients that say little about which way to move.")
    if r0 - p0 > CLEAR_GAP:
        return txt + f" The residual net's gradient is the smoother one, as {BALDUZZI} found."
    return txt + (f" Shattering ({BALDUZZI}) does not show at this depth in our numbers: the two "
                  "are about as correlated.")


# ---- (c) the branch's share --------------------------------------------------------------------
def share_sentence(share: pd.DataFrame, depth: int) -> str:
    """The residual net's ‖F(x)‖/‖S(x)‖, first and last block at init, and the median trained."""
    s0 = _one(share, "residual", depth, "init").sort_values("position")["share"]
    s1 = _one(share, "residual", depth, "trained")["share"]
    first, last, med0, med1 = float(s0.iloc[0]), float(s0.iloc[-1]), float(s0.median()), float(s1.median())
    txt = (f"In residual-{depth} at initialisation ‖F(x)‖/‖S(x)‖ is **{_f(first)}** at the first "
           f"block and **{_f(last)}** at the last (median **{_f(med0)}**); trained, the median is "
           f"**{_f(med1)}**.")
    if last < 0.7 * first and med0 < 1:
        return txt + (f" The branches' share falls with depth: BatchNorm downscales the branches, so "
                      "a residual net starts close to the identity / dominated by shallow paths "
                      f"({DE_SMITH}). A plain net has no shortcut to fall back on.")
    return txt + f" The downscaling {DE_SMITH} describe does not show in our numbers."


# ---- (d) signal propagation at initialisation ------------------------------------------------
def signal_sentence(signal: pd.DataFrame, depth: int) -> str:
    """Variance and mean² of the block outputs at init: their range in the plain net, first ->
    largest in the residual net."""
    p = _one(signal, "plain", depth, "init").sort_values("position")
    r = _one(signal, "residual", depth, "init").sort_values("position")
    pv, rv = p["variance"], r["variance"]
    txt = (f"At initialisation, plain-{depth}'s block outputs keep a variance between "
           f"**{_f(pv.min())}** and **{_f(pv.max())}** and a mean² between **{_f(p['mean_sq'].min())}** "
           f"and **{_f(p['mean_sq'].max())}** at every depth; residual-{depth}'s variance grows from "
           f"**{_f(rv.iloc[0])}** at its first block to **{_f(rv.max())}**, its mean² to "
           f"**{_f(r['mean_sq'].max())}**.")
    if rv.max() > 2 * rv.iloc[0]:
        return txt + (" In the residual net each block adds its normalised branch to the stream, so "
                      "the variance grows block by block and each new branch is a smaller part of "
                      f"it ({BROCK}'s signal propagation plots; {DE_SMITH}). The plain net's "
                      "BatchNorm resets the signal at every block: its signal is healthy in size, "
                      "so its trouble is not a signal that dies out.")
    return txt + f" The growth {BROCK} show for residual nets does not show in our numbers."


def _snapshots_note(runs: dict) -> str:
    """Where the heatmaps' snapshots come from: the shipped runs' own (recorded in a training
    that reproduced their weights bit for bit), or a retraining that did not reproduce them."""
    own = [n for n, r in runs.items() if r.get("own")]
    again = {n: r for n, r in runs.items() if "retrained_last_epoch_error" in r}
    note = ""
    if own:
        note += (f" The snapshots are the shipped runs' own ({', '.join(own)}): each run's request "
                 "was trained again with snapshots on and gave its shipped weights bit for bit, so "
                 "the heatmaps follow the very training the other charts measure.")
    if again:
        same = all(float(r.get("max_weight_difference", 1)) == 0 for r in again.values())
        errs = ", ".join(f"{n} {100 * r['retrained_last_epoch_error']:.1f} % vs "
                         f"{100 * r['shipped_last_epoch_error']:.1f} %" for n, r in again.items())
        note += (f" The snapshots of {', '.join(again)} come from training the run's request again "
                 "with snapshots on; " + ("the weights came out bit-identical." if same else
                 "the retraining does not reproduce the shipped weights bit for bit (last epoch's "
                 f"training error, retrained vs shipped: {errs}), so their heatmaps show that "
                 "retraining, the other charts the shipped weights."))
    return note


def how_made(meta: dict) -> str:
    """The caption under the page's charts: what was measured, on what, how it was made."""
    runs = meta.get("runs", {})
    return (f"The shipped twins ({', '.join(runs)}), each at initialisation (the weights its training "
            f"started from, BatchNorm given the statistics of the measured batch) and trained; "
            f"{meta.get('n_images')} test images; gradient snapshots every {meta.get('snapshot_every')} "
            f"steps. Made by `{meta.get('command', 'python scripts/make_mechanisms.py')}` in "
            f"{meta.get('seconds')} s on {_threads(meta.get('threads'))}, torch {meta.get('torch')}."
            + _snapshots_note(runs))


def live_init_label(seed: int) -> str:
    return f"Measure the initialisation again at the sidebar's seed {seed} (a few seconds)"


def live_init_spinner(seed: int) -> str:
    return f"Building the four twins at seed {seed} and measuring them…"
