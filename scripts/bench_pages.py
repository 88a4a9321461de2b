"""How long each page takes to settle on its first visit, on a warm server, in headless Chromium.

One fresh ``streamlit run app.py`` per repeat: Home is loaded first (the server is up and one page
has run), then, when the background warm-up is on, the script waits until the server's log says
the warm-up is done ("warm server"); then every page of the story is opened once, each in a new
tab (a new session: nothing of the previous page's session state), in story order. A page has
settled when its title is shown and, for a whole second, Streamlit's running indicator
(``stStatusWidget``), spinners and skeletons are gone; the time reported is from ``goto`` to the
start of that quiet second.

    python scripts/bench_pages.py [--repeats 1] [--warmup on|off|PATHS] [--pages vanishing,lesion]
                                  [--app DIR]

Goal (issue 16): every page <= 2 s on a warm server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_cold_start import CHROMIUM, CHROMIUM_ARGS, free_port, serve, stop  # noqa: E402

BUSY = """() => !document.querySelector('[data-testid=stMain] h1') ||
  !!(document.querySelector('[data-testid=stStatusWidget]') ||
     document.querySelector('[data-testid=stSpinner]') ||
     document.querySelector('[data-testid=stSkeleton]'))"""
DONE_LINE = "resnet-explain warm-up: done"


def settle_seconds(browser, url: str, quiet: float = 1.0, limit: float = 300.0) -> float:
    """Open ``url`` in a new tab; seconds until the page went quiet (and stayed so ``quiet`` s)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        t0 = time.perf_counter()
        page.goto(url, timeout=int(limit * 1000))
        calm_since = None
        while time.perf_counter() - t0 < limit:
            now = time.perf_counter()
            if page.evaluate(BUSY):
                calm_since = None
            elif calm_since is None:
                calm_since = now
            elif now - calm_since >= quiet:
                return calm_since - t0
            page.wait_for_timeout(50)
        return float("inf")
    finally:
        page.close()


def wait_for_line(log: Path, line: str, limit: float) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if line in log.read_text(errors="replace"):
            return time.perf_counter() - t0
        time.sleep(0.5)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="fresh servers; medians per page")
    ap.add_argument("--warmup", default="on",
                    help="RESNET_EXPLAIN_WARMUP for the server: on, off or url paths (waited for unless off)")
    ap.add_argument("--pages", default="", help="comma-separated url paths (default: every step)")
    ap.add_argument("--again", action="store_true",
                    help="open every page a second time too (new tabs): the floor once all is cached")
    ap.add_argument("--app", type=Path, default=ROOT, metavar="DIR",
                    help="the checkout whose app.py to serve (e.g. the code before a change)")
    ap.add_argument("--warmup-limit", type=float, default=900.0, help="seconds to wait for it")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from resnet_explain.content.story import STEPS

    paths = [p for p in a.pages.split(",") if p] or [s.url_path for s in STEPS]
    times: dict[str, list[float]] = {p: [] for p in paths}
    again: dict[str, list[float]] = {p: [] for p in paths}
    env = {"RESNET_EXPLAIN_WARMUP": a.warmup}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for i in range(a.repeats):
            port = free_port()
            log = Path(tempfile.mkdtemp(prefix="bench_pages_")) / "server.log"
            with open(log, "w") as fh:
                t0 = time.perf_counter()
                proc = serve(a.app.resolve() / "app.py", port, env, log=fh)
                try:
                    url = f"http://127.0.0.1:{port}"
                    home = settle_seconds(browser, url + "/")
                    print(f"server {i + 1}: up and Home settled {time.perf_counter() - t0:.1f} s after "
                          f"launch (Home {home:.2f} s)", flush=True)
                    if a.warmup != "off":
                        waited = wait_for_line(log, DONE_LINE, a.warmup_limit)
                        print(f"  warm-up done {time.perf_counter() - t0:.1f} s after launch" if waited
                              is not None else "  warm-up did not report done; measuring anyway", flush=True)
                        for line in log.read_text(errors="replace").splitlines():
                            if DONE_LINE.split(":")[0] in line:
                                print("   ", line.strip(), flush=True)
                    for path in paths:
                        s = settle_seconds(browser, f"{url}/{path}")
                        times[path].append(s)
                        print(f"  {path:<16} {s:6.2f} s", flush=True)
                    for path in paths if a.again else ():
                        s = settle_seconds(browser, f"{url}/{path}")
                        again[path].append(s)
                        print(f"  {path:<16} {s:6.2f} s (second visit)", flush=True)
                finally:
                    stop(proc)
        browser.close()
    print(f"\nFirst visit of each page on a warm server ({a.app}, RESNET_EXPLAIN_WARMUP={a.warmup}; median of "
          f"{a.repeats}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}):")
    if a.again:
        print("| page | first visit, s | second visit, s |\n|---|---|---|")
        for path, ts in times.items():
            print(f"| {path} | {statistics.median(ts):.2f} | {statistics.median(again[path]):.2f} |")
    else:
        print("| page | seconds to settle |\n|---|---|")
        for path, ts in times.items():
            print(f"| {path} | {statistics.median(ts):.2f} |")


if __name__ == "__main__":
    main()
