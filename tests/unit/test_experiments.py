"""The live experiments behind the theory pages: they agree with the probe and with the maths."""


import numpy as np
import pytest

from resnet_explain.charts import theory as charts_theory
from resnet_explain.content import quiz
from resnet_explain.lab import highway, misconceptions, shattered, vanishing
from resnet_explain.probe import probe_spec
from resnet_explain.spec import mlp, preset
from resnet_explain.content.story import STEPS


def test_depth_sweep_equals_probe():
    d = vanishing.depth_sweep([20], act="sigmoid", seed=0)
    direct = probe_spec(mlp(20, skip=False, act="sigmoid"), seed=0, batch=vanishing.SWEEP_BATCH).ratio
    assert d["ratio"].iloc[0] == direct
    assert d["layers_crossed"].iloc[0] == 16
    assert 1e-16 < direct < 0.25 ** 16  # below the sigma' bound: the weights shrink it too


def test_vanishing_table_keeps_underflow_rows():
    t = vanishing.vanishing_table([20, 64], seed=0)
    deep = t[t["depth"] == 64].iloc[0]
    assert deep["underflow32"] and deep["ratio32"] == 0.0
    assert 0 < deep["ratio64"] < 1e-40 and np.isfinite(deep["log10_ratio64"])
    assert vanishing.first_underflow_depth(t) == 64
    long = vanishing.vanishing_long(t)
    assert len(long) == 4 * len(t)  # nothing dropped
    assert np.isfinite(long["y"]).all()
    under = long[long["status"].str.startswith("0 in")]
    assert len(under) == 1 and under["value_text"].iloc[0] == "0 (underflow)"
    assert (under["y"].iloc[0] < long.loc[np.isfinite(long["log10"]), "log10"]).all()
    spec = charts_theory.vanishing_chart(long, 20).to_dict()  # renders without log(0)
    assert "layer" in spec


def test_activation_sweep_relu_prediction():
    s = vanishing.activation_sweep([20], seed=0)
    relu = s[s["label"] == "relu, default init"].iloc[0]
    assert abs(relu["log10_ratio"] - relu["predicted_log10"]) < 0.5
    kai = s[s["label"] == "relu, kaiming init"].iloc[0]
    assert 0.1 < kai["ratio"] < 10


def test_highway_product_telescopes_and_identity_term():
    res = probe_spec(mlp(20, skip=True, act="relu"), seed=0)
    t = highway.highway_table(res.blocks)
    assert t["log10_gain"].iloc[1:].sum() == pytest.approx(t["log10_product_from_last"].iloc[0])
    assert 10 ** t["log10_product_from_last"].iloc[0] == pytest.approx(res.ratio, rel=1e-9)
    # pre-activation block with an identity shortcut: the identity term is the output gradient itself
    np.testing.assert_allclose(t["identity_norm"], t["grad_norm"], rtol=1e-6)
    assert len(highway.highway_long(t)) == 3 * len(t)


@pytest.mark.parametrize("kw", [dict(res_scale=0.0), dict(zero_init_last=True)])
def test_identity_start_has_unit_gradient_everywhere(kw):
    spec = highway.identity_spec(20, kw.get("res_scale", 1.0), "kaiming", zero_init_last=kw.get("zero_init_last", False))
    b = probe_spec(spec, seed=0).blocks
    np.testing.assert_allclose(b["grad_rel_last"], 1.0, rtol=1e-6)


def test_alpha_sweep_growth_is_monotone_in_alpha():
    s = highway.alpha_sweep([0.0, 1.0, 4.0], depths=(20,), inits=("kaiming",), seed=0)
    r = s.sort_values("alpha")["ratio"].to_numpy()
    assert r[0] == pytest.approx(1.0) and r[0] < r[1] < r[2]


