"""Every sentence of the page "Train your network": numbers -> words.

Why a network cannot be trained here, what Start will do (the plan: load or train, the rough
time, the host's cap), the job's progress, the table's caption and the learning pace of the first
blocks. The numbers come from :mod:`resnet_explain.experiments.your_network`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import magnitude
from ..experiments.your_network import DATA_CHANNELS, DATA_CLASSES, remaining_seconds, untrainable
from ..magnitude import fmt_factor, fmt_ratio
from ..spec.block import block_label
from ..train.snapshots import learning_pace

if TYPE_CHECKING:
    from ..experiments.your_network import DepthOffer, PairResult, Plan, PlannedRun
    from ..spec import NetSpec
    from ..train.runs import Run

def why_untrainable(spec: NetSpec) -> str | None:
    """Why this network cannot be trained here, or None
    (:func:`~resnet_explain.experiments.your_network.untrainable`, in words)."""
    why = untrainable(spec)
    if why is None:
        return None
    if why == "family" and spec.family == "transformer":
        return ("This network is a **Transformer**. The runs here train image networks (**cnn**) on "
                "the generated shapes; Transformers train on the Python standard library's own text "
                "on the **Transformers** page (its \"Train the pair here\" section).")
    if why == "family":
        return (f"This network is of the **{spec.family}** family (fully connected layers on a flat "
                "vector). The runs here train image networks (**cnn**) on the generated shapes, "
                "so switch its family to cnn in the Network Builder to train it.")
    if why == "in_channels":
        return (f"This network expects {spec.in_channels}-channel images; the generated shapes "
                f"have {DATA_CHANNELS} (RGB). Set its input channels to {DATA_CHANNELS} in the "
                "Network Builder to train it.")
    return (f"This network has {spec.classes} outputs; the generated shapes have "
            f"{DATA_CLASSES} classes. Give it {DATA_CLASSES} classes in the Network Builder.")


def plan_caption(p: Plan) -> str:
    """What Start will do, per run: load (stored) or train, with the rough time."""
    parts = [f"{r.role} ({r.net}): " + ("stored, loads at once (0 s)" if r.stored else
                                        f"train, roughly {_secs(r.estimate)}") for r in p.runs]
    said = "; ".join(parts)
    size = p.budget.data.size
    s = (f"Budget **{p.budget.label}** (the network takes its {size}×{size} images: the only "
         f"change made to it). {said[:1].upper()}{said[1:]}.")
    if not p.to_train:
        return s + " Nothing to train: both are shown below."
    return s + (f" Together roughly {_secs(p.estimate)}, at this server's speed timed once when it "
                "was idle (longer while others compute).")


def progress_line(p: Plan, records: list[dict], elapsed: float, *, state: str,
                  error: str | None = None, stopping: bool = False,
                  result: PairResult | None = None, abandoned: bool = False) -> tuple[str, str, float, str]:
    """(label, st.status state, fraction done, text) of the pair's job from its epoch records."""
    done, total = len(records), max(1, p.planned_epochs)
    frac, text = min(1.0, done / total), f"{done} / {p.planned_epochs} epochs"
    if error:
        return f"Failed: {error}", "error", frac, text
    if state == "done" and (result is None or result.stopped is not None):  # None: never began
        who = result.stopped if result is not None else (p.to_train or list(p.runs))[0]
        why = " (nobody was watching)" if abandoned else ""
        return (f"Stopped{why} after {done} of {p.planned_epochs} epochs, {elapsed:.0f} s: "
                f"{who.net} ({who.role}) was not stored"), "complete", frac, text
    if state == "done":
        n = sum(1 for _, _, loaded in result.runs if not loaded)
        return (f"Finished: {n} trained, {len(result.runs) - n} loaded, in {elapsed:.0f} s",
                "complete", 1.0, text)
    if stopping:
        return "Stopping at the next training step…", "running", frac, text
    if state == "queued":
        return "Queued: waiting for the server…", "running", frac, text
    left_s = remaining_seconds(p, records, elapsed)
    left = (f"about {_secs(left_s)} left" if records or left_s > 0 else
            f"past the rough estimate of {_secs(p.estimate)}: the first epoch will tell")
    if records:
        r = records[-1]
        epochs = p.runs[r["run"] - 1].request.config.epochs
        return (f"Training {r['net']} ({r['role']}): epoch {r['epoch']} of {epochs} done · "
                f"{elapsed:.0f} s · {left}"), "running", frac, text
    first = p.to_train[0] if p.to_train else p.runs[0]
    return f"Training {first.net} ({first.role})… {elapsed:.0f} s · {left}", "running", frac, text


