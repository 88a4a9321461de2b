"""The command line: ``python -m resnet_explain probe ...`` and ``presets``.

A few runs go through a real subprocess (exit codes, stdout/stderr as a shell sees them); the rest
call ``cli.main`` in-process, which is much faster (no torch import per run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from resnet_explain import cli
from resnet_explain.spec import PRESETS, NetSpec, estimate_cost, mlp

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "resnet_explain", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _main_json(capsys, *args) -> dict:
    rc = cli.main(["probe", *args, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


def _one_line_error(err: str) -> None:
    assert err.strip(), "expected a message on stderr"
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in err
    assert "error" in err


# ---------------------------------------------------------------------------------------------
# Subprocess: the real thing
# ---------------------------------------------------------------------------------------------
def test_subprocess_probe_mlp_json():
    t0 = time.perf_counter()
    p = _run("probe", "--arch", "mlp", "--depth", "20", "--json", "--batch", "8")
    wall = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert set(d) == {"blocks", "meta"}
    names = [b["name"] for b in d["blocks"]]
    assert names == [f"stage1.block{j}" for j in range(9)]  # input -> output
    for b in d["blocks"]:
        assert isinstance(b["grad_norm"], float) and b["grad_norm"] > 0
        assert b["skip"] is True and b["kind"] == "preact"
    m = d["meta"]
    assert m["device"] == "cpu"
    assert 0 < m["seconds"] < wall  # the probe's time, within the whole process's
    assert m["n_params"] == estimate_cost(mlp(20)).params
    assert m["batch"] == 8 and m["dtype"] == "float32" and m["depth"] == 20
    assert NetSpec.from_query(m["spec"]) == mlp(20)
    assert m["ratio_first_last"] == pytest.approx(
        d["blocks"][0]["grad_norm"] / d["blocks"][-1]["grad_norm"])


def test_subprocess_unknown_flag_exits_2_with_one_line():
    p = _run("probe", "--arch", "mlp", "--depth", "4", "--bogus")
    assert p.returncode == 2
    assert p.stdout == ""
    _one_line_error(p.stderr)
    assert "--bogus" in p.stderr


def test_subprocess_bad_depth_exits_2_with_one_line():
    p = _run("probe", "--arch", "cnn", "--depth", "7")
    assert p.returncode == 2 and p.stdout == ""
    _one_line_error(p.stderr)
    assert "depth" in p.stderr


# ---------------------------------------------------------------------------------------------
# In-process
# ---------------------------------------------------------------------------------------------
def test_overrides(capsys):
    base = _main_json(capsys, "--arch", "mlp", "--depth", "6", "--width", "4", "--batch", "4")
    spec = NetSpec.from_query(base["meta"]["spec"])
    assert spec == mlp(6, width=4)
    assert base["meta"]["batch"] == 4 and base["meta"]["seed"] == 0

    d = _main_json(capsys, "--arch", "mlp", "--depth", "6", "--width", "4", "--batch", "2",
                   "--no-skip", "--act", "tanh", "--norm", "batch", "--seed", "5",
                   "--device", "cpu")
    spec = NetSpec.from_query(d["meta"]["spec"])
    assert spec == mlp(6, width=4, skip=False, act="tanh", norm="batch")
    assert not any(b["skip"] for b in d["blocks"])
    assert d["meta"]["seed"] == 5 and d["meta"]["batch"] == 2 and d["meta"]["device"] == "cpu"

    d = _main_json(capsys, "--arch", "cnn", "--depth", "8", "--width", "4", "--batch", "2",
                   "--act", "relu", "--spec", "act=tanh&ins=8")
    spec = NetSpec.from_query(d["meta"]["spec"])
    assert spec.act == "tanh" and spec.in_size == 8 and spec.stem_width == 4
    assert [b["name"] for b in d["blocks"]] == ["stage1.block0", "stage2.block0",
                                                "stage3.block0"]

    d = _main_json(capsys, "--arch", "mlp", "--depth", "4", "--width", "4", "--batch", "2",
                   "--dtype", "float64")
    assert d["meta"]["dtype"] == "float64"


def test_seed_is_deterministic(capsys):
    args = ("--arch", "mlp", "--depth", "6", "--width", "4", "--batch", "3")
    a = _main_json(capsys, *args, "--seed", "1")
    b = _main_json(capsys, *args, "--seed", "1")
    c = _main_json(capsys, *args, "--seed", "2")
    g = lambda d: [x["grad_norm"] for x in d["blocks"]]  # noqa: E731
    assert g(a) == g(b) and g(a) != g(c)


def test_preset_flag(capsys):
    d = _main_json(capsys, "--preset", "mlp-sigmoid20-plain", "--batch", "4")
    assert NetSpec.from_query(d["meta"]["spec"]) == PRESETS["mlp-sigmoid20-plain"][1]
    assert d["meta"]["ratio_first_last"] < 1e-8


def test_text_output(capsys):
    rc = cli.main(["probe", "--arch", "mlp", "--depth", "6", "--width", "4", "--batch", "2"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "stage1.block0" in out and "stage1.block1" in out and "ratio" in out
    assert "device" in out and "ms" in out


def test_underflow_in_json_is_null_log_not_nan(capsys):
    d = _main_json(capsys, "--arch", "mlp", "--depth", "100", "--no-skip", "--batch", "4")
    first = d["blocks"][0]
    assert len(d["blocks"]) == 49
    assert first["grad_norm"] == 0.0 and first["underflow"] is True
    assert first["log10_grad_norm"] is None  # valid JSON: no NaN literal


def test_json_value_makes_every_non_finite_number_null_and_keeps_the_rest():
    import numpy as np
    import pandas as pd

    from resnet_explain.jsonable import json_dict, json_rows, json_value

    for bad in (float("nan"), float("inf"), -float("inf"), np.float32("nan"), np.float64("-inf")):
        assert json_value(bad) is None
    for kept in (0.0, -2.5, 3, 10**400, True, None, "nan", np.int64(7), [float("nan")]):
        assert json_value(kept) is kept  # lists are not walked: rows are flat
    assert json_dict({"a": float("nan"), "b": 1.5}) == {"a": None, "b": 1.5}
    df = pd.DataFrame({"x": [1.0, float("nan")], "name": ["a", "b"]})
    rows = json_rows(df)
    assert rows == [{"x": 1.0, "name": "a"}, {"x": None, "name": "b"}]
    json.loads(json.dumps(rows), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def test_cuda_request_on_cpu_machine_falls_back_with_note(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    rc = cli.main(["probe", "--arch", "mlp", "--depth", "4", "--width", "4", "--batch", "2",
                   "--device", "cuda", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert json.loads(out)["meta"]["device"] == "cpu"
    assert "note:" in err and "cuda" in err


@pytest.mark.parametrize("argv", [
    ["probe", "--bogus"],
    ["probe", "--act", "foo"],
    ["probe", "--norm", "layer"],
    ["probe", "--arch", "rnn"],
    ["probe", "--depth", "x"],
    ["probe", "--preset", "nope"],
    ["probe", "--dtype", "float16"],
    ["frobnicate"],
    [],
])
def test_bad_flags_exit_2_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    _one_line_error(err)


@pytest.mark.parametrize("argv", [
    ["probe", "--arch", "cnn", "--depth", "7"],
    ["probe", "--arch", "mlp", "--depth", "5"],
    ["probe", "--arch", "mlp", "--depth", "4", "--width", "-3"],
    ["probe", "--arch", "mlp", "--depth", "4", "--width", "5000"],
    ["probe", "--arch", "mlp", "--depth", "4", "--batch", "0"],
    ["probe", "--arch", "mlp", "--depth", "4", "--spec", "act=foo"],
    ["probe", "--arch", "mlp", "--depth", "4", "--spec", "net=b0"],
    ["probe", "--arch", "mlp", "--depth", "4", "--spec", "alpha=nan"],
    ["probe", "--arch", "mlp", "--depth", "100000"],
])
def test_bad_values_exit_2_one_line(capsys, argv):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert out == ""
    _one_line_error(err)


def test_unknown_spec_key_exits_2(capsys):
    rc = cli.main(["probe", "--arch", "mlp", "--depth", "4", "--width", "4", "--batch", "2",
                   "--spec", "bogus=1"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    _one_line_error(err)


def test_width_zero_exits_2(capsys):
    rc = cli.main(["probe", "--arch", "mlp", "--depth", "4", "--batch", "2", "--width", "0"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    _one_line_error(err)
    assert "width" in err


def test_presets_text_and_json(capsys):
    assert cli.main(["presets"]) == 0
    out, _ = capsys.readouterr()
    for name in PRESETS:
        assert name in out
    assert len(out.strip().splitlines()) == len(PRESETS)
    assert cli.main(["presets", "--json"]) == 0
    out, _ = capsys.readouterr()
    d = json.loads(out)
    assert [r["name"] for r in d["presets"]] == list(PRESETS)
    for r in d["presets"]:
        spec = PRESETS[r["name"]][1]
        assert NetSpec.from_query(r["spec"]) == spec
        assert r["params"] == estimate_cost(spec).params and r["depth"] == spec.depth
        assert r["description"]


def test_architectures_rows_equal_the_library_and_errors_are_one_line(capsys):
    from resnet_explain.experiments import architectures as A

    assert cli.main(["architectures", "--depth", "8", "--variants", "resnet,dense,fixup", "--batch", "4",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = A.compare(8, ["resnet", "dense", "fixup"], 0, 4)
    assert [r["variant"] for r in out["rows"]] == ["resnet", "dense", "fixup"]
    for got, (_, row) in zip(out["rows"], want.iterrows()):
        assert got["params"] == row["params"] and got["flops"] == row["flops"]
        if got["ratio"] is not None:
            assert got["ratio"] == pytest.approx(row["ratio"], rel=1e-12)
    assert out["rows"][2]["ratio"] is None and out["rows"][2]["ratio_note"]  # Fixup: 0/0 by design
    assert out["rows"][0]["published_value"] == "6.61" and out["rows"][1]["published_value"] == "5.24"
    assert any("Fixup" in s for s in out["sentences"])
    assert cli.main(["architectures", "--depth", "21"]) == 2
    assert "6n+2" in capsys.readouterr().err
    assert cli.main(["architectures", "--variants", "resnet,nope"]) == 2
    assert "nope" in capsys.readouterr().err
