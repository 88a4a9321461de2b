"""experiments/architectures: the Architectures page's rows equal probe_spec and estimate_cost computed
independently; the published row is the one with the variant's setting; Fixup's missing ratio is
said in words; stored training results are found by run id and by the precision-free id."""

import math

import numpy as np
import pandas as pd
import pytest

from resnet_explain.charts import architectures as charts
from resnet_explain.content import architectures as words
from resnet_explain.content.papers import HE16_TABLE1, ZOO_PUBLISHED
from resnet_explain.experiments import architectures as A
from resnet_explain.magnitude import fmt_ratio
from resnet_explain.probe import probe_spec
from resnet_explain.spec import estimate_cost
from resnet_explain.spec.zoo import VARIANTS, variant

NAMES = ["resnet", "fixup", "dense"]


@pytest.fixture(scope="module")
def table():
    return A.compare(8, NAMES, seed=1, batch=4)


def test_rows_equal_probe_spec_and_estimate_cost(table):
    assert list(table["variant"]) == NAMES
    for r in table.itertuples():
        spec = variant(r.variant, 8)
        cost = estimate_cost(spec)
        assert (r.layers, r.params, r.flops) == (spec.depth, cost.params, cost.flops)
        assert r.spec == spec.to_query() and r.twin_spec == spec.twin().to_query()
        net, twin = probe_spec(spec, seed=1, batch=4), probe_spec(spec.twin(), seed=1, batch=4)
        np.testing.assert_allclose(r.twin_ratio, twin.ratio, rtol=1e-9)
        if r.variant == "fixup":
            assert math.isnan(net.ratio) and math.isnan(r.ratio)
        else:
            np.testing.assert_allclose(r.ratio, net.ratio, rtol=1e-9)
            np.testing.assert_allclose(r.log10_ratio, math.log10(net.ratio), rtol=1e-9)


def test_fixup_says_why_it_has_no_ratio(table):
    fix = table.set_index("variant").loc["fixup"]
    assert fix["ratio_note"] == words.FIXUP_NOTE
    assert words.ratio_text(fix["ratio"], fix["ratio_note"]) == "none (classifier = 0)"
    shown = charts.table(table).set_index("variant")
    assert shown.loc[VARIANTS["fixup"].label, "first/last gradient"] == "none (classifier = 0)"
    assert shown.loc[VARIANTS["fixup"].label, "twin: first/last"] == "none (classifier = 0)"
    assert "nan" not in " ".join(shown["first/last gradient"] + shown["twin: first/last"]).lower()
    assert any("Fixup has no ratio" in s for s in words.sentences(table))


def test_published_rows_match_the_variant_setting():
    want = {"resnet": "6.61", "scale": "12.35", "gate": "8.70", "sgate": "6.91", "conv": "12.22",
            "drop": "fail"}
    for name, v in VARIANTS.items():
        p = A.published(v)
        if name in want:
            assert p in HE16_TABLE1 and p.value == want[name] and p.label == v.published
        elif name in ZOO_PUBLISHED:  # an idea from another paper: that paper's own figure
            assert p is ZOO_PUBLISHED[name] and v.published is None and p.number is not None
        else:
            assert p is None and v.published is None
    assert {"dense": "5.24", "resnext": "3.65", "stochastic": "5.25"} == {
        n: p.value for n, p in ZOO_PUBLISHED.items()}


def test_published_columns_and_builder_links(table):
    r = table.set_index("variant").loc["resnet"]
    assert r["published_error"] == 6.61 and r["published_source"] == A.PUBLISHED_NOTE
    dense = table.set_index("variant").loc["dense"]
    assert dense["published_error"] == 5.24 and dense["published_source"].startswith("Huang et al. 2017 table 2")
    assert math.isnan(table.set_index("variant").loc["fixup", "published_error"])
    links = charts.table(table)["open in builder"]
    assert list(links) == [f"builder?{q}" for q in table["spec"]]


def test_stored_training_results_by_run_id_then_without_precision():
    req = A.request("resnet", 8, seed=0)
    row = {"run_id": "0" * 16, "base_id": A.base_id(req), "amp": "bf16", "train_error": 0.25,
           "test_error": 0.5}
    got = A.run_result(req, None, pd.DataFrame([row]))
    assert got["train_error"] == 0.25 and got["train_source"] == "shipped result (bf16 run)"
    got = A.run_result(req, None, pd.DataFrame([{**row, "run_id": req.run_id}]))
    assert got["train_source"] == "shipped result" and got["run_id"] == req.run_id
    assert A.run_result(A.request("dense", 8), None, pd.DataFrame([row])) is None


