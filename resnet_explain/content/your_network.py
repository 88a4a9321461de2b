"""Every sentence of the page "Train your network": numbers -> words.

Why a network cannot be trained here, what Start will do (the plan: load or train, the rough
time, the host's cap), the job's progress, the table's caption and the learning pace of the first
blocks. The numbers come from :mod:`resnet_explain.experiments.your_network`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import magnitude
from ..chance import NEAR_REFERENCE_NATS
from ..data.text import VOCAB
from ..experiments.your_network import DATA_CHANNELS, DATA_CLASSES, remaining_seconds, untrainable
from ..magnitude import fmt_factor, fmt_ratio
from ..spec.block import block_label
from ..train.estimate import lm_steps
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
    if why == "vocab":
        return (f"This Transformer reads {spec.vocab} symbols; it trains here on bytes of the Python "
                f"standard library's own source, {VOCAB} symbols. Set its vocabulary to {VOCAB} in "
                "the Network Builder to train it.")
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
    d = p.runs[0].request.data
    fits = (f"windows of {d.context} bytes, as long as the network's context" if p.language else
            f"the network takes its {d.size}×{d.size} images: the only change made to it")
    s = f"Budget **{p.budget.label}** ({fits}). {said[:1].upper()}{said[1:]}."
    if not p.to_train:
        return s + " Nothing to train: both are shown below."
    return s + (f" Together roughly {_secs(p.estimate)}, at this server's speed timed once when it "
                "was idle (longer while others compute).")


def progress_line(p: Plan, records: list[dict], elapsed: float, *, state: str,
                  error: str | None = None, stopping: bool = False,
                  result: PairResult | None = None, abandoned: bool = False) -> tuple[str, str, float, str]:
    """(label, st.status state, fraction done, text) of the pair's job from its epoch records."""
    done, total = len(records), max(1, p.planned_epochs)
    unit = "loss readings" if p.language else "epochs"  # a language model reports every eval_every steps
    frac, text = min(1.0, done / total), f"{done} / {p.planned_epochs} {unit}"
    if error:
        return f"Failed: {error}", "error", frac, text
    if state == "done" and (result is None or result.stopped is not None):  # None: never began
        who = result.stopped if result is not None else (p.to_train or list(p.runs))[0]
        why = " (nobody was watching)" if abandoned else ""
        return (f"Stopped{why} after {done} of {p.planned_epochs} {unit}, {elapsed:.0f} s: "
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
        if "epoch" in r:
            at = f"epoch {r['epoch']} of {p.runs[r['run'] - 1].request.config.epochs}"
        else:
            at = f"step {r['step']} of {lm_steps(p.runs[r['run'] - 1].request)}"
        return (f"Training {r['net']} ({r['role']}): {at} done · "
                f"{elapsed:.0f} s · {left}"), "running", frac, text
    first = p.to_train[0] if p.to_train else p.runs[0]
    return f"Training {first.net} ({first.role})… {elapsed:.0f} s · {left}", "running", frac, text


def epoch_line(r: dict) -> str:
    """One progress record: an image network's epoch, a language model's row of steps."""
    if "epoch" not in r:
        return (f"{r['net']} ({r['role']}) step {r['step']}: training loss {r['train_loss']:.3f}, "
                f"validation loss {r['val_loss']:.3f} nats per byte, {r['seconds']:.1f} s")
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


LM_TABLE_CAPTION = ("Losses in nats per byte, eval mode after the last step: training loss on the first "
                    "256 training windows, validation loss on the whole validation split. *Below byte "
                    "frequencies*: how far the validation loss is under the byte-frequency loss (a model "
                    "that knows only how often each byte occurs; ln 256 = 5.545 is a uniform guess). "
                    "Seconds: the run's training time where it was trained (its stored meta).")


def lm_pair_sentences(f: dict) -> list[str]:
    """What the Transformer pair's final validation losses say, against the byte-frequency loss
    (``f``: :func:`~resnet_explain.experiments.your_lm.lm_findings`): each side in numbers, then the
    comparison the one fair-pair rule allows (:func:`resnet_explain.chance.unfair_lm_sides`)."""
    ref, sides = f["reference"], f["sides"]
    out = []
    for role, d in sides.items():
        if d["diverged"] or not math.isfinite(d["val_loss"]):
            out.append(f"**{d['net']}** ({role}) diverged: its loss stopped being finite.")
            continue
        where = (f"**{d['gain']:.3f} below**" if d["gain"] > 0 else f"{-d['gain']:.3f} above")
        said = (f"**{d['net']}** ({role}) ended at **{d['val_loss']:.3f}** nats per byte on the "
                f"validation windows, {where} the byte-frequency loss {ref:.3f}")
        if d["flag"] == "near chance" and d["gain"] > -NEAR_REFERENCE_NATS:
            said += ((f": less than {NEAR_REFERENCE_NATS} nats below it" if d["gain"] > 0 else "") +
                     f", so in {f['steps']} steps it learnt how often each byte occurs and no context")
        elif d["flag"] == "near chance":
            said += f": in {f['steps']} steps it did not even learn how often each byte occurs"
        out.append(said + ".")
    stuck = [r for r, d in sides.items() if d["flag"] == "near chance"]
    if len(stuck) == len(sides):
        out.append("Neither network learnt context at this budget, so there is no comparison to "
                   "draw: the skips' effect is not testable here (a longer budget is; the full one "
                   "is for a GPU).")
    elif stuck:
        ok = next(r for r in sides if r not in stuck)
        out.append(f"Same weights at the start, same bytes, same steps: only the skips differ, and "
                   f"only {sides[ok]['net']} ({ok}) got past byte frequencies in this budget. Whether "
                   f"{sides[stuck[0]]['net']} would with more steps is not tested here.")
    else:
        (a, da), (b, db) = sorted(sides.items(), key=lambda t: t[1]["val_loss"])
        gap = db["val_loss"] - da["val_loss"]
        out.append(f"Both learnt context; {da['net']} ({a}) ended {gap:.3f} nats per byte lower"
                   + (f", less than {NEAR_REFERENCE_NATS}: about the same." if gap < NEAR_REFERENCE_NATS
                      else "." if not db["flag"] else
                      f", and {db['net']} got less than half as far below the byte-frequency loss "
                      "(a pair this far apart compares how much was learnt, not how)."))
    return out


LM_NOTE = (" A **Transformer**: it and its twin (every skip off, the same weights at the start) learn to "
           "predict the next byte of the Python standard library's own source (data/text.py; the "
           "corpus's SHA-256 is part of each run's id), with AdamW, a linear warm-up and cosine decay "
           "(train/lm_trainer.py).")
LM_NO_SNAPSHOTS = ("Gradient snapshots during training are recorded for image networks only. A "
                   "Transformer's gradient at initialisation, per sublayer: the **Gradient Flow** page; "
                   "pre-LN vs post-LN over a learning-rate × warm-up grid: the **Transformers** page.")


def look_inside(language: bool) -> list[tuple[str, str]]:
    """The pages that take the trained pair next: (page file, link label)."""
    lesion = ("app_pages/lesion.py", "Lesion Study: delete a layer of your network" if language
              else "Lesion Study: delete a block of your network")
    if language:  # the Attribution Lab reads images
        return [lesion]
    return [("app_pages/attribution.py", "Attribution Lab: your network vs its twin"), lesion]


def budget_help(budgets: dict, language: bool) -> str:
    """The budget control's help: what each of the page's budgets trains, for this family."""
    if not language:
        return "quick: minutes on a CPU; full: He et al.'s 32×32 images, for a GPU."
    return "; ".join(f"{n}: {b.config.max_steps:,} AdamW steps of {b.config.batch_size} windows"
                     for n, b in budgets.items()) + (" (quick: the default pair in about 42 s of one CPU "
                                                     "core, scripts/bench_lm_pair.py; full: for a GPU).")
