"""The Attribution Lab and the Lesion Study on any run: IG until complete, the chance rule, a run's
model shared read-only and copied per computation, the picker's pure parts, and the CLI's --run."""

import json
import math
import warnings

import numpy as np
import pytest
import torch

from resnet_explain import build_model, cli
from resnet_explain.chance import near_chance
from resnet_explain import numbers
from resnet_explain.content import attribution as words
from resnet_explain.data.normalizer import Normalizer
from resnet_explain.experiments import explain as lab
from resnet_explain.experiments.attribution import (
    IG_STEPS,
    AttributionError,
    attribute,
    integrated_gradients_complete,
    score_methods,
)
from resnet_explain.experiments.lesion import lesion_study
from resnet_explain.spec import BlockSpec, NetSpec, cifar_resnet
from resnet_explain.train import shipped
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import DataRecipe, RunRequest, RunStore, train_run
from resnet_explain.ui import run_picker

warnings.filterwarnings("ignore", category=UserWarning)
NORM = Normalizer((0.5, 0.4, 0.3), (0.25, 0.2, 0.3))


def tiny_model(seed=1):
    blocks = (BlockSpec(kind="basic", width=4), BlockSpec(kind="basic", width=8, stride=2))
    spec = NetSpec(family="cnn", stages=(blocks,), in_size=8, stem_width=4, classes=3)
    model = build_model(spec, seed=seed)
    model.train()
    with torch.no_grad():  # BatchNorm gets non-trivial running statistics
        model(torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0)))
    return model.eval()


