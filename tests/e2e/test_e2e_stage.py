"""Workshop stage: offline (no request leaves localhost), same URL -> same numbers, presenter mode."""

from urllib.parse import urlparse

import pytest

from resnet_explain.content.story import STEPS

from .conftest import wait_for_app

pytestmark = pytest.mark.e2e


def test_no_request_leaves_localhost(server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1200})
    seen = []
    ctx.on("request", lambda req: seen.append(req.url))
    page = ctx.new_page()
    for path in ["", *(s.url_path for s in STEPS)]:
        page.goto(f"{server}/{path}")
        wait_for_app(page)
    hosts = {urlparse(u).hostname for u in seen if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    print(f"\n{len(seen)} requests from {len(STEPS) + 1} pages; hosts: {sorted(h or '' for h in hosts)}")
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    ctx.close()


def _numbers(page) -> list[str]:
    return [t for t in page.locator("[data-testid=stMarkdownContainer] p").all_inner_texts()
            if "(yours)" in t or "(twin)" in t]


def test_same_url_same_numbers_in_presenter_mode(server, browser, shots):
    url = f"{server}/gradient-flow?fam=cnn&net=b16*9~b32/2,b32*8~b64/2,b64*8&seed=11&presenter=true"
    texts = []
    for i in range(2):
        ctx = browser.new_context(viewport={"width": 1600, "height": 1400})
        page = ctx.new_page()
        page.goto(url)
        wait_for_app(page)
        page.wait_for_selector("[data-testid=stVegaLiteChart]")
        texts.append(_numbers(page))
        if i == 0:
            size = page.evaluate("getComputedStyle(document.querySelector("
                                 "'[data-testid=stMain] [data-testid=stMarkdownContainer] p')).fontSize")
            assert float(size.rstrip("px")) >= 20, size  # presenter type is larger
            page.screenshot(path=str(shots / "presenter_resnet56.png"))
        ctx.close()
    assert texts[0] == texts[1] and len(texts[0]) == 1  # one sentence: yours, then the twin
    assert "(yours)" in texts[0][0] and "(twin)" in texts[0][0] and "-fold" in texts[0][0]
