"""Nothing clipped at 1280 and 1400 px wide: on the pages a presenter found cut, every rendered chart
(Streamlit draws Vega-Lite as SVG) fits its container, and every axis title, legend label and
legend title is drawn inside its chart (Vega draws a text that does not fit past the SVG's edge,
where it is cut, or ends it with "…" at its limit). Tables: no column cut at the right edge."""

import pytest

from .conftest import wait_for_app

pytestmark = pytest.mark.e2e

# Train Your Network's profile chart appears only after a run: its y title is wrapped by the same
# rule (charts.axes.fit_title) as the charts measured here.
# Loss Landscape's two fixed-size panels and their legends, also at the presenter's size.
PAGES = ("highway", "misconceptions", "architectures", "real-models", "gradient-flow", "vanishing",
         "landscape", "landscape?presenter=true")
WIDTHS = (1280, 1400)

# For every chart on the page: its SVG's box against its container's, and each text Vega drew as
# an axis title, legend label or legend title against the SVG's box.
FIT_JS = """() => {
  const out = [];
  const r = (el) => el.getBoundingClientRect();
  document.querySelectorAll('[data-testid=stVegaLiteChart]').forEach((chart, i) => {
    const svg = chart.querySelector('svg.marks');
    if (!svg || !svg.getClientRects().length) return;
    const s = r(svg), box = r(chart.parentElement);
    if (s.right > box.right + 1 || s.left < box.left - 1)
      out.push(`chart ${i}: svg ${s.left.toFixed(0)}..${s.right.toFixed(0)} past its container `
               + `${box.left.toFixed(0)}..${box.right.toFixed(0)}`);
    svg.querySelectorAll('.role-axis-title text, .role-legend-label text, .role-legend-title text, '
                         + '.role-title-text text').forEach((t) => {
      const b = r(t), txt = t.textContent;
      if (!txt) return;
      // a text's box is its line box: its ascent may stick out a few px while every glyph is drawn
      if (b.left < s.left - 4 || b.right > s.right + 4 || b.top < s.top - 4 || b.bottom > s.bottom + 4)
        out.push(`chart ${i}: "${txt}" cut by its chart's edge`);
      else if (txt.endsWith('…')) out.push(`chart ${i}: "${txt}" cut short`);
    });
  });
  return out;
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PAGES)
def test_no_chart_or_title_is_cut(server, browser, shots, path, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.goto(f"{server}/{path}")
    wait_for_app(page, timeout=300_000)
    page.wait_for_selector("[data-testid=stVegaLiteChart] svg", timeout=180_000)
    wait_for_app(page, timeout=300_000)
    page.wait_for_timeout(1500)  # Vega lays a container-wide chart out again after it is sized
    cut = page.evaluate(FIT_JS)
    if cut:
        page.screenshot(path=str(shots / f"cut_{path.replace('?', '_')}_{width}.png"), full_page=True)
    ctx.close()
    assert not cut, "\n".join(cut)
