"""Every sentence of the Training page (He et al.'s degradation experiment): numbers -> words.

The claims' names, their verdicts, the budget and machine of a stored or live run, the plan of a
live run and its progress. The numbers come from :mod:`resnet_explain.experiments.degradation`;
the charts and tables from :mod:`resnet_explain.charts.training`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..experiments.convergence import key
from ..numbers import count, percent
from ..train.config import TrainConfig

if TYPE_CHECKING:
    import pandas as pd


def net_label(arch: str, depth: int) -> str:
    """A network's short name: "plain-56", "residual-20" (charts label their lines with it)."""
    return f"{arch}-{int(depth)}"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def claim_text(kind: str, lo: int, hi: int) -> str:
    """One of He et al.'s claims (:data:`~resnet_explain.experiments.degradation.CLAIMS`) in
    words, for the shallowest (``lo``) and deepest (``hi``) depth measured."""
    return {"degradation": f"plain-{hi} trains worse than plain-{lo} (degradation)",
            "residual_deeper": f"residual-{hi} trains at least as well as residual-{lo}",
            "residual_beats_plain": f"residual-{hi} trains better than plain-{hi}"}[kind]


# ---------------------------------------------------------------------------------------------
# The hypothesis
# ---------------------------------------------------------------------------------------------
def verdicts(hypothesis: list[dict], n_seeds: int) -> list[dict]:
    """``train.check_hypothesis`` output -> one dict per claim with a computed verdict in words.
    A claim resting on a network that never left chance is "not testable here", never "holds"."""
    out = []
    for h in hypothesis:
        a, b = h["a_train_error"] * 100, h["b_train_error"] * 100
        testable = h.get("testable", True)
        if not testable:
            stuck = h.get("untestable") or []
            verdict = (f"not testable here: {' and '.join(stuck)} never left chance"
                       if stuck else "not testable here")
        elif not h["holds"]:
            verdict = "does not hold"
        elif n_seeds > 1 and h["seed_ranges_overlap"]:
            verdict = "holds, but within the seed-to-seed spread"
        else:
            verdict = "holds"
        spread = ("" if n_seeds < 2 else
                  (" (seed ranges overlap)" if h["seed_ranges_overlap"] else " (seed ranges do not overlap)"))
        out.append({"claim": h["claim"], "holds": bool(h["holds"]) and testable,
                    "testable": bool(testable), "verdict": verdict,
                    "measured": f"{h['a']}: {a:.2f} % vs {h['b']}: {b:.2f} %{spread}"})
    return out


def hypothesis_sentence(vs: list[dict], expected: int = 3) -> str:
    """How many of He et al.'s claims the data support, counting only the claims they can test
    (a network missing, or one that never left chance, makes a claim not testable here)."""
    if not vs:
        return "Not enough finished runs to check any of the claims (it needs two depths of a kind)."
    testable = [v for v in vs if v.get("testable", True)]
    held = sum(v["holds"] for v in testable)
    missing, stuck = expected - len(vs), len(vs) - len(testable)
    why = ([f"{missing} could not be tested: a network is missing"] if missing > 0 else []) + (
        [f"{stuck} not testable here: {'it rests' if stuck == 1 else 'they rest'} on a network "
         "that never left chance"] if stuck else [])
    if not testable:
        s = f"None of the {len(vs)} claims is testable with these data"
        return s + (f" ({'; '.join(why)})." if why else ".")
    s = f"These data support **{held} of the {len(testable)}** claims they can test"
    return s + (f" ({'; '.join(why)})." if why else ".")


def verdict_line(v: dict) -> str:
    """One ``verdicts`` entry as a markdown line: mark, claim, verdict, the measured numbers."""
    icon = (":material/help:" if not v.get("testable", True) else
            ":material/check_circle:" if v["holds"] else ":material/cancel:")
    return f"{icon} *{v['claim']}* — **{v['verdict']}**: {v['measured']}."


def chance_warning(table: pd.DataFrame, chance: float) -> str | None:
    """Say which networks ended at or near chance: they have not learned at this budget."""
    from ..chance import NEAR_CHANCE
    from ..charts.training import near_chance  # the networks, found on the table

    names = near_chance(table, chance)
    if not names:
        return None
    return (f"Never left chance ({chance:.0%} error; less than {NEAR_CHANCE:.0%} of the way from "
            f"chance to no error) at the end: "
            f"{', '.join(names)}. A network there has barely learned at this budget — a stronger "
            "failure than He et al.'s plain-56, which trains, only worse than plain-20 (fig. 6). "
            "A claim resting on such a network is not testable here: it needs a budget (a longer run, "
            "a GPU) at which that network trains.")


