"""Pure functions for the Training page: tidy DataFrame -> alt.Chart / display table / the
sentences that say what the numbers are. No streamlit, no torch.

Same conventions as every chart (:mod:`resnet_explain.charts.axes`): long-form data with typed encodings, the
variant colours (plain red, residual blue), rows that have no value (a block that cannot be
deleted) keep their place and are marked, never dropped.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import altair as alt
import numpy as np
import pandas as pd

from .axes import VARIANT_COLORS, W, legend

METRICS = {"train_error": "training error", "test_error": "test error"}
HE_2015 = "He et al. 2015, arXiv 1512.03385, sec. 4.2, fig. 6 and table 6"
VEIT_2016 = "Veit et al. 2016, arXiv 1605.06431, sec. 4"


def net_label(arch: str, depth: int) -> str:
    return f"{arch}-{int(depth)}"


# ---------------------------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------------------------
CURVE_COLUMNS = ["net", "arch", "depth", "epoch", "metric", "mean", "lo", "hi", "seeds", "error_pct"]


def curves_long(curves: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch curves (arch, depth, seed, epoch, train_error, test_error; one row per epoch per
    run) -> long form: per net, epoch and metric the mean over seeds and the min-max spread, in
    percent. ``seeds`` counts the runs that reached that epoch."""
    rows = []
    if curves is None or len(curves) == 0:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    for (arch, depth, epoch), g in curves.groupby(["arch", "depth", "epoch"], sort=True):
        for col, name in METRICS.items():
            v = g[col].to_numpy(dtype=float) * 100.0
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            rows.append({"net": net_label(arch, depth), "arch": arch, "depth": int(depth),
                         "epoch": int(epoch), "metric": name, "mean": float(v.mean()),
                         "lo": float(v.min()), "hi": float(v.max()), "seeds": int(len(v)),
                         "error_pct": float(v.mean())})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def _depth_dash(depths) -> alt.Scale:
    """Shallowest net solid, deeper ones increasingly dashed."""
    dashes = [[1, 0], [8, 4], [3, 3], [12, 3, 2, 3], [2, 6], [16, 6]]
    ds = sorted({int(d) for d in depths})
    return alt.Scale(domain=[str(d) for d in ds], range=[dashes[i % len(dashes)] for i in range(len(ds))])


def error_curves_chart(long: pd.DataFrame, metric: str = "training error", chance: float | None = None,
                       height: int = 300, title: str | None = None) -> alt.Chart:
    """Error (%) per epoch, one line per net (colour = plain/residual, dash = depth), mean over
    seeds with the min-max band where there are 2+ seeds; optional dotted chance level."""
    d = long[long["metric"] == metric].copy()
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1))
    y_scale = alt.Scale(domain=[0, 100])
    # One legend: colour = plain/residual, dash = depth, both keyed by the net's name.
    nets = (d[["arch", "depth", "net"]].drop_duplicates().sort_values(["arch", "depth"])
            if len(d) else pd.DataFrame(columns=["arch", "depth", "net"]))
    arch_col = dict(zip(VARIANT_COLORS.domain, VARIANT_COLORS.range))
    dd = _depth_dash(nets["depth"]) if len(nets) else None
    dash_of = dict(zip(dd.domain, dd.range)) if dd is not None else {}
    net_color = alt.Scale(domain=list(nets["net"]),
                          range=[arch_col.get(a, "#555") for a in nets["arch"]])
    net_dash = alt.Scale(domain=list(nets["net"]),
                         range=[dash_of.get(str(int(dep)), [1, 0]) for dep in nets["depth"]])
    color = alt.Color("net:N", scale=net_color, title=None,
                      legend=legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300,
                                        symbolOpacity=1))
    dash = alt.StrokeDash("net:N", scale=net_dash, title=None)
    tooltip = [alt.Tooltip("net:N"), alt.Tooltip("epoch:Q"),
               alt.Tooltip("mean:Q", title=f"{metric} (%)", format=".2f"),
               alt.Tooltip("lo:Q", title="lowest seed (%)", format=".2f"),
               alt.Tooltip("hi:Q", title="highest seed (%)", format=".2f"),
               alt.Tooltip("seeds:Q", title="seeds")]
    layers = []
    if chance is not None:  # dotted: the error of guessing (drawn first, under the curves)
        c = pd.DataFrame({"y": [chance * 100.0], "what": [f"chance: {chance:.0%} error"]})
        layers.append(alt.Chart(c).mark_rule(strokeDash=[2, 3], color="#777").encode(
            y="y:Q", tooltip=[alt.Tooltip("what:N", title="dotted line")]))
    spread = d[d["seeds"] > 1]
    if len(spread):
        layers.append(alt.Chart(spread).mark_area(opacity=0.15).encode(
            x=x, y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q",
            color=color, detail="net:N"))
    layers.append(alt.Chart(d).mark_line(strokeWidth=2.5).encode(
        x=x, y=alt.Y("mean:Q", title=f"{metric} (%)", scale=y_scale), color=color, strokeDash=dash,
        detail="net:N", tooltip=tooltip))
    layers.append(alt.Chart(d).mark_point(filled=True, size=30).encode(
        x=x, y="mean:Q", color=color,
        tooltip=tooltip))
    chart = alt.layer(*layers).properties(height=height, width=W)
    return chart.properties(title=title) if title else chart


