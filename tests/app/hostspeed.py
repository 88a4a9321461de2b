"""The host speed the page tests run at: the target host's (a 2-vCPU server, timed once when idle),
installed as this process's one host measurement, so a page's estimate — and whether its Start is
refused — does not depend on how busy the machine running the tests is.

The line's shape (per-layer and per-FLOP costs) as measured on a 2-core machine with one thread
(``python scripts/estimate_check.py``, the quietest of 3 measurements, load average 23), scaled by
one factor so that it gives back the training speed of the stored degradation runs
(assets/degradation/runs.csv: ResNet-20, width 8, 16×16, batch 64, one thread on a 2-core CPU;
median 2,471 images/s). So scaled, the same line gives back the stored ResNet-56 runs (0.0760 s a
batch against 0.0757) and the issue's idle estimate of the default pair (33.5 s against 32 s)."""

from pathlib import Path

import pandas as pd

from resnet_explain.spec import cifar_resnet
from resnet_explain.train import estimate as E

ROOT = Path(__file__).resolve().parents[2]
MEASURED = E.HostSpeed(("cpu", 1), E.Line(9.461e-3, 5.472e-10), E.Line(5.742e-3, 2.163e-10), 2.042e-6)


def target(margin: float = 1.0) -> E.HostSpeed:
    """The target host, ``margin`` times slower."""
    runs = pd.read_csv(ROOT / "assets" / "degradation" / "runs.csv")
    batch_s = 64 / float(runs[runs["depth"] == 20]["images_per_s"].median())
    k = margin * batch_s / MEASURED.train_step(cifar_resnet(20, width=8, in_size=16), 64)
    scale = lambda line: E.Line(line.per_layer * k, line.per_flop * k)  # noqa: E731
    return E.HostSpeed(("cpu", 2), scale(MEASURED.train), scale(MEASURED.forward), MEASURED.data_per_pixel * k)