def image(seed=7):
    return torch.randint(0, 256, (3, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def independent_gap(model, x, base, target, attr) -> float:
    """|Σ attr − (f(x) − f(baseline))| / |f(x) − f(baseline)|, computed here, not by the library."""
    with torch.no_grad():
        diff = float(model(x)[0, target] - model(base)[0, target])
    return abs(float(attr.double().sum()) - diff) / abs(diff)


# ---------------------------------------------------------------------------------------------
# Integrated Gradients until complete
# ---------------------------------------------------------------------------------------------
def test_ig_loop_raises_steps_until_the_gap_is_within_tolerance():
    model = tiny_model()
    x = NORM(image().unsqueeze(0))
    black = NORM(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    steps = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    a, c = integrated_gradients_complete(model, x, 0, steps=steps, tolerance=0.01, black=black)
    assert c.judged and c.converged and c.gap <= 0.01
    # it stopped at the first step count that was good enough, after at least one that was not
    assert len(c.tried) >= 2 and all(g > 0.01 for _, g in c.tried[:-1]) and c.tried[-1] == (c.steps, c.gap)
    assert [n for n, _ in c.tried] == list(steps[:len(c.tried)])
    # the gap is the real one, and the attribution is Captum's at that step count
    assert c.gap == pytest.approx(independent_gap(model, x, black, 0, a.attr), rel=1e-4, abs=1e-7)
    ref = attribute(model, x, 0, "IntegratedGradients", black=black, n_steps=c.steps)
    assert torch.allclose(a.attr, ref.attr, atol=1e-6)
    assert words.ig_clause(c) == f"{c.steps} IG steps: Σ attribution within {c.gap:.2%} of f(x) − f(baseline)"


def test_ig_loop_says_so_when_the_cap_is_reached():
    model = tiny_model()
    x = NORM(image().unsqueeze(0))
    a, c = integrated_gradients_complete(model, x, 1, steps=(2, 1), tolerance=1e-9)
    assert (c.steps, c.converged, c.judged) == (2, False, True)  # sorted: the cap is the largest
    assert c.gap > 1e-9 and [n for n, _ in c.tried] == [1, 2]
    assert words.ig_clause(c).startswith(f"{c.steps} IG steps (the cap): Σ attribution still {c.gap:.1%} off")
    assert c.gap == pytest.approx(independent_gap(model, x, torch.zeros_like(x), 1, a.attr), rel=1e-4)


def test_ig_loop_does_not_judge_a_score_that_ignores_the_input():
    model = tiny_model()
    x = NORM(image().unsqueeze(0))
    a, c = integrated_gradients_complete(model, x, 0, steps=(4, 8, 16), flat_below=1e9)
    assert not c.judged and not c.converged and math.isnan(c.gap)
    assert c.steps == 4 and len(c.tried) == 1  # no step count can fix a gap that means nothing
    assert words.ig_clause(c).startswith(f"4 IG steps; f(x) − f(baseline) = {numbers.sci(c.f_diff)} ≈ 0")
    with pytest.raises(AttributionError):
        integrated_gradients_complete(model, x, 0, noise_tunnel=True)
    with pytest.raises(AttributionError):
        integrated_gradients_complete(model, x, 0, steps=(0,))


def test_explain_reports_the_steps_and_the_gap():
    model = tiny_model()
    img = image()
    e = lab.explain(model, NORM, img, target="pred", method="IntegratedGradients",
                    ig_steps=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
    x, black = NORM(img.unsqueeze(0)), NORM(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    a = attribute(model, x, e.target, "IntegratedGradients", black=black, n_steps=e.ig_steps)
    assert e.completeness_gap == pytest.approx(independent_gap(model, x, black, e.target, a.attr), rel=1e-4,
                                               abs=1e-7)
    assert e.completeness_gap <= 0.01 or e.ig_steps == 1024
    assert np.allclose(e.attr_map, a.attr[0].sum(0).double().numpy(), atol=1e-6)
    assert words.ig_clause(e.ig) in words.facts(e).split(" · ")
    # an explicit n_steps is used alone; other methods have no IG fields
    one = lab.explain(model, NORM, img, target="pred", method="IntegratedGradients", n_steps=3)
    assert one.ig_steps == 3 and len(one.ig.tried) == 1
    sal = lab.explain(model, NORM, img, target="pred", method="Saliency")
    assert sal.ig is None and sal.ig_steps is None and sal.completeness_gap is None
    nt = lab.explain(model, NORM, img, target="pred", method="IntegratedGradients", noise_tunnel=True)
    assert nt.ig is None  # SmoothGrad: no completeness to reach
    assert IG_STEPS[0] == 50 and IG_STEPS[-1] == 800


# ---------------------------------------------------------------------------------------------
# The one "never left chance" rule
# ---------------------------------------------------------------------------------------------
def test_near_chance_and_the_note():
    # plain-56 as shipped: 84.6 % test error on 10 classes (chance 90 %) -> flagged
    assert near_chance(1 - 0.846, 0.1) and not near_chance(1 - 0.0635, 0.1)
    assert near_chance(0.54, 0.5) and not near_chance(0.56, 0.5)  # two classes: 55 % line
    note = words.chance_note("plain56", {"test_error": 0.846}, 10)
    assert note.startswith("**plain56** never left chance: test error 84.6%, against 90% for guessing")
    assert words.chance_note("residual56", {"test_error": 0.035}, 10) is None
    assert words.chance_note("x", {}, 10) is None and words.chance_note("x", {"test_error": float("nan")}, 10) is None


def test_the_pair_note_flags_a_twin_at_chance_or_far_worse_and_says_what_would_be_fair():
    from resnet_explain.chance import far_worse, unfair_sides

    # the shipped depth-56 pair: plain56 never left chance; depth 20: a fair pair
    note = words.pair_note({"plain56": {"test_error": 0.846}, "residual56": {"test_error": 0.035}}, 10)
    assert note.startswith("**plain56 never left chance** (15% accuracy") and "GPU" in note
    assert words.pair_note({"plain20": {"test_error": 0.071}, "residual20": {"test_error": 0.0635}}, 10) is None
    # 29 % against 94 %: (0.29 - 0.1) / (0.94 - 0.1) = 0.23 of its twin's way, under one half
    far = words.pair_note({"p": {"test_error": 0.71}, "r": {"test_error": 0.06}}, 10)
    assert far.startswith("**p trained far worse than r** (29% accuracy against 94%") and "got 23%" in far
    assert words.pair_note({"p": {}, "r": {"test_error": 0.06}}, 10) is None
    # the rule: less than half of the other's way from chance; never against a twin at chance
    assert far_worse(0.5, 0.95, 0.1) and not far_worse(0.6, 0.95, 0.1)  # 0.47 vs 0.59 of the way
    assert not far_worse(0.11, 0.15, 0.1)  # the other never left chance either
    assert unfair_sides({"a": 0.12, "b": 0.13}, 0.1) == {"a": "near chance", "b": "near chance"}
    assert unfair_sides({"a": 0.9, "b": 0.95}, 0.1) == {}


# ---------------------------------------------------------------------------------------------
# Tiny runs in a temporary store
# ---------------------------------------------------------------------------------------------
def tiny_request(skip=True, seed=0, epochs=2) -> RunRequest:
    spec = cifar_resnet(8, skip=skip, width=2, in_size=8)
    return RunRequest(spec=spec.to_query(), data=DataRecipe(n_train=64, n_test=32, size=8, difficulty=0.0),
                      config=TrainConfig(epochs=epochs, batch_size=16, lr=0.05, seed=seed, device="cpu"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(root))
        residual, _ = train_run(tiny_request(skip=True), RunStore())
        plain, _ = train_run(tiny_request(skip=False), RunStore())
        lonely, _ = train_run(tiny_request(skip=True, seed=1), RunStore())  # its twin is not trained
        yield {"root": root, "residual": residual, "plain": plain, "lonely": lonely}


@pytest.fixture
def runs(cache, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(cache["root"]))
    return cache


def test_load_readonly_takes_a_run_and_private_copy_is_private(runs):
    r = runs["residual"]
    shared = shipped.load_readonly(r)
    fresh = r.load_model()[0]
    assert shared[2]["run_id"] == r.run_id and all(not p.requires_grad for p in shared[0].parameters())
    for (n, p), (_, q) in zip(shared[0].state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(p, q), n
    model, normalizer, meta = shipped.private_copy(shared)
    assert model is not shared[0] and normalizer is shared[1] and meta is shared[2]
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(model.parameters(), shared[0].parameters()))
    model.get_submodule("stage1.block0").register_forward_hook(lambda *a: None)
    assert not any(m._forward_hooks for m in shared[0].modules())
    # a shipped name still works, and gives the shipped run's model
    if "plain20" in shipped.shipped():
        assert shipped.load_readonly("plain20")[2]["run_id"] == shipped.run("plain20").run_id


def test_score_models_on_a_runs_test_split(runs):
    r = runs["residual"]
    test = r.test_images(8)
    loaded = {r.name: r.load_model()}
    got = lab.score_models(loaded, test, methods=["Saliency"])
    want = score_methods({r.name: loaded[r.name][:2]}, test.x, test.mask, test.y, methods=["Saliency"])
    assert got["pointing_game"].tolist() == want["pointing_game"].tolist() and int(got["n"].iloc[0]) == 8


# ---------------------------------------------------------------------------------------------
# The picker's pure parts
# ---------------------------------------------------------------------------------------------
def test_pair_order_titles_and_labels(runs):
    p, r = runs["plain"], runs["residual"]
    assert run_picker.plain_first(r, p) == (p, r) and run_picker.plain_first(p, r) == (p, r)
    assert (run_picker.run_variant(p), run_picker.run_variant(r)) == ("plain", "residual")
    assert run_picker.run_title(r) == f"Residual-8 ({r.run_id[:6]})"
    assert run_picker.pair_label(r) == f"your network: residual-8 ({r.run_id[:6]}) vs its twin"
    d = run_picker.describe_run(r)
    assert f"run `{r.run_id}`, trained here" in d and "64 training and 32 test images" in d
    assert "2 epochs" in d and f"test error {r.meta['test_error']:.1%}" in d
    if "plain20" in shipped.shipped():
        s = shipped.run("plain20")
        assert run_picker.run_title(s) == "Plain-20" and "shipped" in run_picker.describe_run(s)


def test_choices_are_this_sessions_pairs_then_the_shipped_ones(runs, tmp_path):
    p, r = runs["plain"], runs["residual"]
    store = RunStore()
    opts = run_picker.choices([(r.run_id, p.run_id), ("0" * 16, p.run_id)], store)
    mine = [c for c in opts if isinstance(c.key, str)]
    assert [(c.key, c.ids) for c in mine] == [(r.run_id, (r.run_id, p.run_id))]  # the unknown pair is left out
    assert opts[0] is mine[0]  # the session's pairs come first
    assert [c.key for c in opts[1:]] == sorted(shipped.pairs())
    assert run_picker.choice_for(p.run_id, opts) is mine[0]  # either run of a pair selects it
    assert run_picker.choice_for("f" * 16, opts) is None and run_picker.choice_for(None, opts) is None
    # another store (another visitor's cache) does not have these runs: nothing of theirs is listed
    other = RunStore(root=tmp_path / "elsewhere")
    assert [c for c in run_picker.choices([(r.run_id, p.run_id)], other) if isinstance(c.key, str)] == []


# ---------------------------------------------------------------------------------------------
# The CLI: --run beside --model, and lesion
# ---------------------------------------------------------------------------------------------
def run_cli(capsys, *argv):
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:  # argparse refuses a flag: one line, exit 2
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_attribute_run_is_explain_on_that_run(runs, capsys):
    r = runs["residual"]
    rc, out, err = run_cli(capsys, "attribute", "--run", r.run_id, "--index", "3", "--device", "cpu", "--json")
    assert rc == 0, err
    d = json.loads(out)
    model, normalizer, _ = r.load_model()
    test = r.test_images()
    e = lab.explain(model, normalizer, test.x[3], label=int(test.y[3]), mask=test.mask[3])
    assert (d["run_id"], d["model"], d["label"], d["prediction"]) == (r.run_id, r.name, int(test.y[3]), e.pred)
    assert d["attribution_sum"] == pytest.approx(e.attr_sum, rel=1e-5, abs=1e-7)
    assert (d["ig_steps"], d["ig_converged"]) == (e.ig_steps, e.ig.converged)
    assert d["completeness_gap"] == (None if e.completeness_gap is None else pytest.approx(e.completeness_gap))


def test_cli_exactly_one_of_model_and_run_and_unknown_ids(runs, capsys):
    for argv in (["attribute"], ["attribute", "--model", "plain20", "--run", runs["plain"].run_id],
                 ["lesion"], ["lesion", "--model", "plain20", "--run", runs["plain"].run_id],
                 ["attribution-scores", "--depths", "20", "--run", runs["plain"].run_id]):
        rc, _, err = run_cli(capsys, *argv)
        assert rc == 2 and err.count("\n") == 1, (argv, err)
    for argv in (["attribute", "--run", "0123456789abcdef"], ["lesion", "--run", "../../etc/passwd"],
                 ["attribution-scores", "--run", "0123456789abcdef"], ["lesion", "--model", "plain99"]):
        rc, _, err = run_cli(capsys, *argv, "--device", "cpu")
        assert rc == 2 and err.count("\n") == 1 and "error:" in err, (argv, err)


def test_cli_scores_a_run_with_its_twin_plain_first(runs, capsys):
    r, p = runs["residual"], runs["plain"]
    rc, out, err = run_cli(capsys, "attribution-scores", "--run", r.run_id, "--n", "6", "--methods",
                           "Saliency", "--device", "cpu", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert [row["model"] for row in d["rows"]] == [p.name, r.name]
    assert [m["run_id"] for m in d["meta"]["runs"]] == [p.run_id, r.run_id]
    test = r.test_images(6)
    want = score_methods({p.name: p.load_model()[:2], r.name: r.load_model()[:2]}, test.x, test.mask,
                         test.y, methods=["Saliency"])
    assert [row["pointing_game"] for row in d["rows"]] == pytest.approx(want["pointing_game"].tolist())
    # the chance flag is the library's rule on each run's recorded test error
    for row, run in zip(d["rows"], (p, r)):
        assert row["never_left_chance"] == (words.chance_note(run.name, run.meta, 10) is not None)
    # a run whose twin was never trained is scored alone, and the CLI says so
    rc, out, err = run_cli(capsys, "attribution-scores", "--run", runs["lonely"].run_id, "--n", "4",
                           "--methods", "Saliency", "--device", "cpu", "--json")
    assert rc == 0 and "is not stored; scoring it alone" in err
    assert [row["model"] for row in json.loads(out)["rows"]] == [runs["lonely"].name]


def test_cli_lesion_run_is_lesion_study(runs, capsys):
    r = runs["plain"]
    rc, out, err = run_cli(capsys, "lesion", "--run", r.run_id, "--n", "20", "--device", "cpu", "--json")
    assert rc == 0, err
    d = json.loads(out)
    model, normalizer, _ = r.load_model()
    want = lesion_study(model, r.test_images(20), normalizer)
    assert [row["block"] for row in d["rows"]] == want["block"].tolist()
    assert [row["removable"] for row in d["rows"]] == want["removable"].tolist()
    for row, (_, w) in zip(d["rows"], want.iterrows()):
        assert (row["accuracy"] is None) == (not w["removable"])
        if w["removable"]:
            assert row["accuracy_drop"] == pytest.approx(w["accuracy_drop"])
    m = d["meta"]
    assert (m["run_id"], m["n"], m["chance"]) == (r.run_id, 20, 0.1)
    assert m["base_accuracy"] == pytest.approx(want.attrs["base_accuracy"])
    assert m["near_chance"] == near_chance(m["base_accuracy"], 0.1)
    assert m["data"]["n_test"] == 32 and m["epochs"] == 2


def test_cli_lesion_model_is_the_shipped_run(capsys):
    if "residual20" not in shipped.shipped():
        pytest.skip("no shipped runs")
    rc, out, err = run_cli(capsys, "lesion", "--model", "residual20", "--n", "40", "--device", "cpu", "--json")
    assert rc == 0, err
    d = json.loads(out)
    run = shipped.run("residual20")
    model, normalizer, _ = run.load_model()
    want = lesion_study(model, run.test_images(40), normalizer)
    assert [row["accuracy"] for row in d["rows"]] == pytest.approx(want["accuracy"].tolist())
    assert d["meta"]["run_id"] == run.run_id and d["meta"]["shipped"] is True
