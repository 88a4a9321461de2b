"""A Transformer on Train Your Network and the Lesion Study, as a library: its budgets, the one
estimator's price of a language-model run, the byte-frequency reference, the fair-pair rule in nats,
the pair's table/curves/sentences, and the lesion's long table and findings — each against an
independent computation (numpy counts, hand arithmetic, pandas)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from resnet_explain import chance
from resnet_explain.charts.lesion import lm_lesion_chart
from resnet_explain.charts.training import lm_loss_chart
from resnet_explain.content import lesion as lesion_text
from resnet_explain.content import your_network as yn_text
from resnet_explain.data.text import TextRecipe
from resnet_explain.experiments import lm_lesion
from resnet_explain.experiments import your_lm
from resnet_explain.experiments import your_network as yn
from resnet_explain.spec.transformer import transformer_spec
from resnet_explain.train import budgets as B
from resnet_explain.train import estimate as E
from resnet_explain.train.lm_trainer import EVAL_WINDOWS
from resnet_explain.train.runs import LM_TRAIN_WINDOWS, RunStore

TINY_ENV = {B.LM_BUDGET_ENV: json.dumps({"name": "tiny", "data": {"context": 16, "n_val": 32},
                                         "config": {"max_steps": 4, "eval_every": 2, "batch_size": 8}})}
SPEC = transformer_spec(depth=2, width=16, heads=2, context=16)


# ---- budgets and the estimate --------------------------------------------------------------------
def test_a_transformer_gets_the_language_model_budgets_under_the_page_names():
    b = B.host_budgets({}, family="transformer")
    assert list(b) == ["quick", "full"] and b["quick"] is B.LM_BUDGETS["lm-quick"]
    assert b["full"].config.batch_size == 64 and b["full"].config.max_steps == 1500
    tiny = B.host_budgets(TINY_ENV, family="transformer")
    assert list(tiny) == ["tiny", "quick", "full"]
    t = tiny["tiny"]  # the rest from lm-quick's recipe and config
    assert (t.data.context, t.data.n_val, t.data.kind) == (16, 32, "stdlib")
    assert (t.config.optimizer, t.config.warmup_steps, t.config.grad_clip, t.config.amp) == ("adamw", 15, 1.0, "off")
    assert list(B.host_budgets(TINY_ENV)) == ["quick", "full"]  # an image network's: not this variable
    with pytest.raises(B.BudgetError, match=B.LM_BUDGET_ENV):
        B.host_budgets({B.LM_BUDGET_ENV: '{"config": {"max_stepz": 3}}'}, family="transformer")


def test_a_budget_reads_windows_as_long_as_the_networks_context():
    req = B.LM_BUDGETS["lm-quick"].request(SPEC, seed=2)
    assert req.data.context == 16 and req.config.seed == 2
    assert B.LM_BUDGETS["lm-quick"].request(transformer_spec(), 0).data == B.LM_DATA  # 64: unchanged


def test_the_estimate_of_a_language_model_run_is_its_steps_and_forward_passes():
    speed = E.HostSpeed(("cpu", 1), E.Line(1e-3, 2e-11), E.Line(5e-4, 1e-11), 1e-7)
    budget = B.host_budgets(TINY_ENV, family="transformer")["tiny"]
    req = budget.request(SPEC, 0, "cpu")
    flops = E.estimate_cost(SPEC).flops
    train = 4 * (2 * 1e-3 + flops * 8 * 2e-11)  # 4 steps of batch 8, 2 layers
    windows = (1 + 2) * min(EVAL_WINDOWS, 32) + LM_TRAIN_WINDOWS + 32  # rows at 0, 2, 4; finals
    forward = math.ceil(windows / 64) * 2 * 5e-4 + flops * windows * 1e-11
    assert speed.run_seconds(req) == pytest.approx(train + forward)
    assert E.lm_steps(req) == 4
    # max_steps not reached: the epochs over the corpus's windows decide
    from dataclasses import replace
    long = replace(req, config=replace(req.config, max_steps=10**9, epochs=1))
    n_train = len(req.data.load()[0])
    assert E.lm_steps(long) == n_train // 8


# ---- the fair-pair rule in nats ------------------------------------------------------------------
@pytest.mark.parametrize("losses, flags", [
    ({"a": 2.37, "b": 3.081}, {"b": "near chance"}),  # the stored pre-LN pair
    ({"a": 3.06, "b": 3.09}, {"a": "near chance", "b": "near chance"}),
    ({"a": 2.0, "b": 2.9}, {"b": "far worse"}),  # 0.175 of a's 1.075 nats below 3.075
    ({"a": 2.0, "b": 2.5}, {}),  # 0.575 of 1.075: more than half
    ({"a": 2.0, "b": float("nan")}, {"b": "near chance"}),  # diverged
])
def test_the_one_rule_in_nats(losses, flags):
    ref = 3.075
    assert chance.unfair_lm_sides(losses, ref) == flags
    gains = {n: ref - v for n, v in losses.items()}  # the rule by hand
    for n, g in gains.items():
        best = max(v for m, v in gains.items() if m != n)
        near = not g >= chance.NEAR_REFERENCE_NATS
        far = not near and best >= chance.NEAR_REFERENCE_NATS and g < chance.FAR_WORSE * best
        assert (n in flags) == (near or far)


def test_the_accuracy_rule_is_unchanged_by_the_common_core():
    for a, b in [(0.15, 0.95), (0.3, 0.95), (0.6, 0.95), (0.12, 0.13), (0.5, 0.55)]:
        old = {}
        for n, acc, other in (("p", a, b), ("r", b, a)):
            if chance.near_chance(acc, 0.1):
                old[n] = "near chance"
            elif chance.far_worse(acc, other, 0.1):
                old[n] = "far worse"
        assert chance.unfair_sides({"p": a, "r": b}, 0.1) == old


# ---- the pair: reference, table, curves, sentences -----------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    store = RunStore(root=tmp_path_factory.mktemp("runs"), shipped_root=tmp_path_factory.mktemp("none"))
    p = yn.plan(SPEC, B.host_budgets(TINY_ENV, family="transformer")["tiny"], 0, "cpu", store, None,
                lambda r: 1.0)
    records = []
    yn.train_pair(p, store, progress=records.append)
    return p, yn.stored_pair(p, store), records


def test_the_reference_is_the_byte_frequency_loss_of_the_recipe():
    recipe = TextRecipe(context=16, n_val=32)
    train, val = recipe.load()
    counts = np.bincount(train.tokens[:, 1:].numpy().ravel(), minlength=256) + 0.5
    logq = np.log(counts / counts.sum())
    want = -logq[val.tokens[:, 1:].numpy().ravel()].mean()
    assert your_lm.reference_loss(recipe) == pytest.approx(want, rel=1e-9)


def test_the_pair_trains_records_steps_and_reads_as_a_table(pair):
    p, runs, records = pair
    assert p.language and p.planned_epochs == 4 and [r.rows for r in p.runs] == [2, 2]
    assert all(r.request.config.snapshot_every == 0 for r in p.runs)  # no snapshots for text
    assert [(r["role"], r["step"]) for r in records] == [("your network", 2), ("your network", 4),
                                                        ("its twin", 2), ("its twin", 4)]
    ref = 3.2
    table = your_lm.lm_table(runs, ref)
    for row, (_, run) in zip(table.to_dict("records"), runs):
        assert row["validation loss"] == round(run.meta["val_loss"], 3)
        assert row["below byte frequencies"] == round(ref - run.meta["val_loss"], 3)
    curves = your_lm.lm_curves(runs)
    assert list(curves["step"]) == [0, 2, 4, 0, 2, 4] and set(curves["net"]) == {"residual-2", "plain-2"}
    live = your_lm.records_curves(records)
    assert list(live["val_loss"]) == [r["val_loss"] for r in records]
    spec = lm_loss_chart(curves, ref).to_dict()
    assert spec["layer"][0]["mark"]["type"] == "rule"  # the reference, drawn first
    line = (yn_text.epoch_line(records[0]))
    assert "step 2" in line and f"{records[0]['val_loss']:.3f}" in line


def _findings(a, b, ref=3.075, steps=150):
    sides = {"your network": a, "its twin": b}
    flags = chance.unfair_lm_sides(sides, ref)
    return {"reference": ref, "steps": steps, "sides": {
        r: {"net": n, "arch": "x", "val_loss": v, "gain": ref - v, "diverged": False, "flag": flags.get(r)}
        for (r, v), n in zip(sides.items(), ("residual-6", "plain-6"))}}


def test_the_sentences_follow_the_rule():
    s = " ".join(yn_text.lm_pair_sentences(_findings(2.369, 3.081)))
    assert "**2.369**" in s and "**0.706 below**" in s and "0.006 above" in s
    assert "only residual-6 (your network) got past byte frequencies" in s
    s = " ".join(yn_text.lm_pair_sentences(_findings(3.06, 3.09)))
    assert "not testable here" in s and "got past" not in s
    s = " ".join(yn_text.lm_pair_sentences(_findings(2.40, 2.42)))
    assert "about the same" in s and "0.020" in s
    s = " ".join(yn_text.lm_pair_sentences(_findings(5.4, 5.3)))
    assert "did not even learn how often each byte occurs" in s


# ---- the lesion ---------------------------------------------------------------------------------
def _table(base, deltas):
    rows = [{"unit": "none", "removed": "none", "layer": -1, "val_loss": base, "delta": 0.0}]
    rows += [{"unit": "layer", "removed": f"layer{i}", "layer": i, "val_loss": base + d, "delta": d}
             for i, d in enumerate(deltas)]
    return pd.DataFrame(rows)


def test_the_lesion_findings_are_medians_of_the_deltas_and_flag_by_the_rule():
    tables = {"plain": _table(3.09, [7.6, 0.0, 0.001]), "residual": _table(2.37, [0.78, 0.03, 0.002])}
    long = lm_lesion.lesion_long(tables, 3)
    assert len(long) == 6 and set(long["net"]) == {"plain-3", "residual-3"}
    f = lm_lesion.findings(long, 3.075)
    assert f["residual"]["median_delta"] == pytest.approx(np.median([0.78, 0.03, 0.002]))
    assert f["residual"]["worst"] == "layer0" and f["residual"]["flag"] is None
    assert f["plain"]["flag"] == "near chance" and f["plain"]["base_loss"] == 3.09
    assert lesion_text.lm_verdict(f) is None
    assert "never left the byte-frequency loss" in lesion_text.lm_pair_warning(f, 3.075)
    assert "1 of 3 layers adds more than 0.1" in lesion_text.lm_side_sentence(f["residual"])
    fair = lm_lesion.findings(lm_lesion.lesion_long(
        {"plain": _table(2.6, [0.9, 0.5, 0.4]), "residual": _table(2.37, [0.78, 0.03, 0.002])}, 3), 3.075)
    assert lesion_text.lm_pair_warning(fair, 3.075) is None
    assert "as Veit et al. found" in lesion_text.lm_verdict(fair)
    assert lm_lesion_chart(long).to_dict()["mark"]["type"] == "bar"


def test_a_study_counts_its_passes_and_stops_between_networks():
    from resnet_explain.errors import Stopped
    from resnet_explain.model import build_model

    val, _ = TextRecipe(context=16, n_val=32).load()
    twins = {a: (lambda s=s: (build_model(s, seed=0),), val) for a, s in (("plain", SPEC.twin()), ("residual", SPEC))}
    seen = []
    tables, secs = lm_lesion.study_pair(twins, 8, progress=seen.append)
    assert seen == [lm_lesion.lesion_passes(SPEC), 2 * lm_lesion.lesion_passes(SPEC)] == [7, 14]
    assert set(tables) == {"plain", "residual"} and len(tables["plain"]) == 7
    with pytest.raises(Stopped):
        lm_lesion.study_pair(twins, 8, should_stop=lambda: True)


def test_a_stopped_language_model_run_is_not_stored(tmp_path):
    store = RunStore(root=tmp_path / "runs", shipped_root=tmp_path / "none")
    p = yn.plan(SPEC, B.host_budgets(TINY_ENV, family="transformer")["tiny"], 1, "cpu", store, None,
                lambda r: 1.0)
    res = yn.train_pair(p, store, should_stop=lambda: True)
    assert res.runs == [] and res.stopped.role == "your network"
    assert not any(store.has(i) for i in p.run_ids)
