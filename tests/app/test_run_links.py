"""AppTest: a ``run=`` link in a session that never trained anything. A run this server has opens
with its twin (the id is the capability); one it has not is named in a visible warning, with the
offer to train it here, and the shipped twins meanwhile; an id that is not an id is refused."""

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.spec import NetSpec
from resnet_explain.train.budgets import BUDGET_ENV, host_budgets
from resnet_explain.ui import run_picker
from resnet_explain.ui.url_keys import NON_SPEC_KEYS

ROOT = Path(__file__).resolve().parents[2]
LESION = str(ROOT / "app_pages" / "lesion.py")
ATTRIBUTION = str(ROOT / "app_pages" / "attribution.py")
FRESH = 'import runpy\nrunpy.run_path({page!r}, run_name="__main__")\n'  # no pair in the session
# The host budget the tiny pair was trained with (tests/app/jobs.py: tiny_pair_request), so its
# links carry a network, a seed and a budget's name.
TINY_BUDGET = {"name": "tiny", "data": {"n_train": 256, "n_test": 48, "size": 8, "difficulty": 0.0},
               "config": {"epochs": 4, "batch_size": 16, "lr": 0.05}}


@pytest.fixture(autouse=True)
def tiny_budget(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, json.dumps(TINY_BUDGET))


def fresh(page: str, **query) -> AppTest:
    at = AppTest.from_string(FRESH.format(page=page), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


@pytest.mark.parametrize("page,key", [(LESION, "ls_depth"), (ATTRIBUTION, "at_depth")])
def test_a_link_to_a_stored_run_opens_its_pair_for_whoever_holds_it(pair, page, key):
    yours, twin = pair
    at = fresh(page, run=yours.run_id)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=key).value == yours.run_id
    assert at.session_state["run_pairs"] == [(yours.run_id, twin.run_id)]
    assert "this server has" not in warnings(at)
    # the URL now carries what trains the pair again on another server
    assert at.query_params["run"] == yours.run_id and at.query_params["run_budget"] == "tiny"
    assert at.query_params["run_net"] == yours.request.spec and at.query_params["run_seed"] == "0"


def test_a_link_to_the_twin_opens_the_same_pair(pair):
    yours, twin = pair
    at = fresh(LESION, run=twin.run_id)
    assert not at.exception and at.selectbox(key="ls_depth").value == twin.run_id
    assert at.session_state["run_pairs"] == [(twin.run_id, yours.run_id)]


def test_a_run_this_server_does_not_have_is_said_plainly_and_offered_for_training(pair):
    yours, _ = pair
    again = host_budgets()["tiny"].request(yours.spec, 5)  # the same network, a seed never trained
    params = {"run": again.run_id, "run_net": yours.request.spec, "run_seed": "5", "run_budget": "tiny"}
    at = fresh(LESION, **params)
    assert not at.exception, [e.value for e in at.exception]
    text = warnings(at)
    assert f"This link names run `{again.run_id}`, but this server has no such run" in text
    assert "Showing the **shipped twins** instead" in text
    assert isinstance(at.selectbox(key="ls_depth").value, int)  # a shipped depth
    offer = at.get("link_button")[0].proto
    assert offer.label == ("Train it here: residual-8 and its twin, tiny budget, seed 5 (the same inputs "
                           "give the same run id) (opens a new tab)")
    page, _, query = offer.url.partition("?")
    train = parse_qs(query)  # the Train page's own keys: a fresh tab reads them from its URL
    assert page == "your-network" and train["seed"] == ["5"] and train["yn_budget"] == [host_budgets()["tiny"].label]
    assert NetSpec.from_query(query, ignore=NON_SPEC_KEYS) == yours.spec
    assert at.query_params["run"] == again.run_id  # the link stays as it came: a reload says it again
    at.run()
    assert f"run `{again.run_id}`" in warnings(at)


def test_a_missing_run_without_a_recipe_says_it_cannot_be_trained_again(pair):
    at = fresh(LESION, run="0123456789abcdef")
    assert not at.exception
    assert "this server has no such run" in warnings(at)
    assert any("carries no network, seed and budget" in c.value for c in at.caption)
    labels = at.selectbox(key="ls_depth").options
    assert all(o.startswith("shipped twins, depth ") for o in labels)  # nobody's runs are listed


def test_a_link_that_is_not_a_run_id_is_refused_and_never_read_as_a_path(pair):
    at = fresh(LESION, run="../../etc/passwd")
    assert not at.exception
    assert "is not a run id (16 hex digits)" in warnings(at)
    assert "run_pairs" not in at.session_state
    assert all(o.startswith("shipped twins, depth ") for o in at.selectbox(key="ls_depth").options)


def test_picking_another_pair_ends_the_stand_in(pair):
    at = fresh(LESION, run="0123456789abcdef")
    box = at.selectbox(key="ls_depth")
    at = box.select_index(len(box.options) - 1).run()
    assert not at.exception and "no such run" not in warnings(at)
    deepest = run_picker.choices([], run_picker.RunStore())[-1]  # the shipped pair picked
    assert at.query_params["run"] == deepest.ids[-1]
