"""End to end in headless Debian Chromium: every page from the sidebar, a skip toggle, a shared URL."""

import pytest

from resnet_explain.content.story import STEPS

from .conftest import wait_for_app

pytestmark = pytest.mark.e2e


def _no_exceptions(page):
    assert page.locator("[data-testid=stException]").count() == 0, page.url


def _chart_count(page) -> int:
    return page.locator("[data-testid=stVegaLiteChart], [data-testid=stGraphVizChart]").count()


def test_every_page_from_the_sidebar(server, browser, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server)
    wait_for_app(page)
    _no_exceptions(page)
    page.screenshot(path=str(shots / "00_home.png"), full_page=True)
    for i, step in enumerate(STEPS, start=1):
        page.locator("[data-testid=stSidebarNav]").get_by_text(step.title, exact=True).click()
        page.wait_for_url(f"**/{step.url_path}**")
        wait_for_app(page)
        if step.url_path == "quiz":  # no chart until answers are checked: check them
            page.get_by_role("button", name="Check my answers").click()
            page.get_by_text("Score").first.wait_for(timeout=90_000)
        elif step.url_path == "why-residuals-work":  # sentences and links, no chart: each reason links
            page.locator("[data-testid=stPageLink]").first.wait_for(timeout=90_000)
            assert page.locator("[data-testid=stPageLink]").count() >= 3, step.title
        elif step.url_path == "your-network":  # nothing trained yet: the plan and its Start button
            page.get_by_role("button", name="Start").wait_for(timeout=90_000)
            page.get_by_text("Together roughly").first.wait_for(timeout=90_000)
        else:
            page.wait_for_selector("[data-testid=stVegaLiteChart], [data-testid=stGraphVizChart]",
                                   timeout=90_000)
            assert _chart_count(page) >= 1, step.title
        wait_for_app(page)
        _no_exceptions(page)
        page.screenshot(path=str(shots / f"{i:02d}_{step.url_path}.png"), full_page=True)
    page.close()


def _sentences(page) -> list[str]:
    return [t for t in page.locator("[data-testid=stMarkdownContainer] p").all_inner_texts()
            if "(yours)" in t or "(twin)" in t]


def test_toggle_skip_changes_chart_and_url_restores_state(server, browser, shots):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = ctx.new_page()
    page.goto(f"{server}/gradient-flow?seed=3")
    wait_for_app(page)
    page.wait_for_selector("[data-testid=stVegaLiteChart]")
    _no_exceptions(page)
    chart = page.locator("[data-testid=stVegaLiteChart]").first
    before_img = chart.screenshot()
    before = _sentences(page)
    assert any(s.startswith("Plain (yours)") for s in before)

    page.get_by_text("Skip connections on").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMarkdownContainer] p')]"
        ".some(p => p.innerText.startsWith('Residual (yours)'))", timeout=90_000)
    wait_for_app(page)
    _no_exceptions(page)
    after_img = page.locator("[data-testid=stVegaLiteChart]").first.screenshot()
    assert after_img != before_img, "the chart did not change when the skips were switched on"
    after = _sentences(page)
    page.screenshot(path=str(shots / "gradient_flow_skips_on.png"), full_page=True)
    url = page.url
    assert "seed=3" in url and "net=" in url
    ctx.close()

    # The copied URL in a fresh browser context restores the same network, seed and numbers.
    ctx2 = browser.new_context(viewport={"width": 1400, "height": 1600})
    page2 = ctx2.new_page()
    page2.goto(url)
    wait_for_app(page2)
    page2.wait_for_selector("[data-testid=stVegaLiteChart]")
    _no_exceptions(page2)
    assert _sentences(page2) == after
    assert page2.get_by_label("Seed", exact=True).input_value() == "3"
    page2.screenshot(path=str(shots / "gradient_flow_restored.png"), full_page=True)
    ctx2.close()


def test_attribution_lab_shows_two_heatmaps(server, browser, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{server}/attribution")
    wait_for_app(page)
    page.wait_for_selector("[data-testid=stImage] img", timeout=90_000)
    wait_for_app(page)
    _no_exceptions(page)
    captions = page.locator("[data-testid=stImageCaption]").all_inner_texts()
    signed = [c for c in captions if c.startswith("signed")]
    assert len(signed) == 2, captions  # one heatmap per twin
    assert page.locator("[data-testid=stImage] img").count() >= 6
    page.screenshot(path=str(shots / "attribution.png"))
    page.close()
