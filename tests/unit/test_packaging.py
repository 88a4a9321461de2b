"""The library as an engineer installs it (issue 26): a wheel built from the project, installed
into a fresh virtual environment, used from a folder outside the checkout — probe torchvision's
ResNet-18 (8 BasicBlocks, each with a skip and a finite identity / residual split), watch three
steps of the user's own loop, write a report — with the stored assets found inside the installed
package. The venv reuses the installed torch (``--system-site-packages``) instead of downloading
it again; nothing is fetched from an index."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "resnet_explain", "assets")

USER_SCRIPT = textwrap.dedent('''
    import json, math, sys
    from pathlib import Path
    import torch, torch.nn.functional as F
    import resnet_explain
    from resnet_explain.experiments.real_models import import_torchvision
    from resnet_explain.stored_assets import assets_dir

    tv = import_torchvision()  # the installed library keeps the checkout's torchvision workaround
    torch.manual_seed(0)
    model = tv.models.resnet18(weights=None, num_classes=10)
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    r = resnet_explain.probe(model, x, y)
    b = r.blocks
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with resnet_explain.watch(model, every=1) as w:
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    h = w.history
    out = resnet_explain.report(model, x, y, Path("report.html"), watch=w)
    print(json.dumps({
        "package": resnet_explain.__file__, "assets": str(assets_dir("runs")),
        "assets_found": assets_dir("runs").is_dir(),
        "kinds": b["kind"].tolist(), "skip": b["skip"].tolist(),
        "split": b[["identity_norm", "residual_norm"]].to_numpy().ravel().tolist(),
        "steps": sorted(set(h["step"])), "rows": len(h),
        "update_ratio_finite": bool(h["update_ratio"].map(math.isfinite).all()),
        "report": out.read_text()[:200000]}))
''')


def _subpackages() -> set[str]:
    return {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "resnet_explain").rglob("__init__.py")}


def test_pyproject_lists_every_subpackage_and_pins_torch():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(meta["tool"]["setuptools"]["packages"])
    assert _subpackages() <= listed and listed - _subpackages() == {"resnet_explain._assets"}
    deps = meta["project"]["dependencies"]
    req = (ROOT / "requirements.txt").read_text()
    torch_pin = next(line.split()[0] for line in req.splitlines() if line.startswith("torch=="))
    assert torch_pin in deps
    assert any(d.startswith("streamlit") for d in meta["project"]["optional-dependencies"]["app"])
    assert "streamlit" not in " ".join(deps)  # the library never imports it


def test_the_library_never_imports_streamlit_outside_ui():
    for path in (ROOT / "resnet_explain").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "resnet_explain").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_works_outside_the_checkout(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: building writes build/ and *.egg-info next to the sources
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (ROOT / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"

    def run(*cmd, cwd=tmp_path):
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, (cmd, out.stdout[-3000:], out.stderr[-3000:])
        return out.stdout

    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", str(tmp_path / "dist"), str(src))
    wheel, = (tmp_path / "dist").glob("resnet_explain-*.whl")
    run(sys.executable, "-m", "venv", "--system-site-packages", str(tmp_path / "venv"))
    py = str(tmp_path / "venv" / "bin" / "python")
    run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "user.py").write_text(USER_SCRIPT)
    import json

    got = json.loads(run(py, "user.py", cwd=outside).strip().splitlines()[-1])
    venv = str(tmp_path / "venv")
    assert got["package"].startswith(venv) and not got["package"].startswith(str(ROOT))
    assert got["assets"].startswith(venv) and got["assets_found"]
    assert got["kinds"] == ["BasicBlock"] * 8 and all(got["skip"])
    assert len(got["split"]) == 16 and all(v > 0 and v < float("inf") for v in got["split"])
    assert got["steps"] == [0, 1, 2] and got["rows"] == 24 and got["update_ratio_finite"]
    page = got["report"]
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<table" in page
    assert "Over 8 blocks, the gradient" in page
    assert "<script src=" not in page  # self-contained: nothing to fetch
    assert "resnet-explain" in run(py, "-m", "pip", "show", "resnet-explain")
