"""Give the shipped runs (assets/runs) their own gradient snapshots and per-step training curve.

Each shipped run's own request is trained again with ``snapshot_every`` (the stride the "Why plain
nets fail" page reads: resnet_explain/experiments/mechanism_runs.py SNAPSHOT_EVERY) and the
per-step curve (TrainConfig.curve_every) on. Neither changes what is learned, so the weights must
come out bit-identical to the shipped checkpoint: only then are grads.csv and steps.csv written
beside it (the checkpoint, history and run id stay as they are); otherwise nothing is written and
the difference is printed (resnet_explain/train/shipped.py add_records).

    nice -n 10 python scripts/make_shipped_records.py                     # all four, 1 thread
    nice -n 10 python scripts/make_shipped_records.py --names plain20 residual20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from resnet_explain.experiments.mechanism_runs import SNAPSHOT_EVERY  # noqa: E402
from resnet_explain.train import shipped  # noqa: E402
from resnet_explain.train.config import STEP_EVERY  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1, as the runs were made)")
    ap.add_argument("--every", type=int, default=SNAPSHOT_EVERY, help="steps between snapshots")
    ap.add_argument("--curve-every", type=int, default=STEP_EVERY, help="steps per window of the curve")
    ap.add_argument("--names", nargs="*", help="shipped runs (default: all)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    command = "python scripts/make_shipped_records.py " + " ".join(sys.argv[1:] if argv is None else argv)
    t0, bad = time.perf_counter(), 0
    for name in a.names or shipped.shipped():
        done = shipped.add_records(name, a.every, a.curve_every, command.strip())
        print(done, flush=True)
        bad += not done["stored"]
    print(f"done in {time.perf_counter() - t0:.0f} s; {bad} not stored", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
