"""The goal-vs-measured table of scripts/gpu_check.sh, from its log.

The benchmarks print one ``RESULT {json}`` line per figure and gpu_check.sh one
``PART name rc seconds`` line per part (rc 124: its time limit ran out); this reads them back and
prints one table: each goal of issue #23, what was measured, and whether it is met.

    python scripts/gpu_table.py --log "$OUT/log.txt" --results "$OUT/assets/degradation-gpu/results.json"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_log(text: str) -> tuple[list[dict], dict[str, tuple[int, float]]]:
    """(RESULT records, {part: (rc, seconds)})."""
    results, parts = [], {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            try:
                results.append(json.loads(line[len("RESULT "):]))
            except json.JSONDecodeError:
                continue
        elif line.startswith("PART "):
            bits = line.split()
            if len(bits) == 4:
                parts[bits[1]] = (int(bits[2]), float(bits[3]))
    return results, parts


def _status(parts, name) -> str:
    if name not in parts:
        return "not run"
    rc, s = parts[name]
    return f"ok, {s:.0f} s" if rc == 0 else ("timed out" if rc in (124, 137) else f"failed rc {rc}") + f" after {s:.0f} s"


def rows(results: list[dict], parts: dict, experiment: dict | None) -> list[tuple[str, str, str, str]]:
    """(figure, goal, measured, verdict) rows."""
    out = []

    def add(figure, goal, measured, ok):
        out.append((figure, goal, measured, "-" if ok is None else ("met" if ok else "NOT met")))

    train = [r for r in results if r["part"] == "train"]
    for depth in sorted({r["depth"] for r in train}):
        for batch in sorted({r["batch"] for r in train if r["depth"] == depth}):
            got = [r for r in train if r["depth"] == depth and r["batch"] == batch]
            best = max(got, key=lambda r: r["images_per_s"])
            each = ", ".join(f"{r['compile'] or 'eager'} {r['images_per_s']:,.0f}" for r in got)
            goal = {128: 40_000, 512: 100_000}.get(batch) if depth == 20 else None
            add(f"train ResNet-{depth} batch {batch} (images/s)",
                f">= {goal:,}" if goal else "(record)", each, None if goal is None else best["images_per_s"] >= goal)
    for r in (r for r in results if r["part"] == "many"):
        alone = f"one at a time ({r['compile']})" if r["compile"] else "one at a time"
        add(f"many: {r['seeds']} seeds of ResNet-{r['depth']}, {alone} / together",
            "> 1x", f"{r['one_s']:.1f} s / {r['many_s']:.1f} s = {r['ratio']:.2f}x", r["ratio"] > 1)
    for r in (r for r in results if r["part"] == "runner"):
        est = "extrapolated" if r.get("alone_extrapolated") else "measured"
        add(f"runner: {r['budget']} depths {'/'.join(map(str, r['depths']))} x 2 x {r['seeds']} seeds, "
            f"{r['epochs']} epochs, {r['n_train']:,} images (wall)", "<= 90 s",
            f"{r['runner_s']:.1f} s; one at a time {r['alone_s']:.0f} s ({est}) = {r['ratio']:.2f}x; "
            f"{r['graphed']} of {r['networks']} graphed", r["runner_s"] <= 90 if r["device"] == "cuda" else None)
    for r in (r for r in results if r["part"] == "runner_variant"):
        add(f"runner variant {r['variant']}, {r['epochs']} epoch(s) (s)", "(record)",
            f"{r['runner_s']:.1f} s; one at a time / it = {r['ratio']:.2f}x", None)
    for r in (r for r in results if r["part"] == "probe"):
        add(f"probe / bare {r['model']} ({r['device']}, batch {r['batch']})", "<= 1.15x",
            f"{r['probe_ms']:.1f} / {r['bare_ms']:.1f} ms = {r['ratio']:.2f}x", r["ratio"] <= 1.15)
    for r in (r for r in results if r["part"] == "probe_profile"):  # issue #23: 9 syncs vs 1, H200
        add(f"probe profile {r['model']} ({r['device']}, batch {r['batch']}): syncs, aten ops, host ms",
            "(record)", f"syncs {r['probe_syncs']} vs bare {r['bare_syncs']}; ops {r['probe_ops']} vs "
            f"{r['bare_ops']}; host {r['probe_host_ms']:.1f} vs {r['bare_host_ms']:.1f} ms", None)
    for r in (r for r in results if r["part"] == "landscape"):
        add(f"landscape {r['grid']}x{r['grid']} depth {r['depth']}, {r['images']} images (wall s)",
            "<= 15 s", f"{r['script_seconds']:.1f} s ({r['seconds']:.1f} s evaluating)", r["script_seconds"] <= 15)
    if experiment is not None:
        m = experiment.get("meta", {})
        wall = parts.get("experiment", (0, float("nan")))[1]
        add(f"experiment {m.get('experiment')} ({m.get('device', '?')}, depths {m.get('depths')}, "
            f"seeds {m.get('seeds')}) wall", "<= 90 s", f"{wall:.0f} s", wall <= 90)
    for name in ("env", "runner", "train", "compile", "probe", "landscape", "experiment"):
        add(f"part {name}", "ok", _status(parts, name), None)
    return out


def render(table: list[tuple[str, str, str, str]]) -> str:
    head = ("figure", "goal", "measured", "verdict")
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, table)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--results", default=None, help="the experiment's results.json, if written")
    ap.add_argument("--out", default=None, help="also write the table here")
    a = ap.parse_args(argv)
    results, parts = read_log(Path(a.log).read_text(errors="replace"))
    exp = None
    if a.results and Path(a.results).exists():
        exp = json.loads(Path(a.results).read_text())
    text = render(rows(results, parts, exp))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
