"""Learning-rate sweep: rows per (variant, lr), a repeat loads, the sentence for every case, Stop,
the time estimate and progress, the stored sweep and its chart."""

import json
import math
from dataclasses import replace

import pandas as pd
import pytest

from resnet_explain.charts import lr_sweep as charts
from resnet_explain.content import training_lr as lr_text
from resnet_explain.experiments import lr_sweep as sw
from resnet_explain.experiments.degradation import network
from resnet_explain.spec import NetSpec
from resnet_explain.train.budgets import BUDGETS, EXPERIMENTS
from resnet_explain.train.runs import RunStore

from .test_runs import tiny_request

LRS = (0.05, 0.4)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_sweep_has_one_row_per_variant_and_lr_and_a_repeat_loads(cache, monkeypatch):
    records = []
    df = sw.lr_sweep(None, tiny_request(epochs=1), LRS, progress=records.append)
    assert list(df.columns) == sw.COLUMNS
    assert list(zip(df["variant"], df["lr"])) == [("plain", 0.05), ("plain", 0.4),
                                                   ("residual", 0.05), ("residual", 0.4)]
    assert df["run_id"].nunique() == 4 and not df["loaded"].any() and not df.attrs["stopped"]
    assert (df["depth"] == 8).all() and (df["seed"] == 0).all()
    # The runs went to the user's cache (RESNET_EXPLAIN_CACHE), each with its learning rate.
    store = RunStore()
    assert store.root == cache / "runs"
    for r in df.itertuples():
        run = store.get(r.run_id)
        assert run.request.config.lr == r.lr
        assert r.train_error == run.meta["train_error"]  # eval mode, from the run's meta
        assert r.best_epoch_train_error == run.history["train_error"].min()
        assert (run.request.netspec.any_skip) == (r.variant == "residual")
    # Everything but the lr (and the skips) is the same for every run.
    reqs = [store.get(r).request for r in df["run_id"]]
    assert len({(q.data, replace(q.config, lr=0)) for q in reqs}) == 1
    done = [r for r in records if r.get("done")]
    assert [r["run"] for r in done] == [1, 2, 3, 4] and all(r["runs"] == 4 for r in records)
    epoch_recs = [r for r in records if not r.get("done")]
    assert {r["lr"] for r in epoch_recs} == set(LRS)  # the sweep's lr, not the schedule's
    assert all(r["lr_now"] <= r["lr"] for r in epoch_recs)

    from resnet_explain.train import trainer

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(trainer, "train", boom)
    again = sw.lr_sweep(None, tiny_request(epochs=1), LRS)
    assert again["loaded"].all()
    pd.testing.assert_frame_equal(again.drop(columns="loaded"), df.drop(columns="loaded"))


def test_stop_returns_the_finished_runs_and_stores_no_partial_one(tmp_path):
    def stop_in_third_run():  # polled before each run and before each step
        return bool(stop_in_third_run.armed)

    stop_in_third_run.armed = False
    store = RunStore(root=tmp_path / "runs", shipped_root=tmp_path / "none")

    def progress(rec):
        if rec.get("done") and rec["run"] == 2:
            stop_in_third_run.armed = True

    df = sw.lr_sweep(None, tiny_request(epochs=1), LRS, store=store, progress=progress,
                     should_stop=stop_in_third_run)
    assert df.attrs["stopped"] and df.attrs["runs"] == 4 and len(df) == 2
    assert len(store.list()) == 2
    # Stopped before anything trains: no rows, nothing stored.
    empty = sw.lr_sweep(None, tiny_request(epochs=1, seed=5), LRS, store=store, should_stop=lambda: True)
    assert empty.empty and empty.attrs["stopped"] and len(store.list()) == 2
    # Stop during the first run (after a few steps): that run is not stored.
    steps = {"n": 0}

    def after_three_polls():
        steps["n"] += 1
        return steps["n"] > 3

    mid = sw.lr_sweep(None, tiny_request(epochs=1, seed=6), LRS, store=store, should_stop=after_three_polls)
    assert mid.empty and mid.attrs["stopped"] and len(store.list()) == 2


