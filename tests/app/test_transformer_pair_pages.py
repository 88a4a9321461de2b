"""AppTest for a Transformer on "Train your network" and "Lesion Study": a tiny Transformer and its
twin (every skip off) trained to the end under a tiny host budget (RESNET_EXPLAIN_LM_BUDGET), with
the curves beside the byte-frequency loss; then the Lesion Study of that pair (a background job)
and of the Transformers page's stored pair (read at once), with the fair-pair rule in nats."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.chance import unfair_lm_sides
from resnet_explain.data.text import TextRecipe, unigram_loss
from resnet_explain.experiments import lm_lesion
from resnet_explain.experiments.transformers_stored import load_stored
from resnet_explain.train import budgets
from resnet_explain.train.runs import RunStore

from .chartdata import chart_frames
from .jobs import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
YN, LESION = (str(ROOT / "app_pages" / f"{p}.py") for p in ("your_network", "lesion"))
TIMEOUT = 90
# 2 layers of width 16, 2 heads, context 16: a few seconds for the pair on one CPU thread.
NET = {"fam": "transformer", "net": "a16,m16~a16,m16", "act": "gelu", "norm": "pre", "heads": "2",
       "ctx": "16"}
TINY_LM = {"name": "tiny", "data": {"context": 16, "n_val": 32},
           "config": {"max_steps": 6, "eval_every": 3, "batch_size": 8, "warmup_steps": 2, "lr": 3e-3}}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv(budgets.LM_BUDGET_ENV, json.dumps(TINY_LM))
    monkeypatch.delenv(budgets.CAP_ENV, raising=False)
    monkeypatch.setenv("RESNET_EXPLAIN_LESION_AUTO_S", "0")  # the study waits for Start
    return tmp_path


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def train_page() -> AppTest:
    at = AppTest.from_file(YN, default_timeout=TIMEOUT)
    at.query_params.update(NET)
    return at.run()


def test_a_tiny_transformer_and_its_twin_train_then_the_lesion_study_reads_them(cache):
    at = train_page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="yn_budget").value == "tiny"  # the host's own LM budget is the default
    assert any("windows of 16 bytes" in c.value and "train, roughly" in c.value for c in at.caption)
    assert not any("He et al.'s CIFAR nets" in c.value for c in at.caption)  # image depths: not here
    at.button(key="yn_start").click().run()
    at = wait_for_job(at, "yn_job", TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert next(s.label for s in at.status).startswith("Finished: 2 trained, 0 loaded")
    job = at.session_state["yn_job"]
    assert [(r["run"], r["step"]) for r in job.records] == [(1, 3), (1, 6), (2, 3), (2, 6)]
    store = RunStore(root=cache / "runs")
    table = at.dataframe[0].value
    assert list(table["network"]) == ["your network", "its twin"]
    assert list(table["architecture"]) == ["residual", "plain"]
    # The reference, computed independently: byte frequencies of the training windows, scored on
    # the validation windows of the runs' own recipe.
    train, val = TextRecipe(context=16, n_val=32).load()
    ref = unigram_loss(train, val)
    for row in table.to_dict("records"):
        run = store.get(row["run id"])
        assert run.request.identity()["data"]["sha256"] == train.meta["sha256"]  # corpus hash in the id
        assert row["validation loss"] == round(run.meta["val_loss"], 3)
        assert row["below byte frequencies"] == pytest.approx(round(ref - run.meta["val_loss"], 3), abs=1e-3)
    frames = [f for fs in chart_frames(at) for f in fs]
    curves = max((f for f in frames if "val_loss" in f.columns and "net" in f.columns), key=len)
    assert set(curves["net"]) == {"residual-2", "plain-2"} and set(curves["step"]) == {0, 3, 6}
    rule = [f for f in frames if "what" in f.columns and f["what"].str.contains("byte frequencies").any()]
    assert rule and rule[0]["y"].iloc[0] == pytest.approx(unigram_loss(train, val.subset(128)))  # the curves' windows
    losses = {r: store.get(i).meta["val_loss"] for r, i in zip(table["network"], table["run id"])}
    flags = unfair_lm_sides(losses, ref)
    said = text(at)
    for role in losses:  # each side's sentence says what the one rule says of it
        assert f"({role}) ended at **{losses[role]:.3f}**" in said
    if len(flags) == 2:  # 6 steps: usually neither side leaves the byte-frequency loss
        assert "not testable here" in said
    ids = tuple(table["run id"])
    assert at.session_state["run_pairs"] == [ids]
    # Attribution and Landscape read images: their picker leaves the pair out, the Lesion Study's takes it.
    from resnet_explain.ui.run_picker import choices

    assert all(isinstance(c.key, int) for c in choices([ids], store))  # the shipped CNN twins only
    assert [c.ids for c in choices([ids], store, "transformer")] == [ids]
    assert not [b for b in at.button if b.key == "yn_q"]  # no gradient snapshots for a language model
    # A Loss Landscape link to it: the server has the run, it is not an image network; said so
    # (not "no such run"), the shipped twins shown, and the way to its lesion offered.
    ld = AppTest.from_file(str(ROOT / "app_pages" / "landscape.py"), default_timeout=TIMEOUT)
    ld.query_params["run"] = ids[0]
    ld.run()
    assert not ld.exception, [e.value for e in ld.exception]
    assert any(f"run `{ids[0]}`, a Transformer" in i.value for i in ld.info)
    assert not any("no such run" in w.value for w in ld.warning)

    # The Lesion Study: the pair's link opens the Transformer side with this pair.
    ls = AppTest.from_file(LESION, default_timeout=TIMEOUT)  # a fresh session: the link alone
    ls.query_params["run"] = ids[0]
    ls.run()
    assert not ls.exception, [e.value for e in ls.exception]
    assert ls.segmented_control(key="ls_family").value == "Transformers"
    assert ls.selectbox(key="ls_tf_pair").value == ids[0]
    # the link now carries what trains the pair again elsewhere: network, seed, budget
    assert (ls.query_params["run_budget"], ls.query_params["run_seed"]) == ("tiny", "0")
    assert ls.query_params["run_net"] == store.get(ids[0]).request.spec
    assert any("forward passes over 128 validation windows" in c.value for c in ls.caption)
    ls.button(key="ls_tf_start").click().run()
    ls = wait_for_job(ls, "ls_tf_job", TIMEOUT)
    assert not ls.exception, [e.value for e in ls.exception]
    assert not ls.dataframe  # the numbers are drawn when their expander opens
    ls.session_state["ls_tf_numbers"] = True  # what a click on the expander sends
    ls.run()
    shown = ls.dataframe[0].value
    # The numbers are transformers_trained.lesion's on each run's own model and validation windows.
    for arch, run_id in (("residual", ids[0]), ("plain", ids[1])):
        run = store.get(run_id)
        model = run.load_model()[0]
        want = lm_lesion.tft.lesion(model, run.request.data.load()[1], lm_lesion.WINDOWS)
        got = shown[shown["arch"] == arch].set_index("removed")["delta"]
        for _, row in want[want["unit"] != "none"].iterrows():
            assert got[row["removed"]] == pytest.approx(row["delta"], abs=1e-5)
    metric = {m.label: m.value for m in ls.metric}
    assert metric["byte frequencies only"] == f"{unigram_loss(train, val.subset(lm_lesion.WINDOWS)):.3f}"


def test_the_lesion_study_reads_the_transformers_pages_stored_pair_at_once(cache):
    at = AppTest.from_file(LESION, default_timeout=TIMEOUT)
    at.query_params.update({"ls_family": "Transformers", "ls_unit": "sublayer"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="ls_tf_pair").value == "stored" and not at.status
    at.session_state["ls_tf_numbers"] = True  # open the numbers' expander (drawn when opened)
    at.run()
    stored = load_stored()
    shown = at.dataframe[0].value
    pre = stored.lesion[(stored.lesion["variant"] == "pre-LN") & (stored.lesion["unit"] != "none")]
    got = shown[shown["arch"] == "residual"].set_index("removed")["delta"]
    assert len(got) == len(pre) and all(got[r] == pytest.approx(d) for r, d in zip(pre["removed"], pre["delta"]))
    train, val = budgets.LM_DATA.load()  # the stored pair's recipe; the tables' 128 windows
    ref = unigram_loss(train, val.subset(lm_lesion.WINDOWS))
    assert {m.label: m.value for m in at.metric}["byte frequencies only"] == f"{ref:.3f}"
    base = stored.lesion[(stored.lesion["unit"] == "none")].set_index("variant")["val_loss"]
    flags = unfair_lm_sides({"plain-6": base["no skips"], "residual-6": base["pre-LN"]}, ref)
    assert flags == {"plain-6": "near chance"}  # the no-skip twin stayed at the byte-frequency loss
    warning = "\n".join(w.value for w in at.warning)
    assert "**plain-6 never left the byte-frequency loss**" in warning and "no verdict" in warning
    assert "In short" not in text(at) and "not testable here" in text(at)
    assert "Validation loss added when one sublayer is deleted" in [h.value for h in at.subheader]


def test_the_default_transformer_pair_is_not_refused_on_the_target_host(tmp_path, monkeypatch):
    """The Builder's Transformer (tf-preln: 6 layers, width 128) and its twin under the quick budget
    fit the cap at 1.5x the target host's time, as every page's default (test_default_not_refused)."""
    from resnet_explain.spec.presets import PRESETS
    from resnet_explain.train import estimate as E

    from .hostspeed import target

    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), target(1.5))
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    for env in (budgets.CAP_ENV, budgets.LM_BUDGET_ENV):
        monkeypatch.delenv(env, raising=False)
    at = AppTest.from_file(YN, default_timeout=TIMEOUT)
    at.query_params.update(PRESETS["tf-preln"][1].to_params())
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="yn_budget").value == "quick"
    assert not [w for w in at.warning if w.value.startswith("Start is off")]
    assert not at.button(key="yn_start").disabled
    at.radio(key="yn_budget").set_value("full").run()  # 10x the steps, 4x the batch: a GPU's
    assert [w for w in at.warning if w.value.startswith("Start is off")] and at.button(key="yn_start").disabled


def test_a_link_to_a_transformer_run_this_server_lacks_offers_to_train_it(cache):
    from resnet_explain.spec import NetSpec

    net = NetSpec.from_query("&".join(f"{k}={v}" for k, v in NET.items())).to_query()
    at = AppTest.from_file(LESION, default_timeout=TIMEOUT)
    at.query_params.update({"run": "0123456789abcdef", "run_net": net, "run_seed": "0", "run_budget": "tiny"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.segmented_control(key="ls_family").value == "Transformers"
    assert any("no such run" in w.value for w in at.warning)
    assert at.selectbox(key="ls_tf_pair").value == "stored"  # shown meanwhile
    button = next(b for b in at.get("link_button"))
    assert "Train it here" in button.proto.label and "fam=transformer" in button.proto.url
