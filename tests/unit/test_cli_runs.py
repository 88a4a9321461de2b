"""CLI: train (and --twin) as stored runs, runs, grad-history; user errors exit 2 with one line."""

import json

import pytest

from resnet_explain import cli

TINY = "fam=cnn&net=b2~b4/2~b8/2&act=relu&norm=batch&stem=2"


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    return tmp_path


def test_train_with_twin_then_again_loads(capsys):
    code, out, err = run(["train", "--spec", TINY, "--twin", "--epochs", "1", "--device", "cpu", "--json"],
                         capsys)
    assert code == 0, err
    obj = json.loads(out)
    rows = obj["runs"]
    assert [r["arch"] for r in rows] == ["residual", "plain"] and not any(r["loaded"] for r in rows)
    assert all(0 <= r["train_error"] <= 1 for r in rows) and rows[0]["run_id"] != rows[1]["run_id"]
    assert obj["estimate_seconds"] > 0
    code, out, _ = run(["train", "--spec", TINY, "--twin", "--epochs", "1", "--device", "cpu", "--json"], capsys)
    again = json.loads(out)["runs"]
    assert code == 0 and all(r["loaded"] for r in again)
    assert [r["run_id"] for r in again] == [r["run_id"] for r in rows]
    assert [r["train_error"] for r in again] == [r["train_error"] for r in rows]
    code, out, _ = run(["runs", "--json"], capsys)
    listed = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert code == 0 and {r["run_id"] for r in rows} <= set(listed)
    assert sum(r["shipped"] for r in listed.values()) == 4  # the shipped twins are listed too


@pytest.mark.parametrize("argv, needle", [
    (["train", "--spec", "fam=cnn&net=zz"], "net"),
    (["train", "--spec", "fam=mlp&net=r64*2"], "cnn"),
    (["train", "--spec", TINY, "--epochs", "0"], "epochs"),
    (["train", "--spec", TINY, "--max-seconds", "0"], "max-seconds"),
    (["train", "--spec", "fam=cnn&net=b1024*400&act=relu&norm=batch&ins=256", "--budget", "full"], "budget"),
    (["grad-history", "--run", "0123456789abcdef"], "no stored run"),
    (["grad-history", "--run", "../../etc"], "no stored run"),
])
def test_user_errors_exit_2_with_one_line_and_write_nothing(argv, needle, capsys, cache):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert not (cache / "runs").exists() or not any((cache / "runs").iterdir())


def test_train_records_gradient_snapshots_by_default_and_matches_the_pages_run_id(capsys):
    """`train` records gradient snapshots as Train Your Network does (so grad-history works on its
    run; snapshots do not change the numbers, so they are not part of the run id: the same spec,
    seed and budget give the page's run id either way)."""
    from dataclasses import replace

    from resnet_explain.spec import NetSpec
    from resnet_explain.train.budgets import BUDGETS
    from resnet_explain.train.config import SNAPSHOT_EVERY

    code, out, err = run(["train", "--spec", TINY, "--device", "cpu", "--json"], capsys)
    assert code == 0, err
    rid = json.loads(out)["runs"][0]["run_id"]
    page = BUDGETS["quick"].request(NetSpec.from_query(TINY), seed=0, device="cpu")
    page = replace(page, config=replace(page.config, snapshot_every=SNAPSHOT_EVERY))
    assert rid == page.run_id
    code, out, err = run(["grad-history", "--run", rid, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["rows"] and json.loads(out)["run_id"] == rid
    code, out, err = run(["grad-history", "--run", rid], capsys)  # text: the block as people read it
    assert code == 0, err
    assert out.split()[0] == "label" and "stage 1 · block 1" in out and "stage1.block0" in out