def epoch_line(r: dict) -> str:
    return (f"{r['net']} ({r['role']}) epoch {r['epoch']}: training error {r['train_error']:.1%}, "
            f"test error {r['test_error']:.1%}, {r['seconds']:.1f} s")


TABLE_CAPTION = ("Training error: eval mode on the whole training set after the last epoch; test "
                 "error: the run's test split after the last epoch; seconds: the run's training "
                 "time where it was trained (from its stored meta). The curves' training error is "
                 "the running error of each epoch's mini-batches in train mode.")


def pace_sentence(pace, name: str = "plain") -> str:
    """A :class:`~resnet_explain.train.snapshots.LearningPace` in words, with its numbers."""
    def fmt(v: float) -> str:
        return fmt_ratio(v, 2, zero="0")

    said = (f"In the {name} net the first block ({block_label(pace.first_block)}) changes its weights by a median "
            f"{fmt(pace.first)} of their size per step (‖ΔW‖/‖W‖ over {pace.snapshots} snapshots), the "
            f"last block ({block_label(pace.last_block)}) by {fmt(pace.last)}: ")
    r = pace.ratio
    inv = fmt_factor(1 / r) if r else "∞"
    verdict = {
        magnitude.NO_GRADIENT_BAND: "the last block did not move at all, so there is no pace to compare with.",
        magnitude.UNDERFLOW_BAND: "the first block's weights did not change at all: it does not learn.",
        magnitude.NOT_FINITE_BAND: "an update ratio is NaN or Inf, so the pace cannot be compared.",
        "vanishes": f"the first block learns {inv}× slower than the last, hardly at all.",
        "shrinks": f"the first block learns {inv}× slower than the last.",
        "about the same": f"both learn at about the same pace ({fmt_ratio(r, 3)}×, within 2×).",
        "grows": f"the first block moves {fmt_factor(r)}× faster than the last.",
        "explodes": f"the first block moves {fmt_factor(r)}× faster than the last: its updates explode.",
    }[pace.band]
    return said + verdict


def pace_sentences(pair: list[tuple[PlannedRun, Run]]) -> list[str]:
    """Per run (plain first), :func:`~resnet_explain.train.snapshots.learning_pace`: does its
    first block learn, next to its last? Then the two first blocks side by side, measured."""
    out, first = [], {}
    for r, run in sorted(pair, key=lambda t: t[0].arch != "plain"):
        pace = learning_pace(run.grads)
        if pace is None:
            out.append(f"The {r.arch} net ({r.role}) has no gradient snapshots stored, so its "
                       "pace cannot be read.")
            continue
        out.append(pace_sentence(pace, r.arch))
        first[r.arch] = pace.first
    p, q = first.get("plain"), first.get("residual")
    if p is not None and q is not None:
        s = (f"First blocks side by side (median ‖ΔW‖/‖W‖ per step): plain {fmt_ratio(p, 2)}, "
             f"residual {fmt_ratio(q, 2)}")
        if p > 0 and q > 0 and math.isfinite(p) and math.isfinite(q):
            more, less, x = ("plain", "residual", p / q) if p >= q else ("residual", "plain", q / p)
            s += f": the {more} net's first block moves {fmt_factor(x)}× as much as the {less} net's"
        out.append(s + ".")
    return out


def depth_offer(o: DepthOffer) -> str:
    """Which of He et al.'s depths this host trains within its cap under the budget, which need a
    GPU, with the rough time of each pair."""
    def nets(ds):
        names = [f"{d}" for d in ds]
        return "ResNet-" + (", -".join(names[:-1]) + " and -" + names[-1] if names[1:] else names[0])

    if o.cap is None:
        return (f"No time limit on this host: every depth of He et al.'s fig. 6 "
                f"({nets(list(o.seconds))}) and its plain twin can be trained here.")
    times = ", ".join(f"{d} layers {_secs(o.seconds[d])}" for d in o.seconds)
    s = (f"He et al.'s CIFAR nets (width 16) and their plain twins under this budget, roughly: "
         f"{times} a pair. ")
    if o.fits:
        s += f"This host trains {nets(o.fits)} within its limit of {_secs(o.cap)}"
        s += f"; {nets(o.need_gpu)} need a GPU." if o.need_gpu else "."
    else:
        s += (f"None fits this host's limit of {_secs(o.cap)}: every depth needs a GPU "
              "(or the quick budget).")
    return s


def _secs(s: float) -> str:
    return "under 1 s" if s < 1 else (f"{s:.0f} s" if s < 180 else f"{s / 60:.1f} min")