def test_shattered_plain_decorrelates_faster():
    curves, ac = shattered.shattered_experiment(20, seed=0, n_points=256)
    assert len(curves) == 2 * 256
    r = ac[ac["lag"] == 1].set_index("variant")["autocorrelation"]
    assert ac[ac["lag"] == 0]["autocorrelation"].to_numpy() == pytest.approx(1.0)
    assert r["plain"] < 0.3 < r["residual"]


def test_shattered_gradient_is_the_autograd_derivative():
    spec = shattered.shattered_spec(4, True)
    d = shattered.input_gradient_sweep(spec, seed=0, n_points=512)
    # a finite difference of the same (frozen-BN) function agrees, except near ReLU kinks
    fd = np.gradient(d["output"].to_numpy(), d["x"].to_numpy())
    err = np.abs(fd - d["grad"].to_numpy()) / (np.abs(d["grad"]).mean() + 1e-12)
    assert np.median(err) < 0.05
    assert np.std(d["grad_standardised"]) == pytest.approx(1.0, rel=1e-6)


def test_branch_vs_skip_zero_branch_is_a_copy():
    b = misconceptions.branch_vs_skip(mlp(8, skip=True, act="relu", res_scale=0.0), seed=0)
    assert (b["branch_norm"] == 0).all()
    np.testing.assert_allclose(b["cosine_out_vs_skip"], 1.0, rtol=1e-6)
    r = misconceptions.branch_vs_skip(preset("resnet20"), seed=0)
    assert len(r) == 9 and (r["branch_over_skip"] > 0.1).all()


def test_train_compare_shapes():
    curves, summary, change = misconceptions.train_compare((4, 8), seed=0, steps=10, eval_every=5)
    assert len(summary) == 4 and np.isfinite(summary["final_loss"]).all()
    assert set(curves["step"]) == {0, 5, 10}
    assert (change["rel_change"] >= 0).all()


def test_postact_sigmoid_skip_still_vanishes():
    f = highway.postact_comparison(20, seed=0)
    r = [f[k]["grad_norm"].iloc[0] / f[k]["grad_norm"].iloc[-1] for k in f]
    assert r[0] < r[1] < 1e-3 < 0.5 < r[2]


# ---- quiz -------------------------------------------------------------------------------------------
def test_ratio_bins():
    assert quiz.ratio_bin(0.0) == 0
    assert quiz.ratio_bin(3e-14) == 0
    assert quiz.ratio_bin(1e-10) == 1
    assert quiz.ratio_bin(1.0) == 3
    assert quiz.ratio_bin(1.2e4) == 5
    assert quiz.ratio_bin(float("nan")) is None


def test_question_bank_is_well_formed():
    files = {s.file for s in STEPS}
    assert len(quiz.QUESTIONS) >= 5
    for q in quiz.QUESTIONS:
        assert 0 <= q.answer < len(q.options) and q.page in files and q.cite
    for p in quiz.PREDICTIONS:
        preset(p.preset)
        assert p.page in files


def test_score_quiz():
    measured = {"p_sigmoid_plain": 3e-14, "p_sigmoid_res": 0.99}
    right = {q.key: q.answer for q in quiz.QUESTIONS} | {"p_sigmoid_plain": 0, "p_sigmoid_res": 3}
    s = quiz.score_quiz(right, measured)
    assert len(s) == len(quiz.QUESTIONS) + 2 and s["correct"].all()
    wrong = {q.key: (q.answer + 1) % len(q.options) for q in quiz.QUESTIONS} | {"p_sigmoid_plain": 3}
    s = quiz.score_quiz(wrong, measured)
    assert not s["correct"].any()  # p_sigmoid_res unanswered counts as wrong
    assert quiz.score_quiz({}, {})["correct"].sum() == 0


def test_measure_prediction_equals_probe():
    p = next(p for p in quiz.PREDICTIONS if p.key == "p_sigmoid_plain")
    assert quiz.measure_prediction(p, seed=0) == probe_spec(preset(p.preset), seed=0, batch=32).ratio
