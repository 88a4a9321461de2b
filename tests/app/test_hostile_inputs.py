"""A corpus of hostile query strings: each gives a clear message (or is ignored), never a traceback."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain import preset

ROOT = Path(__file__).resolve().parents[2]
GOOD = preset("resnet20").to_params()

SPEC_CORPUS = [
    {"net": "b16*1000000"}, {"net": "b99999"}, {"net": "b0"}, {"net": "b16/9"}, {"net": "q16"}, {"net": "x20"},
    {"net": "b16:Z"}, {"net": ""}, {"net": "~~~"}, {"net": ",,,"}, {"net": "b16" * 2000},
    {"net": "<script>alert(1)</script>"}, {"net": "'; DROP TABLE nets; --"}, {"net": "b16\x00"},
    {"net": "b１６"}, {"net": "🙂"}, {"net": "b16", "fam": "transformer"}, {"net": "b16", "act": "swish"},
    {"net": "b16", "norm": "layer"}, {"net": "b16", "init": "orthogonal"}, {"net": "b16", "alpha": "inf"},
    {"net": "b16", "alpha": "-1"}, {"net": "b16", "alpha": "1e309"}, {"net": "b16", "zil": "maybe"},
    {"net": "b16", "cls": "0"}, {"net": "b16", "cls": "99999999999"}, {"net": "b16", "ins": "1"},
    {"net": "b16", "inc": "abc"}, {"net": "b16", "stem": "0x10"}, {"net": "b16", "inf": "-5"},
    {"net": "b16", "foo": "bar"}, {"net": "b16", "__class__": "x"},
    {"fam": "mlp", "net": "b16/2"}, {"net": "b32,b16"},
    {**GOOD, "act": "<img src=x onerror=alert(1)>"},
    {"net": "k2"},
]
SIDEBAR_CORPUS = [
    {"seed": "-1"}, {"seed": "1e99"}, {"seed": "abc"}, {"seed": "9" * 40}, {"device": "tpu"},
    {"device": "<script>"}, {"presenter": "2"}, {"controls": "🙂"}, {"batch": "nan"},
]
PAGES = ["app_pages/builder.py", "app_pages/gradient_flow.py", "app_pages/highway.py"]


def _run(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page).run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_hostile_spec_queries(page):
    tracebacks, warned = 0, 0
    for q in SPEC_CORPUS:
        at = _run(page, q)
        tracebacks += len(at.exception)
        warned += any("could not be read" in w.value for w in at.warning)
        assert not at.exception, (q, [e.value for e in at.exception])
        assert at.title, q
    print(f"\n{page}: {len(SPEC_CORPUS)} bad spec queries tried, {warned} warned, {tracebacks} tracebacks")
    assert warned == len(SPEC_CORPUS)


def test_hostile_sidebar_values():
    for q in SIDEBAR_CORPUS:
        at = _run("app_pages/gradient_flow.py", q)
        assert not at.exception, (q, [e.value for e in at.exception])
    print(f"\n{len(SIDEBAR_CORPUS)} bad sidebar values tried, 0 tracebacks")
