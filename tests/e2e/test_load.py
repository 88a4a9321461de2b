"""Load test in the suite: 10 concurrent Chromium visitors on one server, two waves (loopback only).

Runs scripts/load_test.py's run_load_test and prints its figures (see the closing notes for a
3-wave run). It asserts no failed session, no exception shown, and memory that levels off.
"""

import importlib.util
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _load_test_module():
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "scripts" / "load_test.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ten_concurrent_visitors(browser):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("needs Debian chromium")
    r = _load_test_module().run_load_test(sessions=10, waves=2, preset_name="plain56", timeout_s=300)
    print(f"\n{r['sessions']} sessions x {r['waves']} waves: failed {r['failed_sessions']}, exceptions "
          f"{r['exceptions_shown']}, p50 {r['latency_p50_s']:.1f} s, p95 {r['latency_p95_s']:.1f} s, RSS "
          + ", ".join(f"wave {w['wave']} max {w['rss_max_mb']:.0f} MB" for w in r["waves_rss"]))
    assert r["failed_sessions"] == 0, r["errors"]
    assert r["exceptions_shown"] == 0
    first, last = r["waves_rss"][0]["rss_max_mb"], r["waves_rss"][-1]["rss_max_mb"]
    assert last <= 1.5 * first, r["waves_rss"]  # levels off: no per-visitor growth
