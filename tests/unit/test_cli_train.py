"""CLI: degradation (stored and --run) and bench-train, through the one entry point (cli.main)."""

import json

import pytest

from resnet_explain import cli
from resnet_explain.cli import training as cli_train
from resnet_explain.train import config, degradation


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_live(monkeypatch):
    exp = degradation.Experiment(name="cpu-live", label="test", n_train=64, n_test=32, size=8, difficulty=0.0,
                       width=2, depths=(8, 14), seeds=(0,),
                       train=config.TrainConfig(epochs=1, batch_size=32, device="cpu"))
    monkeypatch.setitem(degradation.EXPERIMENTS, "cpu-live", exp)


def test_run_prints_json_and_progress(tiny_live, capsys):
    code, out, err = run(["degradation", "--run", "--epochs", "1", "--depths", "8,14",
                          "--seeds", "0", "--device", "cpu", "--json"], capsys)
    assert code == 0
    obj = json.loads(out)
    assert len(obj["rows"]) == 4
    for r in obj["rows"]:
        assert r["arch"] in ("plain", "residual") and r["depth"] in (8, 14)
        assert 0 <= r["train_error"] <= 1 and 0 <= r["test_error"] <= 1 and r["seeds"] == [0]
    assert obj["meta"]["device"] == "cpu" and obj["meta"]["epochs"] == 1
    assert "torch" in obj["meta"] and obj["meta"]["wall_seconds"] > 0
    assert "epoch 1" in err


def test_stored_results_round_trip(tiny_live, capsys, tmp_path):
    code, out, _ = run(["degradation", "--run", "--json"], capsys)
    f = tmp_path / "r.json"
    f.write_text(out)
    code, out2, _ = run(["degradation", "--json", "--results", str(f)], capsys)
    assert code == 0 and json.loads(out2) == json.loads(out)
    code, text, _ = run(["degradation", "--results", str(f)], capsys)
    assert code == 0 and "plain" in text and "residual" in text


@pytest.mark.parametrize("argv,needle", [
    (["degradation", "--results", "/nonexistent/x.json"], "no stored results"),
    (["degradation", "--epochs", "3"], "need --run"),
    (["degradation", "--run", "--depths", "21"], "6n+2"),
    (["degradation", "--run", "--depths", "twenty"], "whole numbers"),
    (["degradation", "--run", "--epochs", "0"], "epochs"),
    (["bench-train", "--depth", "21"], "6n+2"),
])
def test_user_errors_exit_2_with_one_line(argv, needle, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_bench_train_json(capsys):
    code, out, _ = run(["bench-train", "--json", "--device", "cpu", "--depth", "8", "--width", "2",
                        "--size", "8", "--steps", "2", "--batch", "16", "--repeats", "1"], capsys)
    assert code == 0
    r = json.loads(out)
    assert r["trainer_images_per_s"] > 0 and r["naive_images_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["trainer_images_per_s"] / r["naive_images_per_s"])
    # The flags reach the benchmark.
    assert r["depth"] == 8 and r["trainer_steps"] == 2 and r["trainer_batch"] == 16
    assert r["repeats"] == 1 and len(r["trainer_runs"]) == 1 and r["device"] == "cpu"


def test_stored_assets_have_the_documented_shape(capsys):
    if not cli_train.DEFAULT_RESULTS.is_file():
        pytest.skip("assets/degradation/results.json not generated yet")
    code, out, _ = run(["degradation", "--json"], capsys)
    obj = json.loads(out)
    assert code == 0 and {"device", "torch", "epochs", "wall_seconds"} <= set(obj["meta"])
    assert {(r["arch"], r["depth"]) for r in obj["rows"]} >= {("plain", 20), ("plain", 56),
                                                              ("residual", 20), ("residual", 56)}
