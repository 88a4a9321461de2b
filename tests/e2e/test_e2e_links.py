"""Links in a real browser: a page's controls write the URL as they change, the copied URL shows
the same numbers, and ``controls=hide`` folds the settings away from the very first paint."""

import pytest

from .conftest import wait_for_app

pytestmark = pytest.mark.e2e


def _numbers(page) -> list[str]:
    return [t for t in page.locator("[data-testid=stMarkdownContainer] p").all_inner_texts()
            if "(yours)" in t or "(twin)" in t]


def test_batch_and_float64_ride_in_the_url_and_a_copied_link_shows_the_same_numbers(server, browser, shots):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = ctx.new_page()
    page.goto(f"{server}/gradient-flow?fam=mlp&net=b64*20&act=sigmoid&norm=none")
    wait_for_app(page)
    page.wait_for_selector("[data-testid=stVegaLiteChart]")
    page.get_by_text("float64", exact=True).click()
    page.wait_for_function("() => location.search.includes('gf_f64=true')", timeout=60_000)
    wait_for_app(page)
    page.get_by_label("Batch", exact=True).click()  # the selectbox opens its list
    page.get_by_role("option", name="128", exact=True).click()
    page.wait_for_function("() => location.search.includes('gf_batch=128')", timeout=60_000)
    wait_for_app(page)
    page.wait_for_function("() => !document.querySelector('[data-testid=stSpinner]')", timeout=90_000)
    shown, url = _numbers(page), page.url
    assert shown and "float64" in " ".join(page.locator("[data-testid=stCaptionContainer]").all_inner_texts())
    ctx.close()

    ctx2 = browser.new_context(viewport={"width": 1400, "height": 1100})
    page2 = ctx2.new_page()
    page2.goto(url)
    wait_for_app(page2)
    page2.wait_for_selector("[data-testid=stVegaLiteChart]")
    assert _numbers(page2) == shown
    captions = " ".join(page2.locator("[data-testid=stCaptionContainer]").all_inner_texts())
    assert "batch 128" in captions and "float64" in captions
    page2.screenshot(path=str(shots / "gradient_flow_link_batch128_float64.png"), full_page=True)
    ctx2.close()


def test_controls_hide_never_shows_the_settings(server, browser, shots):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    seen = []  # sampled while the first run draws, before anything was clicked
    page.goto(f"{server}/gradient-flow?controls=hide&presenter=true")
    page.wait_for_selector("[data-testid=stSidebar]", state="attached", timeout=90_000)  # collapsed: hidden
    for _ in range(40):
        seen.append(page.get_by_label("Device", exact=True).is_visible())
        if page.locator("[data-testid=stVegaLiteChart]").count():
            break
        page.wait_for_timeout(250)
    wait_for_app(page)
    seen.append(page.get_by_label("Device", exact=True).is_visible())
    assert not any(seen), "the settings were shown, then folded away"
    # folded, one click away: the sidebar (its Settings expander inside) starts collapsed
    assert page.locator("[data-testid=stSidebar]").get_attribute("data-collapsed") == "true"
    page.screenshot(path=str(shots / "controls_hide_first_paint.png"))
    ctx.close()
