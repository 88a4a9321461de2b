"""Why deep plain nets fail: the measurements' maths on tiny models (a zeroed branch has share 0,
identical gradients correlate at 1, mean² and variance against a direct computation), the stored
results, and the sentences built from them."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from resnet_explain.content import mechanisms as text
from resnet_explain.content import why_residuals
from resnet_explain.content.story import ACT_RATIOS, STEPS
from resnet_explain.experiments import mechanism_runs
from resnet_explain.experiments import mechanisms as m
from resnet_explain.magnitude import fmt_ratio
from resnet_explain.model import build_model, find_blocks
from resnet_explain.spec import cifar_resnet

SPEC = cifar_resnet(8, width=4, in_size=8, classes=3)


@pytest.fixture(scope="module")
def x():
    return torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_a_zeroed_branch_has_share_zero_and_a_plain_block_none(x):
    model = build_model(SPEC, seed=0)
    for _name, block in find_blocks(model):
        block.zero_init_last()  # the branch's last BatchNorm scale at 0: F(x) = 0
    s = m.branch_shares(m.calibrate(model, x), x)
    assert len(s) == len(find_blocks(model))
    assert (s["share"] == 0).all() and (s["share_of_input"] == 0).all()
    plain = m.branch_shares(m.calibrate(build_model(SPEC.twin(), seed=0), x), x)
    assert plain["share"].isna().all() and (plain["share_of_input"] > 0).all()


def test_share_is_the_ratio_of_the_branch_and_shortcut_norms(x):
    model = m.calibrate(build_model(SPEC, seed=0), x)
    name, block = find_blocks(model)[1]
    caught = {}
    h = block.register_forward_pre_hook(lambda _m, a: caught.setdefault("x", a[0]))
    model(x)
    h.remove()
    with torch.no_grad():
        f, s = block.body(caught["x"]), block.shortcut(caught["x"])
    direct = torch.median(f.flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)).item()
    row = m.branch_shares(model, x).set_index("block").loc[name]
    assert row["share"] == pytest.approx(direct, rel=1e-5)


def test_identical_gradients_correlate_at_one_and_opposite_at_minus_one():
    g = torch.randn(5, 40, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(m.pearson(g, g), torch.ones(5, dtype=torch.float64))
    assert torch.allclose(m.pearson(g, -g), -torch.ones(5, dtype=torch.float64))
    assert torch.allclose(m.pearson(g, 3 * g + 2), torch.ones(5, dtype=torch.float64))
    assert np.allclose(m.lag_correlations(g[:1].repeat(6, 1), 4), 1.0)
    assert math.isnan(float(m.pearson(torch.ones(1, 4), g[:1, :4])[0]))  # a constant row


def test_a_linear_model_has_one_gradient_everywhere_on_the_line():
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    a, b = torch.randn(2, 3, 2, 2, generator=torch.Generator().manual_seed(2))
    pts = m.line_inputs(a, b, 7)
    assert torch.equal(pts[0], a) and torch.allclose(pts[-1], b)
    g = m.input_gradients(lin, pts, 1)
    assert torch.allclose(g, lin[1].weight[1].detach().expand(7, 12))
    c = m.gradient_correlations(lin, torch.stack([a, b]), torch.tensor([1, 0]), n_lines=1, n_points=7, max_lag=3)
    assert list(c["lag"]) == [0, 1, 2, 3] and np.allclose(c["correlation"], 1.0)


def test_channel_moments_against_a_direct_computation():
    t = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(3)) * 2 + 0.5
    m2, var = m.channel_moments(t)
    a = t.double().permute(1, 0, 2, 3).reshape(4, -1).numpy()
    assert m2 == pytest.approx(float(np.mean(a.mean(axis=1) ** 2)))
    assert var == pytest.approx(float(np.mean(a.var(axis=1))))


def test_signal_propagation_reads_every_block_output(x):
    model = m.calibrate(build_model(SPEC, seed=0), x)
    outs = []
    hs = [b.register_forward_hook(lambda _m, _i, o: outs.append(o)) for _n, b in find_blocks(model)]
    model(x)
    for h in hs:
        h.remove()
    sig = m.signal_propagation(model, x)
    assert list(sig["position"]) == list(range(len(outs)))
    for row, out in zip(sig.itertuples(), outs):
        assert (row.mean_sq, row.variance) == pytest.approx(m.channel_moments(out))


def test_calibrate_gives_batchnorm_the_batch_statistics(x):
    model = m.calibrate(build_model(SPEC, seed=0), x)
    assert not model.training
    bn = model.stem[1] if isinstance(model.stem[1], nn.BatchNorm2d) else next(
        mod for mod in model.modules() if isinstance(mod, nn.BatchNorm2d))
    assert float(bn.running_var.mean()) != pytest.approx(1.0)


# ---- the stored results and their sentences ---------------------------------------------------
@pytest.fixture(scope="module")
def stored():
    found = mechanism_runs.load_stored()
    assert found is not None, "assets/mechanisms is missing: python scripts/make_mechanisms.py"
    return found


def test_stored_results_cover_every_twin_at_init_and_trained(stored):
    tables, meta = stored
    names = set(mechanism_runs.twin_names())
    assert set(meta["runs"]) == names
    for k in ("correlation", "share", "signal"):
        assert {(n, s) for n, s in zip(tables[k]["net"], tables[k]["state"])} == {
            (n, s) for n in names for s in ("init", "trained")}
    assert set(tables["grads"]["net"]) == names and tables["grads"]["update_ratio"].notna().any()


def test_the_heatmaps_read_the_shipped_runs_own_snapshots_not_a_retraining(stored):
    from resnet_explain.train import shipped

    tables, meta = stored
    for name in mechanism_runs.twin_names():
        run = shipped.run(name)
        how = meta["runs"][name]
        assert how["own"] and how["run_id"] == run.run_id and "retrained_last_epoch_error" not in how
        mine = tables["grads"][tables["grads"]["net"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[run.grads.columns], run.grads)
    assert not (mechanism_runs.STORE_DIR / "grads.csv").exists()  # one copy: in the runs' folders
    note = text.how_made(meta)
    assert "the shipped runs' own" in note and "does not reproduce" not in note


def test_own_snapshots_are_not_copied_and_a_retrained_runs_are(stored, tmp_path):
    tables, meta = stored
    mixed = {**meta, "runs": {**meta["runs"], "plain20": {
        k: v for k, v in meta["runs"]["plain20"].items() if k != "own"}}}
    mechanism_runs.save(tables, mixed, tmp_path)
    kept = pd.read_csv(tmp_path / "grads.csv")
    assert set(kept["net"]) == {"plain20"}  # only the run whose snapshots are not its own
    again, _ = mechanism_runs.load_stored(tmp_path)
    assert len(again["grads"]) == len(tables["grads"])
    assert mechanism_runs.load_stored(tmp_path / "missing") is None
    # a shipped run replaced by another (a new id) makes the stored results stale: not shown
    other = {**meta["runs"]["residual56"], "run_id": "0" * 16}
    stale = {**meta, "runs": {**meta["runs"], "residual56": other}}
    mechanism_runs.save(tables, stale, tmp_path)
    assert mechanism_runs.load_stored(tmp_path) is None


def test_sentences_carry_the_stored_numbers(stored):
    tables, _meta = stored
    for depth in sorted(set(tables["share"]["depth"])):
        c = text.correlation_sentence(tables["correlation"], depth)
        assert f"{text.lag1(tables['correlation'], 'plain', depth, 'init'):.2f}" in c
        s = text.share_sentence(tables["share"], depth)
        assert "De & Smith 2020" in s and "Brock et al. 2021" in text.signal_sentence(tables["signal"], depth)
        assert "Balduzzi et al. 2017" in c and "at step 0" in text.gradient_sentence(tables["grads"], depth)


def _corr(plain: float, res: float) -> pd.DataFrame:
    rows = [{"arch": a, "depth": 56, "state": s, "lag": k, "correlation": 1.0 if k == 0 else v}
            for a, v in (("plain", plain), ("residual", res)) for s in ("init", "trained") for k in (0, 1)]
    return pd.DataFrame(rows)


def test_a_mechanism_that_does_not_show_is_said_so():
    assert "shattered" in text.correlation_sentence(_corr(0.02, 0.7), 56)
    assert "does not show" in text.correlation_sentence(_corr(0.6, 0.62), 56)
    flat = pd.DataFrame({"arch": "residual", "depth": 56, "state": ["init"] * 3 + ["trained"] * 3,
                         "position": [0, 1, 2] * 2, "share": [0.5, 0.5, 0.5] * 2})
    assert "does not show" in text.share_sentence(flat, 56)


def test_closing_page_reads_its_numbers_and_links_registered_pages(stored):
    errors = {"plain20": 0.02, "plain56": 0.84, "residual20": 0.001, "residual56": 0.0008}
    rs = why_residuals.reasons(errors, stored[0])
    assert fmt_ratio(ACT_RATIOS["mlp-sigmoid20-plain"]) in rs[0].text
    assert fmt_ratio(ACT_RATIOS["mlp-sigmoid20"]) in rs[0].text
    assert "explodes" in rs[1].text and "84.0 %" in rs[2].text and "never left chance" in rs[2].text
    assert "trains, but worse" in why_residuals.training_reason({**errors, "plain56": 0.3}).text
    assert {r.page for r in rs} <= {s.file for s in STEPS} and len(rs) == 6
    assert len(why_residuals.reasons(errors, None)) == 3


def test_snapshot_summaries_read_the_right_cells():
    rows = [{"arch": "plain", "depth": 56, "kind": k, "step": st, "position": pos,
             "grad_norm": 10.0 ** (2 - pos) if st == 0 else 1.0, "weight_norm": 1.0 + st * (pos == 0),
             "update_ratio": (2.0 if pos == 0 else 0.01) if st == 0 else (0.1 if pos == 0 else 1.0)}
            for st in (0, 24, 48) for k, pos in (("stem", -1), ("block", 0), ("block", 1), ("block", 2))]
    g = pd.DataFrame(rows)
    assert text.at_start(g, "plain", 56, "grad_norm") == (100.0, 1.0)
    assert text.first_last_over_training(g, "plain", 56, "update_ratio") == pytest.approx(0.1)
    assert text.weight_growth(g, "plain", 56) == pytest.approx(49.0)
    res = g.assign(arch="residual", update_ratio=1.0, grad_norm=1.0)
    s = text.gradient_sentence(pd.concat([g, res]), 56)
    assert "explodes" in s and "almost stop learning" in s
