"""Load test: many concurrent headless-Chromium visitors on one Streamlit server (one process, as on
a Hugging Face Space), doing heavy actions, in waves. Loopback only; bounded in count and time.

Each visitor per wave: opens Gradient Flow on a deep plain CNN with its own seed (an uncached
probe of the network and its twin), then the Attribution Lab on its own test image, then the
Lesion page when it exists (cached after the first visitor). We count failed sessions and
exceptions shown, report latency percentiles, and sample the server's resident memory (RSS)
between and during waves to see it level off.

    python scripts/load_test.py [--sessions 10] [--waves 3] [--preset plain56]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.samples.append((time.perf_counter(), _rss_mb(self.pid)))
            except OSError:
                return
            self.stop.wait(self.every)


async def _visit(browser, base: str, spec_query: str, seed: int, wave: int, timeout_ms: int,
                 pages: list[str]) -> dict:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    ctx = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await ctx.new_page()
    out = {"seed": seed, "wave": wave, "ok": True, "exceptions": 0, "latency": {}, "error": None}
    try:
        for name in pages:
            if name == "gradient-flow":
                url = f"{base}/gradient-flow?{spec_query}&seed={seed}"
                ready = "[data-testid=stVegaLiteChart]"
            elif name == "attribution":
                url = f"{base}/attribution?seed={seed}"
                ready = "[data-testid=stImage] img"
            else:
                url = f"{base}/{name}?seed={seed}"
                ready = "[data-testid=stVegaLiteChart]"
            t0 = time.perf_counter()
            await page.goto(url)
            if name == "lesion":
                # A study estimated over the page's auto-start limit (a busy server measures a
                # slower pass) waits for Start, as a visitor would press it — again if a click made
                # while the page was still rerunning was lost (Start still enabled, no chart).
                start = "button:has-text('Start'):not([disabled])"
                deadline = time.perf_counter() + timeout_ms / 1000
                while time.perf_counter() < deadline and not await page.locator(ready).count():
                    if await page.locator(start).count():
                        try:  # a busy server may rerun the page under the click: look again
                            await page.locator(start).first.click(timeout=5000)
                        except PlaywrightTimeout:
                            pass
                    await page.wait_for_timeout(3000)
            await page.wait_for_selector(ready, timeout=timeout_ms)
            # wait for the run to finish (no running-man status widget)
            await page.wait_for_function(
                "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout_ms)
            out["latency"][name] = time.perf_counter() - t0
            n_exc = await page.locator("[data-testid=stException]").count()
            out["exceptions"] += n_exc
            if n_exc:
                out["ok"] = False
    except Exception as exc:  # a failed session is a result, not a crash of the test
        out["ok"], out["error"] = False, f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        await ctx.close()
    return out


async def _run(base: str, sessions: int, waves: int, spec_query: str, timeout_ms: int, pages, sampler):
    from playwright.async_api import async_playwright

    results, wave_rss = [], []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for w in range(waves):
            t0 = time.perf_counter()
            batch = await asyncio.gather(*[
                _visit(browser, base, spec_query, seed=1000 + w * sessions + i, wave=w,
                       timeout_ms=timeout_ms, pages=pages) for i in range(sessions)])
            t1 = time.perf_counter()
            results.extend(batch)
            during = [m for t, m in sampler.samples if t0 <= t <= t1]
            wave_rss.append({"wave": w, "seconds": t1 - t0, "rss_max_mb": max(during, default=float("nan")),
                             "rss_end_mb": sampler.samples[-1][1] if sampler.samples else float("nan")})
        await browser.close()
    return results, wave_rss


def run_load_test(sessions: int = 10, waves: int = 3, preset_name: str = "plain56",
                  timeout_s: float = 480, pages=None, port: int | None = None) -> dict:
    from resnet_explain import preset

    pages = pages or [p for p in ("gradient-flow", "attribution", "lesion")
                      if p != "lesion" or (ROOT / "app_pages" / "lesion.py").exists()]
    port = port or _free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--server.headless", "true"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        rss_start = _rss_mb(server.pid)
        sampler = Sampler(server.pid)
        sampler.start()
        spec_query = preset(preset_name).to_query()
        results, wave_rss = asyncio.run(_run(base, sessions, waves, spec_query, int(timeout_s * 1000),
                                             pages, sampler))
        sampler.stop.set()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = sorted(v for r in results for v in r["latency"].values())

    def pct(q):
        return lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))] if lat else float("nan")

    per_page = {}
    for name in pages:
        vals = sorted(r["latency"][name] for r in results if name in r["latency"])
        if vals:
            per_page[name] = {"p50": statistics.median(vals), "p95": vals[min(len(vals) - 1, int(round(0.95 * (len(vals) - 1))))],
                              "n": len(vals)}
    return {"sessions": sessions, "waves": waves, "visits": len(results), "pages": pages,
            "failed_sessions": sum(not r["ok"] for r in results),
            "exceptions_shown": sum(r["exceptions"] for r in results),
            "errors": [r["error"] for r in results if r["error"]][:5],
            "latency_p50_s": pct(0.5), "latency_p95_s": pct(0.95), "per_page": per_page,
            "rss_start_mb": rss_start, "waves_rss": wave_rss, "preset": preset_name}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--preset", default="plain56")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = run_load_test(a.sessions, a.waves, a.preset)
    if a.json:
        print(json.dumps(r))
        return
    print(f"{r['sessions']} concurrent sessions x {r['waves']} waves ({r['visits']} visits; pages "
          f"{', '.join(r['pages'])}; network {r['preset']}, a new seed per visit)")
    print(f"failed sessions: {r['failed_sessions']}, exceptions shown: {r['exceptions_shown']}")
    print(f"latency per page load: p50 {r['latency_p50_s']:.1f} s, p95 {r['latency_p95_s']:.1f} s")
    for name, v in r["per_page"].items():
        print(f"  {name:<14} p50 {v['p50']:.1f} s  p95 {v['p95']:.1f} s  (n={v['n']})")
    print(f"server RSS at start {r['rss_start_mb']:.0f} MB")
    for w in r["waves_rss"]:
        print(f"  wave {w['wave']}: {w['seconds']:.1f} s, RSS max {w['rss_max_mb']:.0f} MB, "
              f"after {w['rss_end_mb']:.0f} MB")
    for e in r["errors"]:
        print("  error:", e)


if __name__ == "__main__":
    main()
