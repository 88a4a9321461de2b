"""Run links: an id opens a stored pair, a link carries the recipe that trains its run again, and
nothing a link says is ever read as a path."""

import pytest

from resnet_explain.spec import cifar_resnet
from resnet_explain.train import run_links as rl
from resnet_explain.train.budgets import Budget
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import DataRecipe, RunStore, train_run, valid_run_id

TINY = Budget("tiny", "tiny: 64 images, 1 epoch", DataRecipe(n_train=64, n_test=16, size=8, difficulty=0.0),
              TrainConfig(epochs=1, batch_size=16, lr=0.05))
BUDGETS = {"tiny": TINY}
SPEC = cifar_resnet(8, skip=True, width=2, in_size=8)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("links")
    return RunStore(root=root / "runs", cap_bytes=10 * 2**20, shipped_root=root / "shipped")


@pytest.fixture(scope="module")
def yours(store):
    return train_run(TINY.request(SPEC, seed=3), store)[0]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "0123456789ABCDEF", "0123456789abcde",
                                 "0123456789abcdef0", "/tmp/0123456789a", "", None, 12345, "012345678 abcdef"])
def test_an_id_is_16_lowercase_hex_digits_and_nothing_else(bad, store):
    assert not valid_run_id(bad) and not store.has(bad) and rl.linked_pair(bad, store) is None


def test_a_link_opens_a_pair_only_when_the_server_has_both_runs(yours, store):
    assert valid_run_id(yours.run_id)
    assert rl.linked_pair(yours.run_id, store) is None  # its twin is not here yet
    twin, _ = train_run(yours.request.twin(), store)
    assert rl.linked_pair(yours.run_id, store) == (yours.run_id, twin.run_id)
    assert rl.linked_pair(twin.run_id, store) == (twin.run_id, yours.run_id)  # either side names it
    assert rl.linked_pair("0123456789abcdef", store) is None


def test_a_link_carries_the_recipe_that_trains_the_same_run_again(yours):
    assert rl.budget_name(yours, BUDGETS) == "tiny"
    params = rl.link_params(yours, BUDGETS)
    assert params == {"run": yours.run_id, "run_net": yours.request.spec, "run_seed": "3", "run_budget": "tiny"}
    again = rl.retrain(params, BUDGETS)
    assert again.same_id and again.request.run_id == yours.run_id and again.seed == 3
    page = again.train_page_params()
    assert page["seed"] == "3" and page["yn_budget"] == TINY.label and page["net"] == SPEC.to_params()["net"]
    # a link to the twin's id rebuilt from your network's recipe is the same pair
    assert rl.retrain({**params, "run": yours.request.twin().run_id}, BUDGETS).same_id
    assert not rl.retrain({**params, "run": "0123456789abcdef"}, BUDGETS).same_id


def test_a_run_no_named_budget_made_carries_its_id_only(yours):
    other = {"other": TINY.with_(epochs=2)}
    assert rl.budget_name(yours, other) is None
    assert rl.link_params(yours, other) == {"run": yours.run_id}


@pytest.mark.parametrize("change", [{"run_net": "fam=cnn&net=nonsense"}, {"run_seed": "-1"},
                                    {"run_seed": "../3"}, {"run_seed": "1" * 11}, {"run_budget": "huge"},
                                    {"run_net": ""}, {"run_budget": "__class__"}])
def test_an_unreadable_recipe_offers_nothing(yours, change):
    params = {**rl.link_params(yours, BUDGETS), **change}
    assert rl.retrain(params, BUDGETS) is None