def test_together_trains_every_lr_at_once_with_the_same_runs_and_stops_cleanly(tmp_path):
    """together=True (the CUDA default): the network at its learning rates is one vmapped stack,
    its twin another (train/concurrent.py); same run ids, same numbers up to float rounding."""
    import numpy as np

    one = RunStore(root=tmp_path / "one", shipped_root=tmp_path / "none")
    both = RunStore(root=tmp_path / "both", shipped_root=tmp_path / "none")
    records = []
    f32 = lambda **kw: (lambda r: replace(r, config=replace(r.config, amp="off", channels_last="off")))(
        tiny_request(**kw))  # noqa: E731 -- bf16 (AMX CPUs) rounds too coarsely to compare at lr 0.4
    a = sw.lr_sweep(None, f32(epochs=2), LRS, store=one, together=False)
    b = sw.lr_sweep(None, f32(epochs=2), LRS, store=both, together=True, progress=records.append)
    assert list(a["run_id"]) == list(b["run_id"]) and not b.attrs["stopped"]
    cols = ["train_error", "test_error", "train_loss", "best_epoch_train_error"]
    np.testing.assert_allclose(b[cols].to_numpy(float), a[cols].to_numpy(float), rtol=1e-3, atol=1e-4)
    assert all(both.get(r).meta["trained_with"].startswith("stacked (2 models") for r in b["run_id"])
    assert sorted(r["run"] for r in records if r.get("done")) == [1, 2, 3, 4]
    assert sw.sweep_fraction(records[:-4], 4) == pytest.approx(1.0)  # every run at its last epoch
    halfway = [r for r in records if not r.get("done") and r["epoch"] == 1]
    assert sw.sweep_fraction(halfway, 4) == pytest.approx(0.5)  # 4 runs, each 1 epoch of 2
    polls = {"n": 0}
    stopped = sw.lr_sweep(None, f32(epochs=2, seed=7), LRS, store=both, together=True,
                          should_stop=lambda: (polls.__setitem__("n", polls["n"] + 1), polls["n"] > 3)[1])
    assert stopped.empty and stopped.attrs["stopped"] and len(both.list()) == 4


def test_divergence_is_flagged_from_nan_loss_or_chance():
    class FakeRun:
        def __init__(self, train_error, final_loss, losses):
            self.run_id = "0" * 16
            self.meta = {"train_error": train_error, "train_loss": final_loss, "test_error": 0.5,
                         "seconds": 1.0}
            self.history = pd.DataFrame({"epoch": [1, 2], "train_loss": losses,
                                         "train_error": [0.6, 0.5]})

    req = tiny_request()
    ok = sw._row(FakeRun(0.05, 0.2, [1.0, 0.5]), req, False)
    assert not ok["diverged"] and ok["trains"] and ok["best_epoch"] == 2 and ok["best_epoch_train_error"] == 0.5
    nan = sw._row(FakeRun(0.05, None, [1.0, float("nan")]), req, False)  # None: not finite in meta.json
    assert nan["diverged"] and not nan["trains"] and math.isnan(nan["train_loss"])
    chance = sw._row(FakeRun(sw.CHANCE - 0.01, 2.3, [2.3, 2.3]), req, False)
    assert chance["diverged"] and not chance["trains"]
    stuck = sw._row(FakeRun(0.5, 1.2, [2.0, 1.5]), req, False)  # learned something, not enough
    assert not stuck["diverged"] and not stuck["trains"]


def _table(plain: dict, residual: dict, depth=20, seeds=(0,), diverged=()):
    """Synthetic sweep: {lr: final training error} per variant."""
    rows = []
    for variant, errs in (("plain", plain), ("residual", residual)):
        for lr, e in errs.items():
            for s in seeds:
                nan = (variant, lr) in diverged
                rows.append({"variant": variant, "depth": depth, "lr": lr, "train_error": e,
                             "test_error": e, "train_loss": float("nan") if nan else 0.1,
                             "diverged": nan or e >= sw.CHANCE - sw.CHANCE_MARGIN, "seed": s,
                             "run_id": f"{variant[0]}{lr}", "best_epoch": 1,
                             "best_epoch_train_error": e, "seconds": 1.0, "loaded": False,
                             "trains": e < sw.TRAINS_BELOW})
    return pd.DataFrame(rows)


