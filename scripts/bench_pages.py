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

``--cpu``: what a cached visit costs the server (issue 24: <= 0.3 CPU-seconds on every page). One
server (warm-up off: each page is opened once first, by its own fresh session, so its default
view is cached), then each page ``--visits`` times, each visit a fresh browser context (a new
session, as a new visitor). A visit's cost is the server process's CPU time (utime + stime of
/proc/<pid>/stat, its children's too) from before ``goto`` until the page has settled, its context
is closed and the server is idle again (so the session's teardown counts); the server's own idle
CPU over the same wall time is measured first and printed. Visits per minute on 2 vCPU =
2 × 60 / CPU-seconds per visit. ``--baseline DIR`` serves another checkout beside this one (e.g.
the code before a change), alternates the visits between the two, and prints ratios. ``--floor``
adds a server of a one-line page on the same settings (every path opens that page): what
Streamlit itself costs a new visitor (its scripts, styles and fonts are fetched by each fresh
browser context), which no change to this app can remove.

``--cached-assets``: each visit is a new tab (a new session) of a browser that has opened the app
before, so Streamlit's scripts, styles and fonts (immutable, cached for a year) come from its HTTP
cache: what a page costs a visitor who has loaded one page of the app already (every later page of
a workshop), apart from the ~0.15 CPU-s of static files a first-time browser costs once.

    python scripts/bench_pages.py --cpu [--visits 3] [--baseline DIR] [--pages home,vanishing]
                                  [--cached-assets] [--floor] [--baseline-pure-python-server]

``--baseline-pure-python-server`` serves the baseline with uvloop and httptools hidden (asyncio's
event loop and h11, pure Python): ``--baseline . --baseline-pure-python-server`` measures what the
two C libraries in requirements.txt save a visit.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
VIEWPORT = {"width": 1400, "height": 1100}
FLOOR_APP = "import streamlit as st\n\nst.title('Floor')\nst.write('A page that computes nothing.')\n"


def settle_seconds(browser, url: str, quiet: float = 1.0, limit: float = 300.0) -> float:
    """Open ``url`` in a new tab of ``browser`` (or of a browser context); seconds until the page
    went quiet (and stayed so ``quiet`` s)."""
    page = browser.new_page(**({} if hasattr(browser, "browser") else {"viewport": VIEWPORT}))
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


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system, of all its threads and waited-for children)."""
    # /proc/<pid>/stat: the name (field 2) may hold spaces, so split after its closing ')';
    # utime, stime, cutime, cstime are fields 14-17 (proc(5)), in clock ticks.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, window: float = 0.5, below: float = 0.02, limit: float = 60.0) -> None:
    """Until the server used under ``below`` CPU-seconds in a ``window`` of wall time."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - c0 < below:
            return


def visit_cpu(browser, url: str, pid: int, assets=None) -> tuple[float, float]:
    """(server CPU-seconds, wall seconds) of one visit by a new visitor (a fresh browser context):
    from before ``goto`` until the page settled, its context closed and the server idle again.
    ``assets``: a browser context whose HTTP cache holds Streamlit's scripts, styles and fonts
    already; the visit is then a new tab of it (a new session all the same: Streamlit's session is
    the tab's websocket), i.e. a visitor whose browser has loaded this app before."""
    wait_idle(pid)
    t0, c0 = time.perf_counter(), cpu_seconds(pid)
    ctx = assets or browser.new_context(viewport=VIEWPORT)
    try:
        settle_seconds(ctx, url)
    finally:
        if assets is None:
            ctx.close()
    wait_idle(pid)
    return cpu_seconds(pid) - c0, time.perf_counter() - t0


def pure_python_server_env() -> dict:
    """Environment for a server without uvloop and httptools (requirements install both; Streamlit
    and uvicorn use them when they import): stub modules first on the path that raise
    ModuleNotFoundError, so the server falls back to asyncio's loop and h11, as before issue 24."""
    stubs = Path(tempfile.mkdtemp(prefix="bench_pages_no_c_server_"))
    for name in ("uvloop", "httptools"):
        (stubs / name).mkdir()
        stub = f"raise ModuleNotFoundError('{name} hidden by bench_pages')\n"
        (stubs / name / "__init__.py").write_text(stub)
    return {"PYTHONPATH": os.pathsep.join([str(stubs), *filter(None, [os.environ.get("PYTHONPATH")])])}


def start_cpu_server(browser, app: Path, paths: list[str], env: dict | None = None):
    """A fresh server of ``app`` (warm-up off, ``env`` added) whose every page's default view has
    been opened once (by its own session, waited for until quiet for 3 s: a page between two
    spinners is not done); returns (process, base url, its idle CPU-seconds per second)."""
    log = Path(tempfile.mkdtemp(prefix="bench_pages_cpu_")) / "server.log"
    port = free_port()
    proc = serve(app.resolve() / "app.py", port, {"RESNET_EXPLAIN_WARMUP": "off", **(env or {})},
                 log=open(log, "w"))
    url = f"http://127.0.0.1:{port}"
    for path in paths:
        settle_seconds(browser, f"{url}/{path}", quiet=3.0)
    wait_idle(proc.pid, window=2.0)
    c0 = cpu_seconds(proc.pid)
    time.sleep(5.0)
    idle = (cpu_seconds(proc.pid) - c0) / 5
    print(f"{app}: caches filled; idle server {idle:.3f} CPU-s per s (log {log})", flush=True)
    return proc, url, idle


def measure_cpu(browser, apps: dict[str, Path], paths: list[str], visits: int,
                cached_assets: bool = False, envs: dict[str, dict] | None = None) -> tuple[dict, dict]:
    """CPU-seconds per cached visit of each page, per app: one fresh server each, all up at once;
    the visits alternate between the apps (app A, app B, app A, ...), so a change in the machine's
    load falls on both alike. ``cached_assets``: each visit is a new tab of a browser context that
    has opened every page of that server once (its HTTP cache holds Streamlit's static files).
    Returns the visits' CPU-seconds, and the same less the server's idle rate over each visit's
    wall time (what the visit itself added: an idle server ticks at 0.004-0.03 CPU-s a second on
    this box, depending on the hour, and a visit lasts ~4 s)."""
    out: dict[str, dict[str, list[float]]] = {label: {p: [] for p in paths} for label in apps}
    net: dict[str, dict[str, list[float]]] = {label: {p: [] for p in paths} for label in apps}
    servers, assets = {}, {}
    try:
        for label, app in apps.items():
            servers[label] = start_cpu_server(browser, app, paths, (envs or {}).get(label))
            if cached_assets:
                assets[label] = browser.new_context(viewport=VIEWPORT)
                for path in paths:
                    settle_seconds(assets[label], f"{servers[label][1]}/{path}")  # its url
        for path in paths:
            for _ in range(visits):
                for label, (proc, url, idle) in servers.items():
                    cpu, wall = visit_cpu(browser, f"{url}/{path}", proc.pid, assets.get(label))
                    out[label][path].append(cpu)
                    net[label][path].append(max(0.0, cpu - idle * wall))
            print(f"  {path or 'home':<20} " + "; ".join(
                f"{label} " + " ".join(f"{c:5.2f}" for c in out[label][path]) for label in apps)
                + " CPU-s", flush=True)
    finally:
        for ctx in assets.values():
            ctx.close()
        for proc, _, _ in servers.values():
            stop(proc)
    return out, net


def cpu_table(runs: dict[str, dict[str, list[float]]]) -> None:
    """Median CPU-seconds per visit and visits a minute on 2 vCPU; this / baseline."""
    labels = list(runs)
    paths = list(runs[labels[0]])
    head = " | ".join(f"{lb}: CPU-s/visit | {lb}: visits/min on 2 vCPU" for lb in labels)
    both = "baseline" in runs
    print(f"| page | {head} |" + (" this / baseline |" if both else ""))
    print("|---" * (1 + 2 * len(labels) + both) + "|")
    for path in paths:
        med = [statistics.median(runs[lb][path]) for lb in labels]
        cells = " | ".join(f"{m:.2f} | {120 / m:.0f}" for m in med)
        ratio = f" {med[labels.index('this')] / med[0]:.2f} |" if both else ""
        print(f"| {path or 'home'} | {cells} |{ratio}")
    for lb in labels:
        allv = [statistics.median(v) for v in runs[lb].values()]
        print(f"{lb}: mean {statistics.mean(allv):.2f}, max {max(allv):.2f} CPU-s per visit; "
              f"{120 / statistics.mean(allv):.0f} visits a minute on 2 vCPU at the mean")


def speed_reference(rounds: int = 5) -> float:
    """CPU milliseconds of a fixed pure-Python workload in this process (median of ``rounds``):
    the same box's speed drifts over a day (a shared VM), and every CPU-second above drifts with
    it, so each run prints this beside its table to compare runs by."""
    times = []
    for _ in range(rounds):
        t0 = time.thread_time()
        sum(i * i for i in range(10**6))
        times.append(time.thread_time() - t0)
    return statistics.median(times) * 1e3


def main_cpu(a, paths: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    before = speed_reference()

    apps = ({"baseline": a.baseline} if a.baseline else {}) | {"this": a.app}
    if a.floor:  # what Streamlit itself costs a new visitor: a page that only writes a title
        floor = Path(tempfile.mkdtemp(prefix="bench_pages_floor_"))
        shutil.copytree(a.app / ".streamlit", floor / ".streamlit")  # the same server settings
        (floor / "app.py").write_text(FLOOR_APP)
        apps["floor"] = floor
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        envs = {"baseline": pure_python_server_env()} if a.baseline_pure_python_server else {}
        runs, net = measure_cpu(browser, apps, paths, a.visits, a.cached_assets, envs)
        browser.close()
    print(f"\nServer CPU-seconds per cached visit (fresh sessions"
          f"{', browser cache warm' if a.cached_assets else ', fresh browser contexts'}; median of {a.visits}; "
          f"{os.cpu_count()} CPUs shared, load average {os.getloadavg()[0]:.1f}: noisy, read ratios):")
    cpu_table(runs)
    print("\nThe same, less each server's idle CPU over each visit's wall time (what a visit adds):")
    cpu_table(net)
    print(f"Speed reference (a fixed Python loop, CPU ms; lower is a faster box): {before:.0f} before, "
          f"{speed_reference():.0f} after")


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
    ap.add_argument("--cpu", action="store_true", help="server CPU-seconds per cached visit instead")
    ap.add_argument("--visits", type=int, default=3, help="--cpu: measured visits per page")
    ap.add_argument("--baseline", type=Path, metavar="DIR", help="--cpu: measure this checkout beside")
    ap.add_argument("--cached-assets", action="store_true",
                    help="--cpu: each visit a new tab (new session) of a browser that has loaded the app "
                         "before: Streamlit's static files come from its HTTP cache (they are immutable)")
    ap.add_argument("--baseline-pure-python-server", action="store_true",
                    help="--cpu: serve the baseline without uvloop and httptools (e.g. --baseline . "
                         "to measure what they save)")
    ap.add_argument("--floor", action="store_true",
                    help="--cpu: also a trivial Streamlit page on the same settings (Streamlit's own cost)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from resnet_explain.content.story import STEPS

    paths = [p for p in a.pages.split(",") if p] or [s.url_path for s in STEPS]
    if a.cpu:
        main_cpu(a, [("" if p == "home" else p) for p in a.pages.split(",") if p]
                 or [""] + [s.url_path for s in STEPS])
        return
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
