"""Trainer: learns a tiny problem, stops when asked, is seeded; checkpoints; the experiment."""

import json
import math
import statistics

import pandas as pd
import pytest
import torch

from resnet_explain.data import Normalizer, make_shapes
from resnet_explain.experiments import degradation
from resnet_explain.model import build_model
from resnet_explain.spec import SpecError, cifar_resnet
from resnet_explain.train import benchmark, budgets, checkpoints, config, trainer
from resnet_explain.train.runs import DataRecipe

SPEC = cifar_resnet(8, width=4, in_size=8, classes=2)


@pytest.fixture(scope="module")
def tiny():
    tr = make_shapes(128, seed=0, size=8, difficulty=0.0, classes=2)
    te = make_shapes(64, seed=0, size=8, difficulty=0.0, classes=2, split="test")
    return tr, te


def cfg(**kw):
    base = dict(epochs=3, batch_size=32, lr=0.05, device="cpu", seed=0)
    base.update(kw)
    return config.TrainConfig(**base)


def test_trainer_reduces_loss(tiny):
    tr, te = tiny
    seen = []
    before = trainer.evaluate(build_model(SPEC, seed=0), tr, Normalizer.of(tr))[1]
    res = trainer.train(SPEC, tr, te, cfg(), progress=seen.append)
    after = trainer.evaluate(res.model, tr, res.normalizer)[1]
    assert after < before
    h = res.history
    assert list(h.columns) == config.HISTORY_COLUMNS and list(h["epoch"]) == [1, 2, 3]
    assert [r["epoch"] for r in seen] == [1, 2, 3]
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    # The recorded test error is the trained model's, in eval mode, on the test set.
    assert h["test_error"].iloc[-1] == trainer.evaluate(res.model, te, res.normalizer)[0]
    assert (h["images_per_s"] > 0).all()
    assert res.meta["stopped"] is False and res.meta["steps"] == 12 and res.meta["device"] == "cpu"
    assert res.model.training  # handed back as trained, in train mode


def test_cooperative_stop(tiny):
    tr, te = tiny
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 6  # stop before the 6th step

    res = trainer.train(SPEC, tr, te, cfg(epochs=5), should_stop=stop)
    assert res.meta["stopped"] is True and res.meta["steps"] == 5
    assert len(res.history) == 1  # only the finished epoch is recorded


def test_seeded(tiny):
    tr, _ = tiny
    a = trainer.train(SPEC, tr, None, cfg(epochs=1))
    b = trainer.train(SPEC, tr, None, cfg(epochs=1))
    c = trainer.train(SPEC, tr, None, cfg(epochs=1, seed=1))
    assert a.history["train_loss"].iloc[0] == b.history["train_loss"].iloc[0]
    assert a.history["train_loss"].iloc[0] != c.history["train_loss"].iloc[0]
    assert math.isnan(a.history["test_error"].iloc[0])


def test_bad_requests(tiny):
    tr, _ = tiny
    with pytest.raises(config.TrainError):
        trainer.train(SPEC, tr, None, cfg(schedule="cosine-ish"))
    with pytest.raises(config.TrainError):
        trainer.train(SPEC, tr, None, cfg(epochs=0))
    with pytest.raises(SpecError):  # 16x16 net, 8x8 data
        trainer.train(cifar_resnet(8, width=4, in_size=16, classes=2), tr, None, cfg())


def test_schedules():
    c = config.TrainConfig(lr=0.1, schedule="step")
    assert [config.lr_at(c, s, 100) for s in (0, 49, 50, 75, 99)] == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.001])
    o = config.TrainConfig(lr=0.1, schedule="onecycle", warmup=0.2)
    lrs = [config.lr_at(o, s, 100) for s in range(100)]
    assert max(lrs) == pytest.approx(0.1, rel=0.05) and lrs[0] < 0.02 and lrs[-1] < 0.002


def test_augment_keeps_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    y = trainer._augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    # every output pixel is either padding (0) or one of the image's own values
    assert set(y.unique().tolist()) <= set(x.unique().tolist()) | {0.0}


def test_checkpoint_round_trip_weights_only(tiny, tmp_path):
    tr, _ = tiny
    res = trainer.train(SPEC, tr, None, cfg(epochs=1))
    meta = {"seed": 0, "x": float("nan"), "torch": torch.__version__}  # TorchVersion: a str subclass
    path = checkpoints.save_checkpoint(res.model, tmp_path / "m.pt", res.normalizer, meta)
    raw = torch.load(path, weights_only=True)  # loads without running pickled code
    assert raw["spec"] == SPEC.to_query()
    model, norm, meta = checkpoints.load_checkpoint(path)
    assert meta == {"seed": 0, "x": None, "torch": str(torch.__version__)} and norm == res.normalizer
    res.model.eval()
    xb = res.normalizer(tr.x[:16])
    assert torch.equal(model(xb), res.model(xb))
    # float16 storage: half the bytes, close outputs
    p16 = checkpoints.save_checkpoint(res.model, tmp_path / "h.pt", res.normalizer, half=True)
    m16 = checkpoints.load_checkpoint(p16)[0]
    assert torch.allclose(m16(xb), res.model(xb), atol=0.05, rtol=0.05)


