"""The presenter's screen: every workshop act, opened at 1280×720 with ``controls=hide``, shows its
title, one sentence and its chart(s) on the first screen — the sidebar collapsed, no control outside
the folded "Controls", the title below Streamlit's header, and every chart (or picture) of the act
whole: the first one and each that follows it before the page's next heading (act 5: both curves)."""

from urllib.parse import urlencode

import pytest

from resnet_explain.content.story import STEPS, talk

from .conftest import wait_for_app

pytestmark = pytest.mark.e2e

W, H = 1280, 720
_PATH = {s.file: s.url_path for s in STEPS}
ACTS = [(i, _PATH[a.file], urlencode({**dict(a.query), "controls": "hide"}))
        for i, a in enumerate(talk(), 1) if a.file in _PATH]

# What is on the first screen, read from the page: the sidebar's state, the title's and the first
# chart's boxes, and every control drawn outside an expander that shows above the fold.
FIRST_SCREEN_JS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
                        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const controls = [...main.querySelectorAll(
      'input, textarea, [role=switch], [role=slider], [role=radiogroup], [data-baseweb=select], button')]
    .filter((el) => shown(el) && !el.closest('[data-testid=stExpander]') && !el.closest('.vega-embed')
                    && !el.closest('[data-testid=stElementToolbar]')  /* the hover toolbar: Fullscreen */
                    && el.getBoundingClientRect().top < innerHeight)
    .map((el) => (el.getAttribute('aria-label') || el.innerText || el.tagName).slice(0, 40));
  // The act's charts: the first chart or picture and every one after it up to the next heading
  // (in document order; what an expander holds, or a hidden aside, is not on the screen).
  const CHART = '[data-testid=stVegaLiteChart], [data-testid=stImage]';
  const charts = [];
  for (const el of [...main.querySelectorAll(CHART + ', h2, h3')].filter(shown)) {
    if (el.closest('[data-testid=stExpander]')) continue;
    if (el.matches(CHART)) charts.push(box(el));
    else if (charts.length) break;
  }
  return {sidebar: document.querySelector('[data-testid=stSidebar]').getAttribute('data-collapsed'),
          header: box(document.querySelector('[data-testid=stHeader]')),
          title: box(main.querySelector('h1')), charts: charts, controls: controls};
}"""


@pytest.mark.parametrize("act, path, query", ACTS, ids=[f"act{a[0]}-{a[1]}" for a in ACTS])
def test_each_act_fits_the_first_screen(server, browser, shots, act, path, query):
    ctx = browser.new_context(viewport={"width": W, "height": H})
    page = ctx.new_page()
    page.goto(f"{server}/{path}?{query}")
    wait_for_app(page, timeout=300_000)
    page.wait_for_selector("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg, "
                           "[data-testid=stImage] img", timeout=180_000)
    wait_for_app(page, timeout=300_000)
    page.screenshot(path=str(shots / f"presenter_act{act}_{W}x{H}.png"))
    got = page.evaluate(FIRST_SCREEN_JS)
    ctx.close()
    assert got["sidebar"] == "true", "the sidebar starts collapsed"
    assert got["title"]["top"] >= got["header"]["bottom"] - 1, got  # not under the header
    assert not got["controls"], f"controls outside the folded Controls: {got['controls']}"
    assert got["charts"], "no chart on the page"
    for i, chart in enumerate(got["charts"], 1):
        assert chart["bottom"] <= H + 1, f"chart {i} of {len(got['charts'])} is not whole: {chart}"
        assert chart["left"] >= 0 and chart["right"] <= W, (i, chart)