GRID = (0.1, 0.2, 0.4, 0.8)


def test_statement_residual_tolerates_higher_lr():
    t = _table(dict(zip(GRID, [0.02, 0.03, 0.5, 0.9])), dict(zip(GRID, [0.01, 0.01, 0.02, 0.9])))
    plain, residual = (sw.summarise_variant(t[t["variant"] == v]) for v in ("plain", "residual"))
    assert (plain["max_lr"], residual["max_lr"], plain["first_diverged"]) == (0.2, 0.4, 0.8)
    assert (plain["best_lr"], plain["best_error"], plain["fails_below_max"]) == (0.1, 0.02, [])
    s = lr_text.state_result(t)
    assert s.startswith("Plain-20 trains") and "below 10.0 %" in s and "up to lr 0.2, residual-20 up to lr 0.4" in s
    assert "2× higher" in s
    assert "Ended at chance (within 2 points of 90.0 %, learned nothing): plain-20 at lr 0.8; residual-20 at lr 0.8." in s
    assert "Loss not finite" not in s
    assert "plain-20 2.0 % at lr 0.1, residual-20 1.0 % at lr 0.1" in s
    assert "One seed (0)" in s


def test_statement_says_when_there_is_no_difference():
    same = _table(dict(zip(GRID, [0.02, 0.03, 0.5, 0.6])), dict(zip(GRID, [0.01, 0.02, 0.4, 0.5])))
    s = lr_text.state_result(same)
    assert "Both train" in s and "up to lr 0.2 and not above" in s and "no difference" in s
    assert "No run diverged or ended at chance." in s
    everywhere = _table(dict(zip(GRID, [0.02] * 4)), dict(zip(GRID, [0.01] * 4)))
    s = lr_text.state_result(everywhere)
    assert "every learning rate up to the largest tried (0.8)" in s and "no difference" in s
    neither = _table(dict(zip(GRID, [0.5] * 4)), dict(zip(GRID, [0.3] * 4)))
    s = lr_text.state_result(neither)
    assert s.startswith("Neither plain-20 nor residual-20 trains") and "(0.1–0.8)" in s
    stuck = _table(dict(zip(GRID, [0.89, 0.5, 0.9, 0.9])), dict(zip(GRID, [0.9] * 4)))
    s = lr_text.state_result(stuck)
    assert "plain-20 at lr 0.1, 0.4, 0.8; residual-20 at every lr tried." in s
    top = _table(dict(zip(GRID, [0.02, 0.03, 0.9, 0.9])), dict(zip(GRID, [0.01] * 4)))
    assert "learned nothing): plain-20 from lr 0.4." in lr_text.state_result(top)


def test_statement_when_only_one_trains_or_the_claim_is_reversed():
    only_res = _table(dict(zip(GRID, [0.5] * 4)), dict(zip(GRID, [0.01, 0.01, 0.01, 0.9])))
    s = lr_text.state_result(only_res)
    assert "Plain-20 does not train" in s and "residual-20 trains up to lr 0.4" in s
    assert "not even the smallest" in s and "(0.1–0.8)" in s
    only_plain = _table(dict(zip(GRID, [0.01] * 4)), dict(zip(GRID, [0.5] * 4)))
    s = lr_text.state_result(only_plain)
    assert "Residual-20 does not train" in s and "plain-20 trains up to lr 0.8" in s
    reversed_ = _table(dict(zip(GRID, [0.01, 0.01, 0.01, 0.3])), dict(zip(GRID, [0.01, 0.3, 0.3, 0.3])))
    s = lr_text.state_result(reversed_)
    assert "up to lr 0.4, residual-20 up to lr 0.1" in s and "opposite of the claim" in s