def test_bench_train_reports_both(tiny):
    r = benchmark.bench_train(SPEC, device="cpu", steps=2, batch_size=32, repeats=1)
    assert r["trainer_images_per_s"] > 0 and r["naive_images_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["trainer_images_per_s"] / r["naive_images_per_s"])
    # The best of the runs is reported, one run per repeat, with the settings asked for.
    assert len(r["trainer_runs"]) == len(r["naive_runs"]) == 1
    assert r["trainer_images_per_s"] == max(r["trainer_runs"])
    assert r["trainer_steps"] == 2 and r["trainer_batch"] == 32 and r["depth"] == SPEC.depth


def tiny_experiment():
    return budgets.Budget("tiny", "test", DataRecipe(n_train=64, n_test=32, size=8, difficulty=0.0),
                          cfg(epochs=1), width=2, depths=(8, 14), seeds=(0,))


def test_degradation_tiny():
    seen = []
    r = degradation.run_degradation(tiny_experiment(), progress=seen.append)
    assert len(r.runs) == 4 and len(r.curves) == 4 and len(seen) == 4
    assert list(r.table["arch"]) == ["plain", "plain", "residual", "residual"]
    assert list(r.table["depth"]) == [8, 14, 8, 14]
    assert len(r.hypothesis) == 3
    obj = json.loads(json.dumps(r.to_json(), allow_nan=False))
    for row in obj["rows"]:
        assert {"arch", "depth", "train_error", "test_error", "seeds"} <= set(row)
        assert 0 <= row["train_error"] <= 1
    assert {"device", "torch", "epochs", "wall_seconds"} <= set(obj["meta"])
    # every network's per-step curve: convergence at step resolution, in the JSON too
    assert len(r.steps.groupby(["arch", "depth", "seed"])) == 4
    assert r.convergence.attrs["resolution"] == "step" and obj["convergence"]["resolution"] == "step"
    # two seeds: mean and spread over both
    r2 = degradation.run_degradation(tiny_experiment(), depths=[8], seeds=[0, 1], archs=("residual",))
    assert r2.table["seeds"].iloc[0] == [0, 1]
    runs = r2.runs["train_error"].tolist()
    assert len(runs) == 2
    assert r2.table["train_error"].iloc[0] == pytest.approx(statistics.mean(runs))
    assert r2.table["train_error_std"].iloc[0] == pytest.approx(statistics.stdev(runs), abs=1e-12)


def test_a_stored_result_reads_its_step_curves_when_stored_and_says_epoch_otherwise(tmp_path):
    r = degradation.run_degradation(tiny_experiment(), depths=[8], archs=("residual",))
    (tmp_path / "results.json").write_text(json.dumps(r.to_json(), allow_nan=False))
    r.curves.to_csv(tmp_path / "curves.csv", index=False)
    r.runs.to_csv(tmp_path / "runs.csv", index=False)
    r.steps.to_csv(tmp_path / "steps.csv", index=False)
    stored = degradation.load_stored(tmp_path)
    assert stored.convergence.attrs["resolution"] == "step"
    pd.testing.assert_frame_equal(stored.convergence, r.convergence, check_dtype=False)
    (tmp_path / "steps.csv").unlink()  # as every result stored before the per-step curve
    assert degradation.load_stored(tmp_path).convergence.attrs["resolution"] == "epoch"


def test_degradation_stop_and_bad_depth():
    r = degradation.run_degradation(tiny_experiment(), should_stop=lambda: True)
    assert r.meta["stopped"] and r.runs.empty
    with pytest.raises(SpecError):
        degradation.run_degradation(tiny_experiment(), depths=[21])
    with pytest.raises(config.TrainError):
        degradation.run_degradation("no-such-experiment")


def test_summarise_and_hypothesis():
    runs = pd.DataFrame([
        {"arch": a, "depth": d, "seed": s, "train_error": e + 0.01 * s, "test_error": e + 0.05,
         "seconds": 1.0, "params": 10}
        for (a, d, e) in [("plain", 20, 0.3), ("plain", 56, 0.7), ("residual", 20, 0.3), ("residual", 56, 0.25)]
        for s in (0, 1, 2)])
    t = degradation.summarise(runs)
    assert t.loc[(t.arch == "plain") & (t.depth == 56), "train_error"].item() == pytest.approx(0.71)
    assert t["train_error_std"].iloc[0] == pytest.approx(0.01)
    h = degradation.check_hypothesis(t)
    assert [x["holds"] for x in h] == [True, True, True]
    assert [x["kind"] for x in h] == ["degradation", "residual_deeper", "residual_beats_plain"]
    assert [(x["a"], x["b"]) for x in h] == [("plain-56", "plain-20"), ("residual-56", "residual-20"),
                                             ("residual-56", "plain-56")]
    assert h[0]["claim"] == "plain-56 trains worse than plain-20 (degradation)"  # golden


def test_budget_checked_before_allocating(tiny):
    tr, _ = tiny
    with pytest.raises(SpecError, match="budget"):
        trainer.train(SPEC, tr, None, cfg(max_memory_bytes=1000))


def test_the_degradation_budgets_have_he_et_als_depths_and_the_cpu_one_says_where_it_stops():
    from resnet_explain.train.budgets import BUDGETS, EXPERIMENTS

    gpu, cpu = EXPERIMENTS["gpu"], EXPERIMENTS["cpu-budget"]
    assert gpu.depths == (20, 32, 44, 56, 110) and gpu.seeds == (0, 1, 2) and gpu.width == 16
    assert gpu.data != BUDGETS["full"].data  # the harder recipe; the pages' full pair stays quick
    assert "scaled" in gpu.note and "7,020 iterations" in gpu.note  # 30,000 // 128 x 30 epochs
    assert gpu.config.epochs * (gpu.data.n_train // gpu.config.batch_size) == 7020
    assert cpu.depths == (20, 56) and "32, 44 and 110" in cpu.note  # the stored assets' depths