# ---------------------------------------------------------------------------------------------
# The final table and the hypothesis
# ---------------------------------------------------------------------------------------------
def _pm(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "—"
    if n > 1:
        return f"{mean * 100:.2f} ± {std * 100:.2f}"
    return f"{mean * 100:.2f}"


def he_table(table: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """``train.summarise`` output -> a table shaped like He et al.'s: architecture, depth,
    training error and test error in % (mean ± std over seeds), seeds, parameters."""
    rows = []
    for r in table.to_dict("records"):
        n = len(r.get("seeds") or [])
        row = {} if source is None else {"source": source}
        row.update({"architecture": r["arch"], "depth": int(r["depth"]),
                    "training error (%)": _pm(r["train_error"], r["train_error_std"], n),
                    "test error (%)": _pm(r["test_error"], r["test_error_std"], n),
                    "seeds": n, "parameters": f"{int(r['params']):,}"})
        rows.append(row)
    cols = (["source"] if source is not None else []) + [
        "architecture", "depth", "training error (%)", "test error (%)", "seeds", "parameters"]
    return pd.DataFrame(rows, columns=cols)


def verdicts(hypothesis: list[dict], n_seeds: int) -> list[dict]:
    """``train.check_hypothesis`` output -> one dict per claim with a computed verdict in words."""
    out = []
    for h in hypothesis:
        a, b = h["a_train_error"] * 100, h["b_train_error"] * 100
        if not h["holds"]:
            verdict = "does not hold"
        elif n_seeds > 1 and h["seed_ranges_overlap"]:
            verdict = "holds, but within the seed-to-seed spread"
        else:
            verdict = "holds"
        spread = ("" if n_seeds < 2 else
                  (" (seed ranges overlap)" if h["seed_ranges_overlap"] else " (seed ranges do not overlap)"))
        out.append({"claim": h["claim"], "holds": bool(h["holds"]), "verdict": verdict,
                    "measured": f"{h['a']}: {a:.2f} % vs {h['b']}: {b:.2f} %{spread}"})
    return out


def hypothesis_sentence(vs: list[dict], expected: int = 3) -> str:
    """How many of He et al.'s claims the data support, in words."""
    if not vs:
        return "Not enough finished runs to check any of the claims (it needs two depths of a kind)."
    held = sum(v["holds"] for v in vs)
    missing = expected - len(vs)
    s = f"These data support **{held} of the {len(vs)}** claims they can test"
    s += f" ({missing} could not be tested: a network is missing)." if missing > 0 else "."
    return s


def verdict_line(v: dict) -> str:
    """One ``verdicts`` entry as a markdown line: mark, claim, verdict, the measured numbers."""
    icon = ":material/check_circle:" if v["holds"] else ":material/cancel:"
    return f"{icon} *{v['claim']}* — **{v['verdict']}**: {v['measured']}."


def near_chance(table: pd.DataFrame, chance: float) -> list[str]:
    """The networks whose final training error says they never left chance (``chance`` is the
    error of guessing): the one rule, :func:`resnet_explain.chance.near_chance`."""
    from ..chance import near_chance as barely_learned

    if not len(table):
        return []
    return [net_label(a, d) for a, d, e in zip(table["arch"], table["depth"], table["train_error"])
            if barely_learned(1.0 - float(e), 1.0 - chance)]


def chance_warning(table: pd.DataFrame, chance: float) -> str | None:
    """Say which networks ended at or near chance: they have not learned at this budget."""
    from ..chance import NEAR_CHANCE

    names = near_chance(table, chance)
    if not names:
        return None
    return (f"Never left chance ({chance:.0%} error; less than {NEAR_CHANCE:.0%} of the way from "
            f"chance to no error) at the end: "
            f"{', '.join(names)}. A network there has barely learned at this budget — a stronger "
            "failure than He et al.'s plain-56, which trains, only worse than plain-20 (fig. 6). "
            "A claim comparing two such networks says nothing.")


def he_tables(parts: list[tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """Several ``summarise`` tables, each labelled with its source, in one He-shaped table."""
    frames = [he_table(t, source) for t, source in parts]
    return pd.concat(frames, ignore_index=True) if frames else he_table(pd.DataFrame(), "")


# ---------------------------------------------------------------------------------------------
# What a budget is, in words (stored meta, the preset, a live run's plan and its result)
# ---------------------------------------------------------------------------------------------
def _s(n: int) -> str:
    return "" if n == 1 else "s"


def stored_caption(meta: dict) -> str:
    """The stored experiment's budget and machine, from its results.json meta."""
    tc = meta["train_config"]
    return (f"**{meta['label']}** — {meta['note']}. {meta['n_train']:,} training / "
            f"{meta['n_test']:,} test images, {meta['size']}×{meta['size']} px, first-stage width "
            f"{meta['width']} (He et al.: 16), {meta['epochs']} epochs, batch {tc['batch_size']}, "
            f"{tc['schedule']} lr (peak {tc['lr']}), seeds {', '.join(map(str, meta['seeds']))}. "
            f"Ran on {meta['detail']} ({meta['torch']}) in {meta['wall_seconds']:.0f} s "
            f"(`{meta['made_by']}`; see assets/degradation/README.md).")


def preset_caption(exp, seed: int) -> str:
    """The default live budget (an ``Experiment``), run with the sidebar's one seed."""
    tc = exp.train
    return (f"Default budget: the **`{exp.name}` preset** — {exp.label}: {exp.n_train:,} training / "
            f"{exp.n_test:,} test images, {exp.size}×{exp.size} px, first-stage width {exp.width}, "
            f"{tc.epochs} epochs, batch {tc.batch_size}, {tc.schedule} lr (peak {tc.lr}), one seed "
            f"(the sidebar's: {seed}, for the weights, the batch order and the data); {exp.note}.")


def plan_caption(n_nets: int, n_train: int, epochs: int, detail: str,
                 cpu_seconds: float | None = None) -> str:
    """What Start will train, and where; on a CPU with the rough time estimate."""
    s = (f"{n_nets} network{_s(n_nets)} × {n_train:,} images × {epochs} epochs on **{detail}**.")
    if cpu_seconds is not None:
        t = f"{cpu_seconds:.0f} s" if cpu_seconds >= 1 else "under 1 s"
        s += (f" Rough estimate on a CPU: {t} (at the speed of a few real training steps of "
              "each depth, timed here just now).")
    return s


def too_long(seconds: float, limit: float) -> str:
    """The refusal of a live budget whose estimate is over the page's limit."""
    return (f"this budget would take roughly {seconds:.0f} s on a CPU, over this page's limit of "
            f"{limit:.0f} s: use fewer images, epochs or depths")


def curves_caption(n_seeds: int, chance: float) -> str:
    """How to read the stored curves: lines, bands, the dotted chance level, which error."""
    return (f"Lines: mean over {n_seeds} seeds; bands: lowest to highest seed; dotted: chance "
            f"({chance:.0%} error, {1 / (1 - chance):.0f} classes). The per-epoch training error "
            "is the running error of each epoch's own mini-batches in train mode (as He et al.'s "
            "curves); the table's is measured afterwards in eval mode on the whole training set.")


def live_caption(meta: dict) -> str:
    """A finished live run's budget, machine and wall time, from its meta."""
    s = (f"{meta['label']} with this budget: {meta['n_train']:,} training / {meta['n_test']:,} test "
         f"images, {meta['epochs']} epochs, seed {meta['seeds'][0]}, on {meta.get('detail', '?')} "
         f"(torch {meta.get('torch', '?')}, {meta.get('threads', '?')} threads): "
         f"{meta['wall_seconds']:.1f} s wall.")
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
