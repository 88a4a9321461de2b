"""Loss landscapes: the maths on a quadratic whose slice and Hessian are known in closed form,
filter normalisation, batched = looped evaluation, roughness, and a tiny run end to end."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from resnet_explain.content import landscape as words
from resnet_explain.errors import Stopped
from resnet_explain.experiments import landscape as L
from resnet_explain.experiments import landscape_directions as dirs
from resnet_explain.experiments import landscape_hessian as hess
from resnet_explain.experiments import landscape_points as points
from resnet_explain.experiments import landscape_roughness as rough
from resnet_explain.experiments import landscape_store as store


# ---------------------------------------------------------------------------------------------
# A quadratic: L(W) = mean_n ||W x_n - t_n||^2, a linear map without bias
# ---------------------------------------------------------------------------------------------
def mse(out, t):
    return ((out - t) ** 2).sum(-1)


def quadratic_problem(n=64, d=3, k=2, scales=(3.0, 2.0, 1.0)):
    """X with orthogonal columns of known norms: X^T X = n * diag(scales^2)."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    x = (q * torch.tensor(scales, dtype=torch.float64) * n ** 0.5).float()
    t = torch.randn(n, k, generator=g)
    model = nn.Linear(d, k, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.randn(k, d, generator=g))
    return model, x, t


def closed_form_loss(W, x, t):
    W, x, t = (a.double() for a in (W, x, t))
    return float(((x @ W.T - t) ** 2).sum(-1).mean())


def test_slice_of_a_quadratic_matches_the_closed_form():
    model, x, t = quadratic_problem()
    base = points.float_state(model)
    g = torch.Generator().manual_seed(1)
    d1, d2 = dirs.filter_normalized(base, g), dirs.filter_normalized(base, g)
    ax = np.linspace(-1, 1, 5)
    aa, bb = np.meshgrid(ax, ax)
    pts = np.stack([aa.ravel(), bb.ravel()], 1)
    for batched in (False, True):
        loss, _ = points.evaluate_points(model, base, [d1, d2], pts, x, t, batched=batched, criterion=mse)
        want = [closed_form_loss(base["weight"] + a * d1["weight"] + b * d2["weight"], x, t) for a, b in pts]
        np.testing.assert_allclose(loss, want, rtol=1e-5)


def test_hessian_extremes_of_a_quadratic_are_the_closed_form_eigenvalues():
    # H = (2/n) X^T X (x) I_k = 2 * diag(scales^2) (x) I_k: eigenvalues 18, 8, 2 (each twice)
    model, x, t = quadratic_problem(scales=(3.0, 2.0, 1.0))
    h = hess.hessian_extremes(model, x, t, iters=200, tol=1e-7, criterion=mse)
    assert h["lambda_max"] == pytest.approx(18.0, rel=1e-3)
    assert h["lambda_min"] == pytest.approx(2.0, abs=max(1e-2, 2 * h["lambda_min_precision"]))
    assert h["lambda_min_resolved"] and h["hessian_converged"]
    assert h["ratio"] == pytest.approx(2.0 / 18.0, rel=1e-2)


def test_power_iteration_says_when_it_did_not_converge():
    model, x, t = quadratic_problem(scales=(1.0, 0.999, 0.998))  # clustered: slow
    h = hess.hessian_extremes(model, x, t, iters=2, tol=1e-12, criterion=mse)
    assert not h["hessian_converged"] and h["hessian_iters"] == 4


