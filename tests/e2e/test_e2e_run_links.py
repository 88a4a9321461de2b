"""A presenter's own pair on stage: a tiny pair trained from the CLI into the server's run store
(both read ``RESNET_EXPLAIN_CACHE``) opens from a ``run=`` link in a fresh browser context; a run
the server does not have is said in a visible warning that offers to train it here."""

import json
import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from .conftest import OUT, ROOT, start_server, stop_server, wait_for_app

pytestmark = pytest.mark.e2e

# A ResNet-8 of width 4, one epoch of the quick budget's 1,500 16x16 images: 27 CPU-seconds for one
# network, torch import included (100 s of wall time on the 2-core box at load 20).
TINY = "fam=cnn&net=b4~b8/2~b16/2&act=relu&norm=batch&ins=16&stem=4"


@pytest.fixture(scope="module")
def store_server(tmp_path_factory, browser):
    cache = tmp_path_factory.mktemp("shared-run-store")
    env = {**os.environ, "RESNET_EXPLAIN_CACHE": str(cache), "RESNET_EXPLAIN_WARMUP": "off"}
    trained = subprocess.run(
        [sys.executable, "-m", "resnet_explain", "train", "--spec", TINY, "--twin", "--budget", "quick",
         "--epochs", "1", "--seed", "4", "--device", "cpu", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert trained.returncode == 0, trained.stderr[-2000:]
    runs = json.loads(trained.stdout)["runs"]
    proc, port = start_server(ROOT / "app.py", "run-links-server.log", env=env)
    yield f"http://127.0.0.1:{port}", runs
    stop_server(proc)


def _fresh_page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    return ctx, ctx.new_page()


def _texts(page, testid: str) -> str:
    return " ".join(page.locator(f"[data-testid={testid}]").all_inner_texts())


def _picked(page, want: str) -> str:
    """What the selectboxes show (the picked option is drawn in an input, not as inner text),
    once it contains ``want`` (a loaded server may still be drawing them), else after 60 s."""
    for _ in range(120):
        shown = " ".join(page.eval_on_selector_all(
            "[data-testid=stSelectbox]", "els => els.map(e => e.textContent + ' ' + "
            "Array.from(e.querySelectorAll('input')).map(i => i.value).join(' '))"))
        if want in shown:
            break
        page.wait_for_timeout(500)
    return shown


@pytest.mark.parametrize("path", ["landscape", "lesion", "attribution"])
def test_a_run_link_opens_the_cli_trained_pair_in_a_fresh_browser(store_server, browser, path):
    url, runs = store_server
    yours, twin = (r["run_id"] for r in runs)
    ctx, page = _fresh_page(browser)  # no cookie, no session: only the link
    page.goto(f"{url}/{path}?run={yours}")
    page.get_by_text(f"run {twin}, trained here").wait_for(timeout=120_000)  # a loaded server is slow
    wait_for_app(page)
    captions = _texts(page, "stCaptionContainer")
    assert f"run {yours}, trained here" in captions and f"run {twin}, trained here" in captions
    want = f"your network: residual-8 ({yours[:6]}) vs its twin"
    assert want in _picked(page, want)
    assert "this server has" not in _texts(page, "stAlert")  # no stand-in notice
    assert f"run={yours}" in page.url  # the link stays the link
    page.screenshot(path=str(OUT / f"run_link_{path}.png"), full_page=False)
    ctx.close()


def test_a_run_the_server_lacks_is_said_and_the_offer_opens_the_train_page_with_its_recipe(store_server, browser):
    url, _ = store_server
    from resnet_explain.spec import NetSpec
    from resnet_explain.train.budgets import BUDGETS

    # never trained; "full" is not this CPU host's default budget, so the link must carry it
    missing = BUDGETS["full"].request(NetSpec.from_query(TINY), 7).run_id
    recipe = f"run_net={TINY.replace('&', '%26').replace('=', '%3D')}&run_seed=7&run_budget=full"
    ctx, page = _fresh_page(browser)
    page.goto(f"{url}/landscape?run={missing}&{recipe}")
    wait_for_app(page)
    alert = page.locator("[data-testid=stAlert]").filter(has_text="no such run")
    alert.wait_for(timeout=60_000)
    assert alert.is_visible() and f"run {missing}" in alert.inner_text()
    wait_for_app(page)
    assert "shipped twins, depth" in _picked(page, "shipped twins, depth")
    page.screenshot(path=str(OUT / "run_link_missing.png"), full_page=False)
    offer = page.get_by_text("Train it here: residual-8 and its twin, full budget, seed 7 (the same "
                             "inputs give the same run id)")
    with ctx.expect_page(timeout=60_000) as opened:  # a new tab: a fresh session reads the URL
        offer.click()
    page = opened.value
    page.wait_for_url("**/your-network**", timeout=60_000)
    wait_for_app(page)
    caption = page.get_by_text("Your network:")
    caption.wait_for(timeout=120_000)
    text = caption.inner_text()
    assert "net=b4~b8/2~b16/2" in text and "seed 7" in text, text
    # the budget radio comes after the page has timed this server once (a fresh server's first page
    # that estimates): wait for it rather than read the page mid-run
    page.locator("[data-testid=stRadio]").first.wait_for(timeout=180_000)
    checked = page.locator("label:has(input[type=radio]:checked)").all_inner_texts()
    assert any(t.startswith("full (GPU)") for t in checked), checked  # the budget the link named
    # the sidebar's Seed box shows the session's seed once its delta has arrived (the caption above
    # is already drawn from it; CI once read the box a moment before: "0")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("7", timeout=30_000)
    page.screenshot(path=str(OUT / "run_link_train_offer.png"), full_page=False)
    ctx.close()
