"""Issue 24: the first thing a room does was refused. Every long page's default view (and the
smallest live work of the pages whose default is stored) is not refused on the host we target — a
2-vCPU server, idle when it is timed once — with margin: at MARGIN times the target's time
(:mod:`.hostspeed` says where the target's speed comes from)."""

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from resnet_explain.spec import cifar_resnet
from resnet_explain.train import budgets
from resnet_explain.train import estimate as E

from .hostspeed import target

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
MARGIN = 1.5  # the defaults must fit the cap at 1.5x the target's time (the heaviest need 1.9x)


@pytest.fixture
def target_host(tmp_path, monkeypatch):
    """This process's host measurement is the target's (MARGIN slower); nothing is stored yet."""
    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), target(MARGIN))
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    for env in (budgets.CAP_ENV, budgets.BUDGET_ENV):
        monkeypatch.delenv(env, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def refusals(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Start is off")]


def test_the_target_line_gives_back_the_stored_deep_runs():
    runs = pd.read_csv(ROOT / "assets" / "degradation" / "runs.csv")
    want = 64 / float(runs[runs["depth"] == 56]["images_per_s"].median())
    got = target().train_step(cifar_resnet(56, width=8, in_size=16), 64)
    assert got == pytest.approx(want, rel=0.15)


@pytest.mark.parametrize("page, start", [("your_network", "yn_start"), ("learning_rates", "lrs_start"),
                                         ("training", "tr_start")])
def test_a_training_pages_default_is_not_refused(target_host, page, start):
    at = open_page(page)
    assert not refusals(at) and not at.button(key=start).disabled


def test_the_lesion_default_is_not_refused(target_host, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_LESION_AUTO_S", "0")  # wait for Start: nothing runs here
    at = open_page("lesion")
    assert not refusals(at) and not at.button(key="ls_start").disabled


def test_the_landscape_default_is_stored_and_its_smallest_grid_is_not_refused(target_host):
    """The issue: the smallest grid (11) was refused at 121 s against 120 s."""
    assert not refusals(open_page("landscape"))
    at = open_page("landscape", ll_grid="11")
    assert not refusals(at) and not at.button(key="ll_start").disabled


def test_a_landscape_over_the_cap_names_the_one_control_that_fits(target_host):
    at = open_page("landscape", ll_grid="31", ll_images="1024")
    said = refusals(at)
    assert len(said) == 1 and said[0].count("Set **") == 1 and at.button(key="ll_start").disabled
    assert "Set **Training images in the sample** to" in said[0] or "Set **Grid (points per axis)** to" in said[0]
    at = open_page("landscape", ll_grid="51", ll_images="5000")  # no one control is enough: the first step
    said = refusals(at)
    assert len(said) == 1 and "No one control is enough: set **" in said[0] and said[0].count("**") == 2


def test_the_architectures_default_is_stored_and_a_deeper_probe_is_not_refused(target_host, monkeypatch):
    assert not refusals(open_page("architectures"))
    monkeypatch.setenv("RESNET_EXPLAIN_INLINE_PROBE_SECONDS", "0")  # a job with Start, not inline
    monkeypatch.setenv("RESNET_EXPLAIN_AUTO_PROBE_SECONDS", "0")  # ... that waits for its button (a link's
    # cheap probes start by themselves: then the running job, not a refusal, turns Start off)
    at = open_page("architectures", ar_depth="32")
    assert not refusals(at) and not at.button(key="ar_probe").disabled