# ---------------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------------
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 5), st.sampled_from([0, 1, 3])),
                min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_filter_normalisation_gives_each_filter_the_norm_of_its_weights(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for i, (out, inp, k) in enumerate(shapes):
        shape = (out, inp) if k == 0 else (out, inp, k, k)
        weights[f"w{i}"] = torch.randn(shape, generator=g) * (i + 1)
        weights[f"b{i}"] = torch.randn(out, generator=g)  # a bias / BN parameter
    d = dirs.filter_normalized(weights, torch.Generator().manual_seed(seed))
    for name, w in weights.items():
        assert d[name].shape == w.shape
        if w.dim() == 1:
            assert not d[name].any(), "biases and BatchNorm parameters are not perturbed"
        else:
            torch.testing.assert_close(d[name].flatten(1).norm(dim=1), w.flatten(1).norm(dim=1),
                                       rtol=1e-5, atol=1e-6)


def test_directions_are_seeded_and_the_two_differ():
    from resnet_explain.model import build_model
    from resnet_explain.spec import cifar_resnet

    m = build_model(cifar_resnet(8, width=4, in_size=8), seed=0)
    a1, a2 = dirs.directions(m, 3)
    b1, _ = dirs.directions(m, 3)
    c1, _ = dirs.directions(m, 4)
    k = "stem.conv.weight" if "stem.conv.weight" in a1 else next(n for n, v in a1.items() if v.dim() == 4)
    assert torch.equal(a1[k], b1[k]) and not torch.equal(a1[k], c1[k]) and not torch.equal(a1[k], a2[k])


# ---------------------------------------------------------------------------------------------
# Batched (vmap over stacked parameters) = looped, on a real network with BatchNorm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skip", [True, False])
def test_batched_and_looped_evaluation_agree_on_a_cnn(skip):
    from resnet_explain.model import build_model
    from resnet_explain.spec import cifar_resnet

    torch.manual_seed(0)
    m = build_model(cifar_resnet(8, skip=skip, width=4, in_size=8), seed=0).eval()
    for mod in m.modules():  # non-trivial running statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    x, y = torch.randn(20, 3, 8, 8), torch.randint(0, 10, (20,))
    base = points.float_state(m)
    d1, d2 = dirs.directions(m, 0)
    pts = np.array([[0, 0], [0.5, -0.25], [-1, 1], [0.1, 0.9], [1, 1]])
    loop = points.evaluate_points(m, base, [d1, d2], pts, x, y, batched=False, image_batch=7)
    vm = points.evaluate_points(m, base, [d1, d2], pts, x, y, batched=True, chunk=2, image_batch=7)
    np.testing.assert_allclose(loop[0], vm[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loop[1], vm[1])
    with torch.no_grad():  # the centre is the model itself
        want = nn.functional.cross_entropy(m(x), y).item()
    assert loop[0][0] == pytest.approx(want, rel=1e-5)


def test_evaluation_stops_when_asked():
    model, x, t = quadratic_problem()
    base = points.float_state(model)
    d = dirs.filter_normalized(base, torch.Generator().manual_seed(0))
    with pytest.raises(Stopped):
        points.evaluate_points(model, base, [d], np.zeros((4, 1)), x, t, criterion=mse, should_stop=lambda: True)


# ---------------------------------------------------------------------------------------------
# Roughness of a slice
# ---------------------------------------------------------------------------------------------
def grid_surface(f, n=9):
    ax = np.linspace(-1, 1, n)
    aa, bb = np.meshgrid(ax, ax)
    return pd.DataFrame({"alpha": aa.ravel(), "beta": bb.ravel(), "loss": f(aa, bb).ravel(), "accuracy": 0.5})


def test_a_convex_bowl_has_no_nonconvex_points_and_a_saddle_has_only_such_points():
    bowl = rough.slice_curvature(grid_surface(lambda a, b: 3 * a**2 + b**2 + a * b))
    saddle = rough.slice_curvature(grid_surface(lambda a, b: a**2 - b**2))
    assert len(bowl) == 49 and not bowl["nonconvex"].any()
    assert saddle["nonconvex"].all()
    np.testing.assert_allclose(saddle["lam_min"], -2.0, rtol=1e-9)
    np.testing.assert_allclose(bowl["lam_max"], 4 + np.sqrt(5), rtol=1e-9)  # eigenvalues of [[6, 1], [1, 2]]


def test_a_flat_slice_is_not_called_nonconvex_by_rounding():
    rng = np.random.default_rng(0)
    flat = rough.slice_curvature(grid_surface(lambda a, b: 2.3 + 1e-8 * rng.standard_normal(a.shape)))
    assert not flat["nonconvex"].any()


def test_summary_reads_the_centre_and_the_roughness():
    s = grid_surface(lambda a, b: np.where(a > 0.3, -a**2, a**2) + b**2 + 1)
    hess = {"lambda_max": 2.0, "lambda_min": 0.1}
    out = rough.summarise(s, hess)
    assert out["loss_at_centre"] == pytest.approx(1.0)
    assert 0 < out["nonconvex_share"] < 1 and out["lambda_max"] == 2.0
    assert out["finite_share"] == 1.0


def test_path_barrier_is_the_rise_above_the_start():
    t = np.linspace(-0.25, 1.25, 7)
    falling = pd.DataFrame({"t": t, "loss": [3.0, 2.3, 2.0, 1.5, 1.0, 0.1, 0.5]})
    bump = pd.DataFrame({"t": t, "loss": [3.0, 2.3, 2.9, 2.5, 1.0, 0.1, 0.5]})
    assert rough.path_barrier(falling) == 0.0
    assert rough.path_barrier(bump) == pytest.approx(0.6)


def test_settings_are_validated():
    for bad in (dict(grid=4), dict(grid=1), dict(span=0), dict(images=2), dict(grid=201), dict(line=8)):
        with pytest.raises(L.LandscapeError):
            L.LandscapeSettings(**bad).validate()
    assert L.LandscapeSettings(grid=5).line_points == 11
    for n in (3, 7, 11, 43, 101):
        t = L.LandscapeSettings(line=n).path_axis
        assert np.isclose(t, 0).any() and np.isclose(t, 1).any() and t[0] == -0.25 and t[-1] == 1.25


# ---------------------------------------------------------------------------------------------
# A tiny trained run, end to end
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.app.jobs import train_tiny_pair

    yours, _ = train_tiny_pair(tmp_path_factory.mktemp("runs"))
    return yours


def test_the_initial_model_is_the_one_the_trainer_started_from(tiny_run):
    from resnet_explain.train.trainer import train

    req = tiny_run.request
    tr, te = req.data.load()
    res = train(req.netspec, tr, te, req.config, should_stop=lambda: True)  # stopped before step 1
    init = L.initial_model(tiny_run)
    for (k, a), b in zip(res.model.state_dict().items(), init.state_dict().values()):
        assert torch.equal(a.cpu(), b), k


def test_a_run_landscape_end_to_end_and_cached(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    s = L.LandscapeSettings(grid=5, images=64, hessian_iters=5, span=0.5)
    seen = []
    res = store.cached_landscape(tiny_run, s, device="cpu", progress=seen.append)
    assert len(res.surface) == 25 and len(res.line) == 11 and len(res.path) == 13
    assert seen and seen[-1]["done"] == seen[-1]["total"] == sum(L.work_units(s).values())
    centre = res.surface.query("alpha == 0 and beta == 0")["loss"].item()
    at_one = res.path.loc[np.isclose(res.path["t"], 1.0), "loss"].item()
    assert res.line.loc[res.line["alpha"].abs().idxmin(), "loss"] == pytest.approx(centre, rel=1e-5)
    assert np.isfinite(res.path["loss"]).all(), "the line past both ends stays finite"
    assert at_one == pytest.approx(centre, rel=1e-5), "t = 1 is the trained network, the slice's centre"
    for k in ("lambda_max", "lambda_min", "nonconvex_share", "slice_ratio_mean", "loss_at_centre"):
        assert np.isfinite(res.numbers[k]), k
    assert res.numbers["lambda_max"] > 0
    assert res.meta["dtype"] == "float32" and res.meta["method"] == "loop"
    again = store.cached_landscape(tiny_run, s, device="cpu")
    assert again.meta.get("loaded_from") == "this server's cache" and again.numbers == pytest.approx(res.numbers)
    pd.testing.assert_frame_equal(again.surface, res.surface, check_dtype=False)
    other = store.find(tiny_run.run_id, L.LandscapeSettings(grid=5, images=64, hessian_iters=5, span=0.6))
    assert other is None


def test_path_ends_are_the_initial_and_the_trained_network(tiny_run):
    from resnet_explain.train.trainer import evaluate

    res = L.landscape(tiny_run, L.LandscapeSettings(grid=3, images=32, hessian_iters=2, line=7), device="cpu")
    t = res.path["t"].to_numpy()
    assert t[0] == -0.25 and t[-1] == 1.25 and len(t) == 7
    model, norm, _ = tiny_run.load_model(device="cpu")
    part = tiny_run.request.data.load()[0].subset(32)
    _, trained_loss = evaluate(model, part, norm, amp=False)
    assert res.path.loc[np.isclose(t, 1.0), "loss"].item() == pytest.approx(trained_loss, rel=1e-4)
    init = L.initial_model(tiny_run)
    _, init_loss = evaluate(init, part, norm, amp=False)
    assert res.path.loc[np.isclose(t, 0.0), "loss"].item() == pytest.approx(init_loss, rel=1e-4)


def _fake(acc, lam, share=0.1, barrier=0.0):
    numbers = {"lambda_max": lam, "lambda_min": 0.0, "lambda_min_resolved": False, "nonconvex_share": share,
               "loss_max": 10.0, "accuracy_at_centre": acc, "path_barrier": barrier}
    return L.Landscape(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), numbers, {"classes": 10})


def test_the_comparison_says_the_measured_numbers_and_never_calls_a_net_at_chance_a_minimum():
    plain, res = _fake(0.99, 40.0, 0.2, 1.5), _fake(0.99, 8.0, 0.1, 0.0)
    text = words.compare(plain, res)
    # every number the paragraph states, from the results it reads
    assert f"**{plain.numbers['lambda_max']:.3g}**" in text and f"**{res.numbers['lambda_max']:.3g}**" in text
    assert f"{40.0 / 8.0:.1f}× sharper" in text and "plain net's minimum" in text
    assert f"**{0.2:.0%}**" in text and f"**{0.1:.0%}**" in text
    assert "rises 1.5 above its start for the plain net and 0 for the residual" in text
    assert "never left chance" not in text and "saddle" not in text
    assert text == " ".join([words.curvature_sentence(40.0, 8.0), words.roughness_sentence(plain.numbers, res.numbers),
                             words.path_sentence(1.5, 0.0)])
    stuck = words.compare(_fake(0.12, 40.0), _fake(0.99, 8.0))
    assert stuck.startswith("**plain never left chance** (12% accuracy, chance 10%")
    assert "× sharper" not in stuck and "each alone" in stuck and "GPU" in stuck
    assert words.pair_warning(_fake(0.12, 40.0), _fake(0.99, 8.0)) in stuck
    assert stuck.replace(words.pair_warning(_fake(0.12, 40.0), _fake(0.99, 8.0)) + " ", "") == words.compare(
        _fake(0.12, 40.0), _fake(0.99, 8.0), warn=False)
    # a plain twin at 29 % accuracy (loss 1.97) beside a working one: far worse, not compared
    far = words.compare(_fake(0.29, 9.0), _fake(0.99, 10.0))
    assert far.startswith("**plain trained far worse than residual** (29% accuracy against 99%")
    assert "× sharper" not in far


def test_the_landscape_reconciles_lambda_max_with_the_picture_and_the_scale_invariant_number():
    plain, res = _fake(0.99, 40.0), _fake(0.99, 8.0)
    plain.numbers.update(loss_max=80.0, fn_curvature=4.6)
    res.numbers.update(loss_max=175.0, fn_curvature=4.5)
    text = words.compare(plain, res)
    # λmax says the plain net is sharper; its slice rises less: a sentence says so
    assert "λmax calls the plain net sharper, yet its slice rises less (highest loss 80 against 175" in text
    assert "**4.6** (plain) and **4.5** (residual): about the same" in text
    assert "not one the scale-invariant measure confirms" in text
    res.numbers.update(loss_max=50.0, fn_curvature=1.0)  # now the picture and both numbers agree
    text = words.compare(plain, res)
    assert "says otherwise" not in text and "the plain net's is 4.6× the other's" in text
    assert "not one the scale-invariant" not in text


def _bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.Conv2d(6, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def _slice_and_lambda(model, x, y):
    from resnet_explain.experiments.landscape_sharpness import fn_curvature

    model.eval()
    base = points.float_state(model)
    d1, d2 = dirs.directions(model, seed=3)
    zero = {k: torch.zeros_like(v) for k, v in base.items() if k not in d1}
    d1, d2 = {**d1, **zero}, {**d2, **zero}
    ax = np.linspace(-0.4, 0.4, 9)
    aa, bb = np.meshgrid(ax, ax, indexing="xy")
    grid = np.stack([aa.ravel(), bb.ravel()], axis=1)
    loss, _ = points.evaluate_points(model, base, [d1, d2], grid, x, y, batched=False)
    surface = pd.DataFrame({"alpha": grid[:, 0], "beta": grid[:, 1], "loss": loss})
    lam = hess.hessian_extremes(model, x, y, iters=60, tol=1e-5)["lambda_max"]
    return fn_curvature(surface)["fn_curvature"], lam


def test_the_filter_normalised_curvature_is_invariant_to_rescaling_filters_but_lambda_max_is_not():
    # Multiply every filter of each BN-followed convolution by its own c > 0 (and BatchNorm's
    # running statistics with it: the same function in eval mode). λmax changes; the curvature
    # along the filter-normalised directions does not.
    model = _bn_net()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 3, 8, 8, generator=g), torch.randint(0, 4, (64,), generator=g)
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(x)  # running statistics worth the name
    k0, lam0 = _slice_and_lambda(model, x, y)
    scaled = _bn_net()
    scaled.load_state_dict(model.state_dict())
    with torch.no_grad():
        for conv, bn in ((scaled[0], scaled[1]), (scaled[3], scaled[4])):
            c = torch.empty(conv.out_channels).uniform_(0.2, 5.0, generator=g)
            conv.weight.mul_(c.view(-1, 1, 1, 1))
            bn.running_mean.mul_(c)
            bn.running_var.mul_(c**2)
    scaled.eval()
    model.eval()
    torch.testing.assert_close(scaled(x), model(x), rtol=1e-4, atol=1e-4)  # the same network
    k1, lam1 = _slice_and_lambda(scaled, x, y)
    assert k0 > 0 and k1 == pytest.approx(k0, rel=1e-3)
    assert abs(lam1 / lam0 - 1) > 0.1  # λmax moved with the scale


def test_fn_curvature_of_a_parabola_and_of_stored_slices():
    from resnet_explain.experiments.landscape_sharpness import axis_curvature, fn_curvature

    t = np.linspace(-1, 1, 21)
    assert axis_curvature(t, 3.0 * t**2 + t + 2) == pytest.approx(6.0)
    # local: a quartic term bends the fit over its ±0.2 window by a few %, not by its size at ±1
    assert axis_curvature(t, 3.0 * t**2 + 5 * t**4) == pytest.approx(6.0, rel=0.1)
    coarse = np.linspace(-2, 2, 5)  # few points near 0: the 5 nearest are used
    assert axis_curvature(coarse, 0.5 * coarse**2) == pytest.approx(1.0)
    bowl = grid_surface(lambda a, b: 2 * a**2 + 0.5 * b**2, n=21)
    k = fn_curvature(bowl)
    assert k["fn_curvature_axes"] == pytest.approx([4.0, 1.0]) and k["fn_curvature"] == pytest.approx(2.5)
    assert np.isnan(fn_curvature(pd.DataFrame())["fn_curvature"])
    # stored landscapes made before it: derived from their stored slice when loaded
    for folder in (p for p in store.STORED_DIR.iterdir() if (p / "result.json").exists()):
        r = store.load(folder)
        assert r.numbers["fn_curvature"] == pytest.approx(fn_curvature(r.surface)["fn_curvature"])


def test_the_comparison_names_saddles_and_says_when_curvature_is_not_positive():
    saddle = _fake(0.99, 40.0)
    saddle.numbers.update(lambda_min=-2.0, lambda_min_resolved=True)
    assert "The plain net has clearly negative curvature" in words.compare(saddle, _fake(0.99, 8.0))
    assert "plain and residual nets have" in words.saddle_sentence(["plain", "residual"])
    assert words.saddle_sentence([]) == "" and words.path_sentence(float("nan"), 0.0) == ""
    assert "not both positive" in words.curvature_sentence(-1.0, 8.0)


def test_numbers_table_states_each_result_number():
    from resnet_explain.charts import landscape as charts

    r = _fake(0.99, 40.0, 0.25, 1.5)
    r.numbers.update(lambda_min=-0.5, lambda_min_precision=1e-3, ratio=0.0125, slice_ratio_mean=0.03,
                     loss_at_centre=0.1, lambda_min_resolved=True)
    t = charts.numbers_table({"plain": r}).set_index("measure")["plain"]
    assert t["λmax, the top Hessian eigenvalue"] == "40" and t["λmin"] == "-0.5"
    assert t["slice: share of points curving down"] == "25%" and t["init→trained line: rise above the start"] == "1.5"
    assert t["loss / accuracy at the trained weights"] == "0.1 / 99.0%"
    r.numbers["lambda_min_resolved"] = False
    assert charts.numbers_table({"plain": r}).set_index("measure")["plain"]["λmin"] == "≈ 0 (|λmin| < 0.001)"