def test_plan_prices_each_missing_variant_with_the_one_estimator(tmp_path):
    from resnet_explain.train.runs import RunStore

    store = RunStore(root=tmp_path, shipped_root=tmp_path)
    plan = A.plan_training(8, ["resnet", "dense"], 3, store,
                           seconds=lambda r: estimate_cost(r.netspec).flops / 1e6)
    assert [p.name for p in plan] == ["resnet", "dense"]
    f = [estimate_cost(p.request.netspec).flops for p in plan]
    assert [p.estimate for p in plan] == pytest.approx([f[0] / 1e6, f[1] / 1e6])


def test_sentences_are_read_off_the_numbers(table):
    s = " ".join(words.sentences(table))
    for r in table[table["ratio"].map(math.isfinite)].itertuples():
        said = f"{r.label} ({fmt_ratio(r.ratio)})"
        assert s.count(said) == 1, said  # every finite ratio in exactly one group
        group = ("Within" if 0.5 < r.ratio < 2 else "Shrinks" if r.ratio <= 0.5 else "Grows")
        assert s.index(group) < s.index(said)


def test_chart_keeps_every_variant(table):
    long = charts.ratio_long(table)
    assert len(long) == 2 * len(table)
    assert set(long.loc[~long["measured"], "variant"]) >= {VARIANTS["fixup"].label}
    charts.chart(table).to_dict()


def test_train_stores_the_run_and_the_next_table_loads_it(tmp_path):
    from resnet_explain.train.runs import RunStore

    store = RunStore(root=tmp_path, shipped_root=tmp_path)
    first = A.compare(8, ["fixup"], seed=2, batch=4, store=store, train=True).iloc[0]
    req = A.request("fixup", 8, seed=2)
    assert first["run_id"] == req.run_id and first["train_source"] == "stored run"
    assert first["train_error"] == store.get(req.run_id).meta["train_error"]
    again = A.compare(8, ["fixup"], seed=2, batch=4, store=store).iloc[0]
    assert again["train_error"] == first["train_error"]
    assert A.plan_training(8, ["fixup"], 2, store, seconds=lambda r: 1.0) == []


def test_training_together_stores_the_same_runs_as_training_in_turn(tmp_path):
    """together=True (the CUDA default): the missing variants train at once
    (train/concurrent.py); each is stored under its own run id with its own name."""
    from dataclasses import replace

    from resnet_explain.train.runs import RunStore

    plan = [replace(p, request=replace(p.request, config=replace(p.request.config, epochs=1, amp="off",
                                                                 channels_last="off")))
            for p in A.plan_training(8, ["resnet", "preact"], 1, RunStore(root=tmp_path / "x", shipped_root=tmp_path),
                                     seconds=lambda r: 0.0)]
    small = [replace(p, request=replace(p.request, data=replace(p.request.data, n_train=64, n_test=32)))
             for p in plan]
    stores = [RunStore(root=tmp_path / k, shipped_root=tmp_path / "none") for k in ("turn", "together")]
    seen = []
    assert A.train_missing(small, stores[0], together=False) == ["resnet", "preact"]
    assert A.train_missing(small, stores[1], seen.append, together=True) == ["resnet", "preact"]
    assert {r["variant"] for r in seen} == {"resnet", "preact"}
    for p in small:
        a, b = (s.get(p.request.run_id).meta for s in stores)
        assert b["name"] == a["name"] == f"{p.name}-8" and b["label"] == "architectures page"
        assert abs(a["train_error"] - b["train_error"]) < 1e-3 and b["trained_with"].startswith("stacked")
    assert A.train_missing(small, RunStore(root=tmp_path / "s", shipped_root=tmp_path / "none"),
                           together=True, should_stop=lambda: True) == []


def test_every_stored_row_is_of_the_current_recipe():
    """A variant whose recipe changed (its spec, its budget) must have its stored rows redone:
    a stale row would never be found and would only sit in the assets."""
    from resnet_explain.spec.zoo import variant

    probes = pd.read_csv(A.STORED_PROBES)
    assert len(probes) and all(r["spec"] == variant(r["variant"], int(r["depth"])).to_query()
                               for _, r in probes.iterrows())
    runs = A.stored_runs()
    assert len(runs) and all(r["base_id"] == A.base_id(A.request(r["variant"], int(r["depth"]), int(r["seed"])))
                             for _, r in runs.iterrows())


def test_caption_states_the_probe_settings_and_column_help_names_real_columns(table):
    assert "Ratios: seed 3, batch 16, train mode" in words.caption(3, 16)
    assert set(words.COLUMN_HELP) <= set(charts.table(table).columns)
