"""Runs made elsewhere (the gpu experiment, CIFAR-10 itself): read when stored, None when not, and
the words the Training page says about them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from resnet_explain.content import cifar as words
from resnet_explain.experiments import cifar_he2015, stored_elsewhere
from resnet_explain.experiments.degradation import STORED_DIR, load_stored

# A fixture, never shipped: the stored CPU experiment's files with a meta that says, in every
# field a reader sees, that it is a test's.
FAKE = {"device": "cuda", "name": "TEST FIXTURE, not a measurement", "detail": "fake GPU",
        "wall_seconds": 123.4, "made_at": "2000-01-01T00:00:00+00:00", "made_by": "a unit test"}


def fake_gpu_run(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("runs.csv", "curves.csv", "table.csv"):
        shutil.copy(STORED_DIR / f, folder / f)
    obj = json.loads((STORED_DIR / "results.json").read_text())
    obj["meta"].update(FAKE)
    (folder / "results.json").write_text(json.dumps(obj))
    return folder


def test_absent_is_none_and_present_is_read(tmp_path):
    assert stored_elsewhere.load_if_there(tmp_path / "nothing") is None
    folder = fake_gpu_run(tmp_path / "degradation-gpu")
    (folder / "curves.csv").unlink()
    assert stored_elsewhere.load_if_there(folder) is None  # a partial copy is not a run
    folder = fake_gpu_run(tmp_path / "degradation-gpu")
    got = stored_elsewhere.load_if_there(folder)
    assert got.meta["name"] == FAKE["name"] and got.table.equals(load_stored(STORED_DIR).table)


def test_gpu_dir_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setattr(stored_elsewhere, "GPU_DIR", fake_gpu_run(tmp_path / "g"))
    assert stored_elsewhere.gpu_run().meta["device"] == "cuda"


def test_machine_label_names_the_machine_and_the_wall_time():
    meta = dict(load_stored(STORED_DIR).meta, **FAKE)
    text = words.machine_label(meta)
    assert "TEST FIXTURE, not a measurement" in text and "123 s wall" in text and "cuda" in text
    assert "2000-01-01" in text and "a unit test" in text and "depths 20, 56" in text


def test_cifar_missing_says_what_and_how_and_what_then_runs(tmp_path):
    missing = cifar_he2015.missing(tmp_path)
    assert missing is not None and str(tmp_path) in missing
    text = words.cifar_missing(missing)
    assert missing in text and words.REPRODUCE in text and "64k iterations" in text
    assert "sec. 4.2" in text


def test_beside_paper_display_puts_table6_beside_ours():
    table = pd.DataFrame({"arch": ["plain", "residual", "residual"], "depth": [20, 20, 110],
                          "train_error": [0.05, 0.04, 0.01], "test_error": [0.09, 0.0875, 0.07]})
    shown = words.beside_paper_display(cifar_he2015.beside_paper(table))
    assert list(shown["network"]) == ["plain-20", "residual-20", "residual-110"]
    assert list(shown["test error (%)"]) == ["9.00", "8.75", "7.00"]
    # He et al.'s table 6: ResNet-20 8.75 %, ResNet-110 6.43 %; no number printed for plain-20.
    assert list(shown["He et al.'s test error (%)"]) == ["—", "8.75", "6.43"]
    assert "table 6" in shown["where He et al. print it"].iloc[1]
