"""Cold start: server launch -> first chart visible in headless Chromium, for the app against a
trivial Streamlit page that imports torch and draws one tiny chart, in the same run.

Each launch is a fresh ``streamlit run`` process (empty caches) on a free port; the clock starts
just before the process is spawned and stops when the first ``stVegaLiteChart`` has drawn its
canvas or SVG. The two targets alternate (app, trivial, app, trivial, ...) so load from anything
else on the machine falls on both; medians are compared. One untimed launch of each primes the
OS file cache and Python's bytecode cache first.

    python scripts/bench_cold_start.py [--repeats 3] [--path /gradient-flow]

Goal (issue 14): app / trivial <= 1.2.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CHART = "[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg"
TRIVIAL = """import pandas as pd
import streamlit as st
import torch

st.line_chart(pd.DataFrame({"y": torch.arange(5.0).tolist()}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(script: Path, port: int, env: dict | None = None, log=subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``streamlit run script`` and return once /_stcore/health answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=script.parent, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError("streamlit did not start in 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def launch_to_chart(browser, script: Path, path: str, env: dict | None = None) -> tuple[float, float]:
    """(seconds to a healthy server, seconds to the first chart), both from the process launch."""
    port = free_port()
    t0 = time.perf_counter()
    proc = serve(script, port, env)
    up = time.perf_counter() - t0
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(f"http://127.0.0.1:{port}{path}", timeout=180_000)
        page.wait_for_selector(CHART, state="visible", timeout=180_000)
        return up, time.perf_counter() - t0
    finally:
        page.close()
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed launches of each (interleaved)")
    ap.add_argument("--path", default="/gradient-flow", help="the app page whose first chart counts")
    ap.add_argument("--no-prime", action="store_true", help="skip the untimed first launch of each")
    ap.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                    help="another checkout whose app.py to time in the same run (e.g. the code before "
                         "a change: git archive HEAD | tar -x -C DIR)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    trivial = Path(tempfile.mkdtemp(prefix="bench_cold_")) / "trivial.py"
    trivial.write_text(TRIVIAL)
    targets = {"app": (ROOT / "app.py", a.path), "trivial": (trivial, "/")}
    for d in a.also:
        targets[f"app@{d}"] = (d.resolve() / "app.py", a.path)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in targets}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        if not a.no_prime:
            for script, path in targets.values():
                launch_to_chart(browser, script, path)
        for i in range(a.repeats):
            for name, (script, path) in targets.items():
                up, chart = launch_to_chart(browser, script, path)
                times[name].append((up, chart))
                print(f"  run {i + 1} {name:<12} server up {up:6.2f} s, first chart {chart:6.2f} s",
                      flush=True)
        browser.close()
    med = {k: (statistics.median(u for u, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}
    print(f"Cold start, server launch -> first chart in headless Chromium (median of {a.repeats}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}):")
    base = med["trivial"][1]
    for name, (up, chart) in med.items():
        label = "trivial page (torch)" if name == "trivial" else f"{name} {a.path}"
        print(f"  {label:<40} server up {up:6.2f} s, first chart {chart:6.2f} s, "
              f"ratio {chart / base:.2f}x")
    print(f"  ratio app / trivial: {med['app'][1] / base:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
