"""Load test in the suite: 10 concurrent Chromium visitors on one server, two waves (loopback only).

Runs scripts/load_test.py in its own process (it drives Chromium with Playwright's async API, which
cannot share this process's event loop with the sync fixtures) and prints its figures. It asserts
no failed session, no exception shown, and server memory that levels off. A session fails when a
page is not ready within the script's bound (480 s per page): on this project's 2-core machines ten
visitors queue through one compute slot, and the p95 latency measured 284-370 s (it is printed,
not asserted; with a 240 s bound 1 of 20 visitors failed in 3 of 5 runs).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_ten_concurrent_visitors():
    if not os.path.exists("/usr/bin/chromium"):
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is missing; scripts/test.sh installs it")
        pytest.skip("needs Debian chromium")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "load_test.py"), "--sessions", "10",
                          "--waves", "2", "--preset", "plain56", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n{r['sessions']} sessions x {r['waves']} waves: failed {r['failed_sessions']}, exceptions "
          f"{r['exceptions_shown']}, p50 {r['latency_p50_s']:.1f} s, p95 {r['latency_p95_s']:.1f} s, RSS "
          + ", ".join(f"wave {w['wave']} max {w['rss_max_mb']:.0f} MB" for w in r["waves_rss"]))
    assert r["failed_sessions"] == 0, r["errors"]
    assert r["exceptions_shown"] == 0
    first, last = r["waves_rss"][0]["rss_max_mb"], r["waves_rss"][-1]["rss_max_mb"]
    assert last <= 1.5 * first, r["waves_rss"]  # levels off: no per-visitor growth
