"""``python -m resnet_explain transformers``: the page's measurements as JSON, bad flags as one line."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from resnet_explain.cli import main
from resnet_explain.experiments import transformers as tfx
from resnet_explain.experiments import transformers_sort as tfs


def test_init_json_matches_the_library(capsys):
    assert main(["transformers", "--init", "--depths", "1,2", "--variants", "pre-LN,post-LN", "--batch", "4",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["streams"]) == 2 * (2 + 4) and {r["depth"] for r in out["first_last"]} == {1, 2}
    streams, _ = tfx.init_measurements((2,), ("post-LN",), batch=4)
    mine = [r for r in out["streams"] if r["depth"] == 2 and r["variant"] == "post-LN"]
    assert [r["grad_norm"] for r in mine] == pytest.approx(streams["grad_norm"].tolist(), rel=1e-6)


def test_stored_json_carries_the_corpus_hash(capsys):
    assert main(["transformers", "--stored", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["meta"]["corpus_sha256"]) == 64 and out["streams"] and out["lesion"]


def test_sort_json_matches_the_library(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    assert main(["transformers", "--sort", "--depths", "1", "--variants", "pre-LN", "--steps", "2",
                 "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["finals"]
    assert (row["variant"], row["depth"], row["steps"]) == ("pre-LN", 1, 2)
    assert [b["baseline"] for b in out["baselines"]] == ["chance", "position only", "position + previous token"]
    assert out["baselines"][0]["token_acc"] == pytest.approx(1 / tfs.SORT_DATA.n_symbols)
    (cell,) = tfs.sort_cells((1,), ("pre-LN",))
    _, val = tfs.SORT_DATA.load()
    b = tfs.SORT_BUDGET
    runs = tfs.train_sort([cell], device="cpu", budget=replace(b, config=replace(b.config, max_steps=2)))
    assert runs[0][1].run_id == row["run_id"]  # loaded, not retrained
    assert tfs.sort_accuracy(runs[0][1].load_model()[0], val)["token_acc"] == pytest.approx(row["token_acc"])


def test_stored_json_has_the_sort_tables(capsys):
    assert main(["transformers", "--stored", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"sort", "sort_baselines", "seeds"} <= set(out)


@pytest.mark.parametrize("argv", [["--init", "--depths", "x"], ["--init", "--variants", "mid-LN"],
                                  ["--train", "--steps", "0"], ["--init", "--depths", "99"],
                                  ["--sort", "--depths", "0"], ["--sort", "--variants", "mid-LN"]])
def test_bad_flags_are_one_line_errors(argv, capsys):
    assert main(["transformers", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
