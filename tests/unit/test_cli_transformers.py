"""``python -m resnet_explain transformers``: the page's measurements as JSON, bad flags as one line."""

from __future__ import annotations

import json

import pytest

from resnet_explain.cli import main
from resnet_explain.experiments import transformers as tfx


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


@pytest.mark.parametrize("argv", [["--init", "--depths", "x"], ["--init", "--variants", "mid-LN"],
                                  ["--train", "--steps", "0"], ["--init", "--depths", "99"]])
def test_bad_flags_are_one_line_errors(argv, capsys):
    assert main(["transformers", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
