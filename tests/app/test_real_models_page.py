"""AppTest for the Real Architectures page: torchvision's ResNet-18 at initialisation by default,
its chart carries the probe's own numbers, the verdict is judge_ratio's, and the model and batch
ride in the URL."""

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from resnet_explain import magnitude
from resnet_explain.experiments import real_models as R

from .chartdata import chart_frames

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "real_models.py")
TIMEOUT = 120


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def test_default_is_resnet18_with_its_measured_blocks_and_verdict():
    at = page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Real Architectures"
    assert at.selectbox(key="rm_model").value == "resnet18"
    want = R.probe_real("resnet18", batch=2, seed=0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Blocks probed"] == "8"
    assert metrics["First / last block gradient"] == magnitude.fmt_ratio(want.ratio)
    assert any(magnitude.judge_ratio(want.ratio).markdown in md.value for md in at.markdown)
    long = max(chart_frames(at)[0], key=len)
    got = long.sort_values("position")["grad_norm"].to_numpy()
    np.testing.assert_allclose(got, want.blocks["grad_norm"], rtol=1e-6)
    caption = " ".join(c.value for c in at.caption)
    assert "weights=None" in caption and "2 × 3 × 64 × 64" in caption and "nothing downloaded" in caption


def test_model_and_batch_come_from_the_url():
    at = page({"rm_model": "vgg11", "rm_batch": "4", "seed": "1"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="rm_model").value == "vgg11"
    assert {m.label: m.value for m in at.metric}["Blocks probed"] == "10"
    want = R.probe_real("vgg11", batch=4, seed=1)
    long = max(chart_frames(at)[0], key=len)
    np.testing.assert_allclose(long.sort_values("position")["grad_norm"], want.blocks["grad_norm"],
                               rtol=1e-6)
    assert "4 × 3 × 32 × 32" in " ".join(c.value for c in at.caption)