def test_statement_threshold_gaps_nan_depths_and_edge_cases():
    t = _table(dict(zip(GRID, [0.04, 0.08, 0.2, 0.9])), dict(zip(GRID, [0.04, 0.08, 0.2, 0.9])))
    assert "up to lr 0.2" in lr_text.state_result(t)  # 8 % trains at the default 10 %
    assert "up to lr 0.1 and not above" in lr_text.state_result(t, threshold=0.05)
    assert "below 5.0 %" in lr_text.state_result(t, threshold=0.05)
    gap = _table(dict(zip(GRID, [0.5, 0.02, 0.9, 0.9])), dict(zip(GRID, [0.01] * 4)))
    assert "Plain-20 does not train at lr 0.1 although it does at a higher one" in lr_text.state_result(gap)
    # A NaN loss never "trains", whatever the error says.
    nan = _table(dict(zip(GRID, [0.01] * 4)), dict(zip(GRID, [0.01] * 4)), diverged={("plain", 0.8)})
    s = lr_text.state_result(nan)
    assert "up to lr 0.4, residual-20 up to lr 0.8" in s and "Loss not finite: plain-20 at lr 0.8." in s
    assert "Ended at chance" not in s
    two = pd.concat([_table({0.1: 0.01}, {0.1: 0.01}, depth=20),
                     _table({0.1: 0.5}, {0.1: 0.01}, depth=56)])
    s = lr_text.state_result(two)
    assert s.index("residual-20") < s.index("Plain-56 does not train")
    assert "One seed" not in lr_text.state_result(_table({0.1: 0.01}, {0.1: 0.01}, seeds=(0, 1)))
    assert lr_text.state_result(pd.DataFrame()) == "No runs finished, so there is nothing to compare."
    one = _table({0.1: 0.01}, {})
    assert "Only plain-20 ran" in lr_text.state_result(one) and "no twin" in lr_text.state_result(one)


