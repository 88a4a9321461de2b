"""The warm-up on a real server: started by the first visitor's run, it opens the pages it was given
in headless sessions of the same server, once per process, and says so in the server's log."""

import re
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, OUT, ROOT, _free_port, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture()
def warm_server(browser):
    port = _free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "warmup-server.log"
    log = open(path, "w")
    env = {**__import__("os").environ, "RESNET_EXPLAIN_WARMUP": "builder,gradient-flow"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start; see test-output/e2e/warmup-server.log")
    yield url, path
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _wait_for(path, pattern, limit=240):
    t0 = time.time()
    while time.time() - t0 < limit:
        text = path.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} not in the server log:\n{path.read_text(errors='replace')[-3000:]}")


def test_the_first_visit_starts_one_warmup_that_opens_the_given_pages(warm_server, browser):
    url, log = warm_server
    assert "warm-up" not in log.read_text()  # nothing runs before a visitor comes
    page = browser.new_page()
    page.goto(url)
    wait_for_app(page)
    text = _wait_for(log, r"warm-up: done")
    assert re.search(r"warm-up: /builder finished in", text), text
    assert re.search(r"warm-up: /gradient-flow finished in", text), text
    assert re.search(r"done, (\d+) of \1 views warm", text), text  # the pages and the acts on them
    assert "/gradient-flow?fam=cnn" in text  # a workshop act's URL state (act 3: plain-56)
    page.goto(url + "/builder")  # another visit does not start another warm-up
    wait_for_app(page)
    page.close()
    time.sleep(3)
    assert log.read_text().count("warm-up: done") == 1
    assert "Traceback" not in log.read_text()
