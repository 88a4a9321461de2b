"""A cached visit does not rebuild what the page shows (issue 24: cost per cached visit): the
second new visitor of a page gets its tables and sentences from the cache, and sees the same page.

Each test clears Streamlit's data cache, counts calls of a builder that used to run on every
visit, opens the page twice (two fresh AppTests: two sessions, one process, as on a server) and
checks the builder ran on the first visit (the count sees it) and not on the second, and that both
visits show the same text."""

import importlib
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]


def visit(page: str) -> str:
    """A new visitor's view of ``page`` (through app.py, as a server runs it: its page links resolve)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def counted(monkeypatch, module, name: str) -> list:
    calls, real = [], getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("page, module, name", [
    ("why_plain_fails.py", "resnet_explain.content.mechanisms", "gradient_sentence"),  # ~50 ms a visit
    ("gradient_flow.py", "resnet_explain.charts.gradflow", "weight_grad_long"),
    ("gradient_flow.py", "resnet_explain.charts.gradflow", "numbers_table"),
    ("training.py", "resnet_explain.experiments.degradation", "convergence"),
    ("training.py", "resnet_explain.charts.training", "curves_long"),  # ui.training_panel, via cached_view
    ("training.py", "resnet_explain.charts.training", "convergence_display"),
    ("vanishing.py", "resnet_explain.experiments.vanishing", "vanishing_long"),
    ("highway.py", "resnet_explain.experiments.highway", "highway_table"),
    ("learning_rates.py", "resnet_explain.content.training_lr", "stored_statement"),
    ("why_residuals_work.py", "resnet_explain.content.why_residuals", "reasons"),
    ("transformers.py", "resnet_explain.content.transformers", "grid_sentences"),
    ("transformers.py", "resnet_explain.content.transformers", "sort_sentences"),
])
def test_second_visit_is_served_from_the_cache(monkeypatch, page, module, name):
    st.cache_data.clear()
    calls = counted(monkeypatch, importlib.import_module(module), name)
    first = visit(page)
    n = len(calls)
    assert n >= 1, f"{name} did not run on the first visit: the count does not see it"
    second = visit(page)
    assert len(calls) == n, f"{name} ran again on a second visit: the page rebuilt it"
    assert second == first


@pytest.mark.parametrize("page, key", [("gradient_flow.py", "gf_numbers"), ("highway.py", "hw_numbers")])
def test_the_numbers_table_is_drawn_when_its_expander_opens(page, key):
    """A table on the default view makes every new browser fetch Streamlit's table code (~0.05
    server CPU-s, scripts/bench_pages.py --cpu); these pages' only table sits in a collapsed
    expander, so it is drawn when the expander is opened (Streamlit's lazy expander), not before."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "The numbers (per block)" in [e.label for e in at.main.expander]
    assert not at.dataframe
    at.session_state[key] = True  # what a click on the expander sends
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (table,) = at.dataframe
    assert len(table.value) and "grad_norm" in table.value.columns


def test_the_code_is_drawn_when_its_expander_opens():
    """Code on the default view makes every new browser fetch Streamlit's 1.6 MB syntax highlighter;
    "Show the code" (ui.show_code) draws the source when its expander is opened, not before."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/transformers.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Show the code: init_measurements" in [e.label for e in at.main.expander]
    assert not at.code
    at.session_state["code_resnet_explain_experiments_transformers_init_measurements"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (code,) = at.code
    assert code.value.startswith("def init_measurements(")