def test_lr_grids_and_bad_values():
    assert sw.log_grid(0.05, 3.2) == (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
    assert sw.log_grid(0.01, 1.6) == (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
    assert sw.check_lrs([0.4, 0.1, 0.4]) == (0.1, 0.4)
    assert sw.parse_lrs("0.1, 0.2 0.05") == (0.05, 0.1, 0.2)
    for bad, needle in (([], "at least one"), ([0.0], "(0, 10]"), ([11], "(0, 10]"),
                        ([float("nan")], "(0, 10]"), (list(range(1, 18)), "at most")):
        with pytest.raises(sw.SweepError, match=needle.replace("(", r"\(").replace("]", r"\]")):
            sw.check_lrs(bad)
    with pytest.raises(sw.SweepError, match="expected numbers"):
        sw.parse_lrs("0.1,fast")
    with pytest.raises(sw.SweepError, match="unknown budget"):
        sw.base_request(NetSpec.from_query(tiny_request().spec), "huge")


def test_base_request_from_a_budget_or_an_experiment():
    spec = NetSpec.from_query(tiny_request().spec)
    r = sw.base_request(spec, "quick", seed=3, device="cpu")
    assert r == BUDGETS["quick"].request(spec, seed=3, device="cpu")
    kept = sw.base_request(None, tiny_request(seed=4))
    assert kept.config.seed == 4 and sw.base_request(None, tiny_request(seed=4), seed=1).config.seed == 1
    exp = EXPERIMENTS["cpu-budget"]
    e = sw.experiment_request("cpu-budget", 20)
    assert e.netspec == network(exp, "residual", 20) and e.config == replace(exp.config, seed=0, device="cpu")
    assert (e.data.n_train, e.data.n_test, e.data.size, e.data.difficulty) == (5000, 2000, 16, 0.1)
    reqs = sw.sweep_requests(e, (0.2, 0.1))
    assert [q.config.lr for q in reqs] == [0.1, 0.1, 0.2, 0.2]
    assert [q.netspec.any_skip for q in reqs] == [True, False, True, False]


def test_estimate_counts_only_runs_not_stored(tmp_path):
    store = RunStore(root=tmp_path / "runs", shipped_root=tmp_path / "none")
    req = tiny_request(epochs=1)
    reqs = sw.sweep_requests(req, LRS)
    assert sw.estimate_sweep_seconds(reqs, 2.5, store) == pytest.approx(4 * 2.5)
    sw.lr_sweep(None, req, (0.05,), store=store)  # the pair at lr 0.05 is now stored
    assert sw.estimate_sweep_seconds(reqs, 2.5, store) == pytest.approx(2 * 2.5)
    assert sw.estimate_sweep_seconds(reqs, 2.5) == pytest.approx(4 * 2.5)  # no store: all of them


def test_progress_fraction_and_text():
    assert (sw.sweep_fraction([], 4), lr_text.sweep_text([], 4)) == (0.0, "0 of 4 runs")
    recs = [{"variant": "plain", "lr": 0.1, "run": 1, "runs": 4, "epochs": 2, "epoch": 1, "train_error": 0.5}]
    f, text = sw.sweep_fraction(recs, 4), lr_text.sweep_text(recs, 4)
    assert f == pytest.approx(1 / 8) and "plain at lr 0.1: epoch 1 of 2" in text and "50.0 %" in text
    recs.append({"variant": "plain", "lr": 0.1, "run": 1, "runs": 4, "epochs": 2, "done": True,
                 "loaded": True, "train_error": 0.25})
    f, text = sw.sweep_fraction(recs, 4), lr_text.sweep_text(recs, 4)
    assert f == pytest.approx(1 / 4) and text.startswith("1 of 4 runs") and "loaded" in text


def test_stored_sweep_if_made(tmp_path):
    if not (sw.STORED_DIR / "results.json").is_file():
        pytest.skip("assets/lr_sweep not made yet (scripts/make_lr_sweep.py)")
    st = sw.load_stored()
    meta = json.loads((sw.STORED_DIR / "results.json").read_text())["meta"]
    assert st.meta == meta and meta["experiment"] == "cpu-budget" and meta["threads"] == 1
    assert set(st.table["variant"]) == {"plain", "residual"} and 20 in set(st.table["depth"])
    assert sorted(set(st.table["lr"])) == meta["lrs"]
    assert set(st.curves["run_id"]) == set(st.table["run_id"])
    assert lr_text.stored_statement(st) == meta["statement"]
    with pytest.raises(sw.SweepError, match="no readable stored sweep"):
        sw.load_stored(tmp_path)


def test_chart_keeps_diverged_runs_marks_them_and_draws_chance():
    t = _table(dict(zip(GRID, [0.02, 0.03, 0.5, 0.9])), dict(zip(GRID, [0.01, 0.01, 0.02, 0.9])),
               diverged={("plain", 0.8)})
    pts = charts.sweep_points(t)
    assert len(pts) == 8 and pts["error_pct"].max() == pytest.approx(90.0)
    assert list(pts.loc[pts["diverged"], "lr"]) == [0.8, 0.8]
    spec = charts.lr_sweep_chart(t, chance=sw.CHANCE, threshold=sw.TRAINS_BELOW).to_dict()
    layers = spec["layer"]
    assert layers[0]["encoding"]["x"]["scale"]["type"] == "log"
    # Colour per net from the shared variant colours (plain red, residual blue).
    assert layers[0]["encoding"]["color"]["scale"] == {"domain": ["plain-20", "residual-20"],
                                                       "range": ["#d62728", "#1f77b4"]}
    two = pd.concat([t, _table({0.1: 0.5}, {0.1: 0.01}, depth=56)])
    enc = charts.lr_sweep_chart(two).to_dict()["layer"][0]["encoding"]
    assert enc["color"]["scale"]["domain"] == ["plain-20", "plain-56", "residual-20", "residual-56"]
    assert enc["strokeDash"]["scale"]["range"] == [[1, 0], [6, 3], [1, 0], [6, 3]]  # dash = depth
    crosses = [lay for lay in layers if isinstance(lay.get("mark"), dict) and lay["mark"].get("shape") == "cross"]
    assert len(crosses) == 1 and crosses[0]["transform"] == [{"filter": "datum.diverged"}]
    rules = [lay for lay in layers if (lay.get("mark") or {}).get("type") == "rule"]
    assert [r["mark"]["strokeDash"] for r in rules] == [[2, 3], [8, 4]]
    assert spec["title"]["subtitle"] == "✕ diverged (loss not finite) or ended at chance"
    calm = _table(dict(zip(GRID, [0.02] * 4)), dict(zip(GRID, [0.01] * 4)))
    assert charts.lr_sweep_chart(calm).to_dict()["title"]["subtitle"] == ""
    datasets = spec["datasets"].values()
    assert any(d and d[0].get("y") == pytest.approx(90.0) for d in datasets)
    assert charts.sweep_points(pd.DataFrame()).empty
    shown = charts.display_table(t)
    assert shown["final train error %"].tolist()[:2] == [2.0, 3.0] and len(shown) == 8


def test_live_status_words():
    recs = [{"variant": "plain", "lr": 0.1, "run": 1, "runs": 4, "epochs": 2, "epoch": 1, "train_error": 0.5}]
    label, state, frac, _ = lr_text.live_status(recs, 4, 12.0, state="running")
    assert (label, state) == ("Sweeping… 12 s", "running") and frac == pytest.approx(1 / 8)
    assert lr_text.live_status(recs, 4, 1.0, state="running", stopping=True)[0].startswith("Stopping")
    assert lr_text.live_status([], 4, 1.0, state="queued")[0].startswith("Queued")
    assert lr_text.live_status(recs, 4, 30.0, state="done", finished=4)[:2] == ("Finished: 4 runs in 30 s", "complete")
    assert lr_text.live_status(recs, 4, 30.0, state="done", finished=1)[0] == "Stopped after 1 of 4 runs, 30 s"
    assert "nobody was watching" in lr_text.live_status(recs, 4, 3.0, state="done", finished=0, abandoned=True)[0]
    assert lr_text.live_status(recs, 4, 3.0, state="done", error="SpecError: x")[:2] == ("Failed: SpecError: x", "error")


def test_stored_caption_names_the_recipe_machine_and_command():
    meta = {"label": "CPU budget", "experiment": "cpu-budget", "depths": [20], "seed": 0,
            "recipe": {"20": sw.experiment_request("cpu-budget", 20).identity()}, "detail": "CPU only",
            "threads": 1, "torch": "2.13", "wall_seconds": 60, "train_seconds": 600, "created": "2026-11-28",
            "lrs": [0.1, 0.2, 0.4],
            "command": "python scripts/make_lr_sweep.py --depths 20"}
    c = lr_text.stored_caption(meta)
    for part in ("ResNet-20 (width 8)", "5,000 training images 16×16", "12 epochs", "batch 64",
                 "3 learning rates × 2 networks × 1 depth, 10 min of training",
                 "`python scripts/make_lr_sweep.py --depths 20`", "seed 0"):
        assert part in c, part


def test_networks_too_large_or_not_cnn_are_refused_before_timing():
    from resnet_explain.spec import SpecError, cifar_resnet

    small = sw.base_request(cifar_resnet(20, width=16), "quick", device="cpu")
    sw.check_size(small, 2 * 2**30)  # the default network fits
    big = sw.base_request(cifar_resnet(110, width=64), "quick", device="cpu")
    with pytest.raises(sw.SweepError, match="GFLOP"):
        sw.check_size(big, 2 * 2**30)
    with pytest.raises(SpecError, match="MiB"):
        sw.check_size(small, 2**20)
    mlp = cifar_resnet(8, width=2).with_globals(family="mlp")
    with pytest.raises(sw.SweepError, match="cnn"):
        sw.base_request(mlp, "quick")