# ---------------------------------------------------------------------------------------------
# Convergence in numbers (experiments.convergence)
# ---------------------------------------------------------------------------------------------
def reach_words(row: dict, threshold: float) -> str:
    """When one network (a :func:`~resnet_explain.experiments.convergence.convergence_table`
    row) reached ``threshold``: "after 1,560 steps (epoch 5)", the seed range, or "never"."""
    k, n = key(threshold), int(row["seeds"])
    got = int(row[f"{k}_reached"])
    if got == 0:
        return "never" + (f" (0 of {n} seeds)" if n > 1 else "")
    lo, hi = row[f"{k}_steps_min"], row[f"{k}_steps_max"]
    elo, ehi = int(row[f"{k}_epochs_min"]), int(row[f"{k}_epochs_max"])
    if lo == hi:
        s = f"after {lo:,.0f} steps (epoch {elo})"
    else:
        s = (f"after {row[f'{k}_steps_mean']:,.0f} steps (mean; {lo:,.0f}–{hi:,.0f} over the "
             f"seeds, epochs {elo}–{ehi})")
    return s + (f" in {got} of {n} seeds, never in the other{_s(n - got)}" if got < n else "")


def convergence_sentence(residual: dict, plain: dict, threshold: float) -> str:
    """One comparison of twins: when each reached ``threshold`` training error, and the mean
    training error over the run (the area under the curve / the steps), from the numbers."""
    r, p = net_label("residual", residual["depth"]), net_label("plain", plain["depth"])
    return (f"**{r}** reached {threshold:.0%} training error {reach_words(residual, threshold)}, "
            f"its plain twin **{p}** {reach_words(plain, threshold)}; mean training error over "
            f"the run (the area under the curve): {residual['auc_mean']:.1%} vs "
            f"{plain['auc_mean']:.1%}.")


def convergence_caption(thresholds, steps_per_epoch: int, resolution: str = "epoch",
                        window_steps: int | None = None) -> str:
    """What the convergence table's numbers are, at the resolution its runs' histories allow
    (a convergence table's ``attrs``: experiments.convergence)."""
    ts = " and ".join(f"{t:.0%}" for t in thresholds)
    spe = f"{steps_per_epoch:,} steps per epoch"
    window = (f"the end of the first window of {window_steps} steps whose running training error "
              f"is at or below it ({spe}; **resolution: {window_steps} steps**; a window's error "
              f"comes from its own {window_steps} mini-batches only, so a lucky window can cross a "
              "threshold a little early)")
    epoch = (f"the end of the first epoch whose running training error is at or below it ({spe}; "
             "**resolution: one epoch**, these runs were stored without a per-step curve)")
    how = {"step": window, "epoch": epoch,
           "mixed": (f"the end of the first window of {window_steps} steps at or below it where a "
                     f"run has a per-step curve, else of the first epoch ({spe}; **resolution: "
                     "mixed**)")}[resolution]
    return (f"Steps to {ts} training error: {how}, mean over the seeds that got there, their "
            "range in brackets; never: none got there. Area under the curve: the mean running "
            "training error over every step of the run (0 % = right from the first step, chance = "
            "never learned).")


# ---------------------------------------------------------------------------------------------
# What a budget is, in words (stored meta, the preset, a live run's plan and its result)
# ---------------------------------------------------------------------------------------------
def schedule_words(schedule: str, lr: float | None = None) -> str:
    """A learning-rate schedule's config name in words (train.config.lr_at is what it does)."""
    peak = "" if lr is None else f" {lr:g}"
    return {"onecycle": f"a one-cycle learning rate (a linear warm-up from a tenth of the peak{peak} over "
                        f"the first {percent(TrainConfig.warmup, 0)} of steps, then a linear decay to 0; Smith & Topin 2017, arXiv "
                        "1708.07120)",
            "step": f"a step learning rate ({lr or 'the peak'} divided by 10 at 50 % and 75 % of training, "
                    "as He et al. 2015, sec. 4.2)",
            "constant": f"a constant learning rate{peak}"}.get(schedule, f"the {schedule} schedule{peak}")


def stored_caption(meta: dict) -> str:
    """The stored experiment's budget and machine, from its results.json meta."""
    tc = meta["train_config"]
    return (f"**{meta['label']}** — {meta['note']}. {meta['n_train']:,} training / "
            f"{meta['n_test']:,} test images, {meta['size']}×{meta['size']} px, first-stage width "
            f"{meta['width']} (He et al.: 16), {meta['epochs']} epochs, batch {tc['batch_size']}, "
            f"{schedule_words(tc['schedule'], tc['lr'])}, seeds {', '.join(map(str, meta['seeds']))}. "
            f"Ran on {meta['detail']}, torch {meta['torch']}, in {meta['wall_seconds']:.0f} s "
            f"(`{meta['made_by']}`; see assets/degradation/README.md).")


