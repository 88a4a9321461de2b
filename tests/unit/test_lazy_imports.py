"""Cold start (issue 14): the app shell and the first chart's page import neither Captum, nor
vl-convert, nor the training modules; the pages that need them still find them through ``ui``."""

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("captum", "vl_convert", "resnet_explain.train", "resnet_explain.train.trainer",
         "resnet_explain.train.runs", "resnet_explain.experiments.attribution")


def _imports_of(path: Path) -> str:
    """Only the import statements of a script (executing them, not the page)."""
    tree = ast.parse(path.read_text())
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def _loaded_after(code: str) -> list[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_shell_and_first_chart_page_import_nothing_heavy():
    code = _imports_of(ROOT / "app.py") + "\n" + _imports_of(ROOT / "app_pages" / "gradient_flow.py")
    code += "\nimport resnet_explain.ui.warmup"
    loaded = set(_loaded_after(code))
    assert "resnet_explain.ui" in loaded and "resnet_explain.probe" in loaded  # it did import the app
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_ui_still_offers_the_run_picker_on_demand():
    loaded = _loaded_after(
        "from resnet_explain import ui\n"
        "import sys\n"
        "assert 'resnet_explain.train.runs' not in sys.modules\n"
        "assert callable(ui.pick_pair) and callable(ui.shared_model) and callable(ui.run_title)\n"
        "from resnet_explain.ui import describe_run, remember_pair\n"
        "missing = [n for n in ui.__all__ if not hasattr(ui, n)]\n"
        "assert not missing, missing\n")
    assert "resnet_explain.ui.run_picker" in loaded and "resnet_explain.train.runs" in loaded


def test_unknown_ui_attribute_is_still_an_attribute_error():
    from resnet_explain import ui

    try:
        ui.no_such_helper
    except AttributeError as exc:
        assert "no_such_helper" in str(exc)
    else:
        raise AssertionError("ui.no_such_helper resolved")
