"""The example notebook runs headless (nbclient, a fresh kernel, issue 26) and shows what it says:
8 blocks with a skip, the recorded steps, the charts as rich output, the report written."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.slow
def test_own_model_notebook_runs_and_shows_its_results(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel runs in tmp_path, not the checkout
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(ROOT / "examples" / "own_model.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    assert "blocks 8 with a skip 8" in _text(code[1])
    assert "recorded steps [0, 2, 4]" in _text(code[3])
    for cell in (code[2], code[4]):  # the probe and the watch chart: Altair's rich output
        data = [o.get("data", {}) for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert any("text/html" in d or "application/vnd.vegalite.v6+json" in d for d in data)
    assert "wrote report.html True" in _text(code[5])
    assert "<svg" in (tmp_path / "report.html").read_text()
