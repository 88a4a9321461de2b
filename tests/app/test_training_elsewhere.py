"""AppTest: the Training page shows runs made elsewhere when stored (the gpu experiment, labelled
with its machine and wall time) and, when not, what is missing and how to make it (CIFAR-10)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_explain.content import cifar as words
from resnet_explain.experiments import stored_elsewhere

from ..unit.test_stored_elsewhere import FAKE, fake_gpu_run

TRAINING = str(Path(__file__).resolve().parents[2] / "app_pages" / "training.py")


def page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("RESNET_EXPLAIN_DATA", str(tmp_path / "data"))  # no CIFAR-10 there
    at = AppTest.from_file(TRAINING, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_nothing_stored_says_how_to_make_both(tmp_path, monkeypatch):
    monkeypatch.setattr(stored_elsewhere, "GPU_DIR", tmp_path / "no-gpu-run")
    at = page(tmp_path, monkeypatch)
    assert words.gpu_missing() in [c.value for c in at.caption]
    info = "\n".join(i.value for i in at.info)
    assert "CIFAR-10 is not in the data folder" in info and str(tmp_path / "data") in info
    assert words.REPRODUCE in info


def test_a_stored_gpu_run_shows_labelled_with_machine_and_wall_time(tmp_path, monkeypatch):
    monkeypatch.setattr(stored_elsewhere, "GPU_DIR", fake_gpu_run(tmp_path / "degradation-gpu"))
    at = page(tmp_path, monkeypatch)
    text = "\n".join(m.value for m in at.markdown)
    assert FAKE["name"] in text and "123 s wall" in text and "device cuda" in text
    assert words.gpu_missing() not in [c.value for c in at.caption]
    # its table beside the stored CPU one: the page has one more results table
    assert sum("training error (%)" in d.value.columns for d in at.table) >= 2
