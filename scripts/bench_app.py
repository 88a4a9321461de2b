"""Benchmark the app: server time from a toggle to the new chart, and cold start in Chromium.

Server time is measured with Streamlit's AppTest (the script run on the server, no browser), as a
ratio against a baseline in the same process: the same page re-run with nothing changed.
Cold start is measured in headless Debian Chromium: a fresh server until the first chart is drawn,
against a trivial Streamlit page that only imports torch.

    python scripts/bench_app.py [--repeats 5] [--no-browser]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_run(at, repeats, action=None):
    times = []
    for _ in range(repeats):
        if action:
            action(at)
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, [e.value for e in at.exception]
    return statistics.median(times)


def server_times(repeats: int):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from resnet_explain import preset

    rows = []
    for name in ("plain20", "resnet56", "plain110"):
        spec = preset(name)
        at = AppTest.from_file(str(ROOT / "app_pages" / "gradient_flow.py"), default_timeout=300)
        for k, v in spec.to_params().items():
            at.query_params[k] = v
        st.cache_data.clear()
        t = time.perf_counter()
        at.run()
        first = time.perf_counter() - t
        baseline = _median_run(at, repeats)  # same page, nothing changed (cache hit)
        flips = {"n": 0}

        def toggle(at):
            flips["n"] += 1
            at.toggle(key="gf_skips").set_value(not at.toggle(key="gf_skips").value)

        toggled = _median_run(at, repeats, toggle)  # network and twin swap roles: both cached

        def new_seed(at):
            at.sidebar.number_input(key="seed").set_value(at.sidebar.number_input(key="seed").value + 1)

        uncached = _median_run(at, repeats, new_seed)  # a new seed: both networks re-probed
        rows.append((name, first, baseline, toggled, uncached))
    print("Server time per script run (AppTest, CPU, median of %d):" % repeats)
    print(f"{'network':<10}{'first':>9}{'rerun':>9}{'toggle':>9}{'new seed':>10}{'toggle/rerun':>14}"
          f"{'new seed/rerun':>16}")
    for name, first, base, tog, unc in rows:
        print(f"{name:<10}{first:>8.2f}s{base:>8.2f}s{tog:>8.2f}s{unc:>9.2f}s{tog / base:>14.2f}"
              f"{unc / base:>16.2f}")


def _serve(script: Path, port: int):
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
                             str(port), "--server.headless", "true"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def cold_start():
    from playwright.sync_api import sync_playwright

    trivial = Path(tempfile.mkdtemp()) / "trivial.py"
    trivial.write_text("import streamlit as st\nimport torch\nst.write('torch', torch.__version__)\n")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    results = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for label, script, path, selector in (
                ("trivial page importing torch", trivial, "/", "text=torch"),
                ("app: Gradient Flow, first chart", ROOT / "app.py", "/gradient-flow",
                 "[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg")):
            port = 8700 + len(results)
            t0 = time.perf_counter()
            proc = _serve(script, port)
            t_up = time.perf_counter() - t0
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}{path}")
            page.wait_for_selector(selector, timeout=120_000)
            results[label] = (t_up, time.perf_counter() - t0)
            page.close()
            proc.terminate()
            proc.wait()
        b.close()
    base = results["trivial page importing torch"][1]
    print("Cold start in headless Chromium (server launch -> content visible):")
    for label, (up, total) in results.items():
        print(f"  {label:<34} server up {up:5.2f}s, visible {total:5.2f}s, ratio {total / base:4.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    server_times(a.repeats)
    if not a.no_browser:
        cold_start()


if __name__ == "__main__":
    main()
