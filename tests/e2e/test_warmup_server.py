"""The warm-up on a real server: started by the first visitor's run, it opens the pages it was given
in headless sessions of the same server, once per process, and says so in the server's log."""

import os
import re
import time

import pytest

from .conftest import OUT, ROOT, start_server, stop_server, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture()
def warm_server(browser):
    env = {**os.environ, "RESNET_EXPLAIN_WARMUP": "builder,gradient-flow"}
    proc, port = start_server(ROOT / "app.py", "warmup-server.log", env=env)
    yield f"http://127.0.0.1:{port}", OUT / "warmup-server.log"
    stop_server(proc)


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
