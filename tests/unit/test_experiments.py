"""The live experiments behind the theory pages: they agree with the probe and with the maths."""


import numpy as np
import pandas as pd
import pytest

from resnet_explain import magnitude
from resnet_explain.charts import theory as charts_theory
from resnet_explain.content import highway as highway_text
from resnet_explain.content import quiz
from resnet_explain.content import shattered as shattered_text
from resnet_explain.content import vanishing as vanishing_text
from resnet_explain.content.story import STEPS
from resnet_explain.experiments import highway, misconceptions, shattered, vanishing
from resnet_explain.experiments import quiz as quiz_measure
from resnet_explain.probe import probe_spec
from resnet_explain.spec import cifar_resnet, mlp, preset


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


def test_vanishing_sentences_follow_the_table():
    t = vanishing.vanishing_table([4, 20, 64], seed=0)
    rows = {int(r["depth"]): r for _, r in t.iterrows()}
    assert "single block" in vanishing_text.depth_sentence(rows[4]) and "ratio **1**" in vanishing_text.depth_sentence(rows[4])
    s20 = vanishing_text.depth_sentence(rows[20])
    below = np.log10(0.25 ** 16) - rows[20]["log10_ratio32"]
    assert f"**{magnitude.fmt_ratio(rows[20]['ratio32'], 2)}**" in s20 and "0.25^16" in s20
    assert f"**{below:.1f} orders of magnitude below**" in s20
    s64 = vanishing_text.depth_sentence(rows[64])  # float32 underflow: said, with float64's value
    assert magnitude.UNDERFLOW in s64 and magnitude.fmt_ratio(rows[64]["ratio64"], 2) in s64
    f32 = vanishing_text.float32_sentence(t, seed=0)
    assert "**L = 75**" in f32 and "depth **64**" in f32
    assert "never reaches exactly 0" in vanishing_text.float32_sentence(t[t["depth"] < 64], seed=0)
    pt = vanishing.precision_table(rows[64])
    assert list(pt["float32"]) == ["7.523e-37", magnitude.UNDERFLOW_TEXT]
    assert pt["log10 (float64)"].iloc[1] == f"{rows[64]['log10_ratio64']:.2f}"
    assert vanishing.precision_table(rows[4])["log10 (float64)"].iloc[0] == "0.00"  # not "-0.00"


def test_bn_cnn_text_is_honest_about_growth():
    plain = probe_spec(cifar_resnet(20, skip=False), seed=0).blocks
    res = probe_spec(cifar_resnet(20, skip=True), seed=0).blocks
    txt = vanishing_text.bn_cnn_text(plain, res, 20, "batch 32, seed 0, cpu")
    rr = res["grad_norm"].iloc[0] / res["grad_norm"].iloc[-1]
    rp = plain["grad_norm"].iloc[0] / plain["grad_norm"].iloc[-1]
    assert txt.startswith(f"**Plain-20:** the gradient grows **{magnitude.fmt_ratio(rp, 2)}-fold** toward the "
                          "input") and "; **ResNet-20:**" in txt
    assert "(batch 32, seed 0, cpu)." in txt and "does not vanish" in txt
    # skips: the product does not vanish; they do not stop growth, with the measured number
    assert "does not vanish" in vanishing_text.skips_sentence("ResNet-20", res)
    assert f"still grows **{magnitude.fmt_ratio(rr, 2)}-fold**" in txt
    assert "fix both" not in txt and "exploding" not in txt
    # a residual net that does not grow is not told it does
    flat = res.assign(grad_norm=1.0)
    s = vanishing_text.skips_sentence("X", flat)
    assert "still grows" not in s and "about the same size" in s


def test_activation_sentences():
    s = vanishing.activation_sweep([20, 28], seed=0)
    first, relu = vanishing_text.activation_sentences(s, depth=20)
    r = s[s["depth"] == 20].set_index("label")["ratio"]
    assert f"sigmoid **{magnitude.fmt_ratio(r['sigmoid, default init'], 2)}**" in first and "L = 16" in first
    assert "0.408^16" in relu and "at depth 28" in relu


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


def test_highway_sentences():
    res = probe_spec(preset("resnet20"), seed=0)
    t = highway.highway_table(res.blocks)
    n_id, n_res = highway.identity_share(res.blocks)
    assert n_res == 9 and highway.identity_share(t) == (n_id, n_res)
    assert f"In **{n_id} of 9** residual blocks" in highway_text.terms_sentence(t)
    g = highway_text.gains_sentence(t)
    assert f"**{magnitude.fmt_ratio(res.ratio)}**" in g and magnitude.judge_ratio(res.ratio).markdown in g
    under = t.copy()
    under.loc[3, "log10_gain"] = np.nan  # a gain that cannot be measured: said, not faked
    assert magnitude.UNDERFLOW in highway_text.gains_sentence(under)
    ib = probe_spec(highway.identity_spec(20, 0.0), seed=0).blocks
    s = highway_text.identity_sentence(ib, 0.0, False, "default", 20)
    assert s.startswith("**Identity start**") and "first/last: **1**" in s and "exactly the identity" in s
    moving = probe_spec(highway.identity_spec(20, 1.0, "kaiming"), seed=0).blocks
    assert "exactly the identity" not in highway_text.identity_sentence(moving, 1.0, False, "kaiming", 20)
    sweep = highway.alpha_sweep([1.0, 4.0], seed=0)
    a = highway_text.alpha_sentence(sweep, seed=0)
    k50 = sweep.set_index(["init", "depth", "alpha"])["ratio"]["kaiming", 50, 4.0]
    assert "at α = 4 the gradient" in a and magnitude.judge_ratio(k50).markdown in a