def preset_caption(budget, seed: int) -> str:
    """The default live budget (a :class:`~resnet_explain.train.budgets.Budget`), run with the
    sidebar's one seed."""
    exp, tc, size = budget, budget.config, budget.data.size
    return (f"Default budget: the **`{exp.name}` preset** — {exp.label}: {exp.n_train:,} training / "
            f"{exp.n_test:,} test images, {size}×{size} px, first-stage width {exp.width}, "
            f"{tc.epochs} epochs, batch {tc.batch_size}, {schedule_words(tc.schedule, tc.lr)}, one seed, "
            f"{seed} from the sidebar, for the weights, the batch order and the data; {exp.note}.")


def plan_caption(n_nets: int, n_train: int, epochs: int, detail: str,
                 cpu_seconds: float | None = None) -> str:
    """What Start will train, and where; on a CPU with the rough time estimate."""
    s = (f"{n_nets} network{_s(n_nets)} × {n_train:,} images × {epochs} epochs on **{detail}**.")
    if cpu_seconds is not None:
        t = f"{cpu_seconds:.0f} s" if cpu_seconds >= 1 else "under 1 s"
        s += (f" Rough estimate on a CPU: {t} (at this server's speed timed once when it was "
              "idle; longer while others compute).")
    return s




def curves_caption(n_seeds: int, chance: float) -> str:
    """How to read the stored curves: lines, bands, the dotted chance level, which error."""
    return (f"Lines: mean over {n_seeds} seeds; bands: lowest to highest seed; dotted: chance "
            f"({chance:.0%} error, {1 / (1 - chance):.0f} classes). The per-epoch training error "
            "is the running error of each epoch's own mini-batches in train mode (as He et al.'s "
            "curves); the table's is measured afterwards in eval mode on the whole training set.")


def live_caption(meta: dict) -> str:
    """A finished live run's budget, machine and wall time, from its meta."""
    detail, threads = meta.get("detail", "?"), meta.get("threads")
    if isinstance(threads, int) and "thread" not in detail:  # a CPU's detail already counts them
        detail += f", {count(threads, 'CPU thread')}"
    s = (f"{meta['label']} with this budget: {meta['n_train']:,} training / {meta['n_test']:,} test "
         f"images, {meta['epochs']} epochs, seed {meta['seeds'][0]}, on {detail}, torch "
         f"{meta.get('torch', '?')}: {meta['wall_seconds']:.1f} s wall.")
    return s + (" Stopped early: only finished networks are in the table." if meta.get("stopped") else "")


# ---------------------------------------------------------------------------------------------
# A live run's progress
# ---------------------------------------------------------------------------------------------
class Progress(NamedTuple):
    label: str  # the status line
    state: str  # st.status state: "running", "complete" or "error"
    fraction: float  # of the planned epochs, 0..1
    text: str  # "done / planned epochs"


def live_progress(records: list[dict], planned: int, epochs: int, elapsed: float, *,
                  state: str, error: str | None = None, stopping: bool = False,
                  stopped: bool = False, finished: int = 0, abandoned: bool = False) -> Progress:
    """A live run's status from its epoch records (``run_degradation``'s ``progress``).

    ``planned``: epochs of the whole run; ``epochs``: per network; ``state``: queued, running or
    done; ``stopping``: Stop was pressed; ``stopped``: the run ended early (``abandoned``: because
    nobody watched); ``finished``: networks that completed."""
    done, total = len(records), max(1, int(planned))
    if error:
        label, st_ = f"Failed: {error}", "error"
    elif state == "done" and stopped:
        why = " (nobody was watching)" if abandoned else ""
        label, st_ = (f"Stopped{why} after {done} of {total} epochs, {elapsed:.0f} s: "
                      f"{finished} network{_s(finished)} finished"), "complete"
    elif state == "done":
        label, st_ = f"Finished: {finished} network{_s(finished)}, {done} epochs in {elapsed:.0f} s", "complete"
    elif stopping:
        label, st_ = "Stopping at the next training step…", "running"
    elif state == "queued":
        label, st_ = "Queued: waiting for the server…", "running"
    elif records:
        r = records[-1]
        label, st_ = (f"Training {net_label(r['arch'], r['depth'])} (network {r['run']} of "
                      f"{r['runs']}): epoch {r['epoch']} of {epochs} done · {elapsed:.0f} s"), "running"
    else:
        label, st_ = f"Training the first network… {elapsed:.0f} s", "running"
    return Progress(label, st_, min(1.0, done / total), f"{done} / {total} epochs")


def epoch_line(r: dict) -> str:
    """One epoch record in words."""
    return (f"{net_label(r['arch'], r['depth'])} epoch {r['epoch']}: training error "
            f"{r['train_error']:.1%}, test error {r['test_error']:.1%}, "
            f"{r['images_per_s']:.0f} images/s")