def test_postact_sentence_gives_each_ratio_its_verdict():
    f = highway.postact_comparison(20, seed=0)
    s = highway_text.postact_sentence(f)
    r = [f[k]["grad_norm"].iloc[0] / f[k]["grad_norm"].iloc[-1] for k in f]
    assert f"plain **{magnitude.fmt_ratio(r[0], 2)}** (it vanishes)" in s
    assert f"**{magnitude.fmt_ratio(r[1], 2)}** ({magnitude.judge_ratio(r[1]).short})" in s
    assert "(about the same size)" in s  # the clean identity path keeps ~1


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


def test_shattered_sentences():
    assert [shattered_text.describe_correlation(r) for r in (0.0, 0.19, 0.2, 0.69, 0.7, 1.0)] == [
        "like white noise", "like white noise", "partly correlated", "partly correlated", "smooth", "smooth"]
    _, ac = shattered.shattered_experiment(20, seed=0, n_points=256)
    r1 = ac[ac["lag"] == 1].set_index("variant")["autocorrelation"]
    s = shattered_text.lag1_sentence(ac, 20)
    assert f"plain **{r1['plain']:.2f}** ({shattered_text.describe_correlation(r1['plain'])})" in s
    summ = pd.DataFrame({"variant": ["plain"] * 2 + ["residual"] * 2, "depth": [4, 50, 4, 50],
                         "lag1_autocorrelation": [0.9, 0.05, 0.95, 0.5]})
    d = shattered_text.depth_sentence(summ, 1.0)
    assert "0.90 at depth 4 → **0.05** at depth 50" in d and "try α = 0.1" in d
    summ.loc[3, "lag1_autocorrelation"] = 0.9
    assert "try α" not in shattered_text.depth_sentence(summ, 0.1)


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
    assert [b[0] for b in quiz.RATIO_BINS][3] == "0.1 to 10"  # a guessing bin, not "about the same"
    assert quiz_measure.ratio_bin(0.0) == 0
    assert quiz_measure.ratio_bin(3e-14) == 0
    assert quiz_measure.ratio_bin(1e-10) == 1
    assert quiz_measure.ratio_bin(1.0) == 3
    assert quiz_measure.ratio_bin(1.2e4) == 5
    assert quiz_measure.ratio_bin(float("nan")) is None


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
    s = quiz_measure.score_quiz(right, measured)
    assert len(s) == len(quiz.QUESTIONS) + 2 and s["correct"].all()
    wrong = {q.key: (q.answer + 1) % len(q.options) for q in quiz.QUESTIONS} | {"p_sigmoid_plain": 3}
    s = quiz_measure.score_quiz(wrong, measured)
    assert not s["correct"].any()  # p_sigmoid_res unanswered counts as wrong
    assert quiz_measure.score_quiz({}, {})["correct"].sum() == 0


def test_measure_prediction_equals_probe():
    p = next(p for p in quiz.PREDICTIONS if p.key == "p_sigmoid_plain")
    assert quiz_measure.measure_prediction(p, seed=0) == probe_spec(preset(p.preset), seed=0, batch=32).ratio


# ---- chart helpers the theory pages use -------------------------------------------------------------
def test_flagged_rows_are_marked_in_the_theory_charts():
    from resnet_explain.charts import gradflow as flow_charts
    from resnet_explain.experiments import theory

    deep = probe_spec(mlp(64, skip=False, act="sigmoid"), seed=0).blocks  # first block: 0 in float32
    long = flow_charts.gradflow_long({"plain": deep})
    layers = charts_theory.blocks_multi_chart(long).to_dict()["layer"]
    marks = [ly["mark"]["shape"] for ly in layers if isinstance(ly["mark"], dict) and "shape" in ly["mark"]]
    assert marks == ["triangle-down"]
    sweep = vanishing.activation_sweep([20, 64], seed=0)
    assert (sweep["status"] == magnitude.UNDERFLOW).any()
    assert any(isinstance(ly["mark"], dict) and ly["mark"].get("shape") == "triangle-down"
               for ly in charts_theory.activation_sweep_chart(sweep).to_dict()["layer"])
    slopes = charts_theory.activation_slopes_chart(theory.activation_slopes()).to_dict()
    assert slopes["encoding"]["y"]["field"] == "slope"
    table = flow_charts.numbers_table({"plain": deep, "residual": deep})
    no_gates = [c for c in flow_charts.NUMBERS_COLUMNS if c != "gate_norm"]  # no gated block here
    assert list(table.columns) == no_gates and len(table) == 2 * len(deep)
    assert list(table["variant"].unique()) == ["plain", "residual"]
