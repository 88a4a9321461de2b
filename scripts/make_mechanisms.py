"""Regenerate assets/mechanisms/: why deep plain nets fail, measured on the shipped twins.

For plain20, residual20, plain56, residual56 (assets/runs): the gradient snapshots of their
training (‖∂L/∂x‖ and ‖ΔW‖/‖W‖ per block every K steps; a shipped run without stored snapshots is
trained again from its own request with snapshots on, and the retrained weights are compared with
the shipped ones), and, at initialisation and trained: the correlation of input gradients along
lines between test images, the residual branch's share ‖F(x)‖/‖S(x)‖ and the blocks' mean² and
variance (resnet_explain/experiments/mechanism_runs.py).

    python scripts/make_mechanisms.py --threads 1
    python scripts/make_mechanisms.py --out /tmp/mech --names plain20 residual20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from resnet_explain.experiments import mechanism_runs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--every", type=int, default=mechanism_runs.SNAPSHOT_EVERY, help="steps between snapshots")
    ap.add_argument("--images", type=int, default=mechanism_runs.N_IMAGES, help="test images measured")
    ap.add_argument("--names", nargs="*", help="shipped runs (default: every shipped twin)")
    ap.add_argument("--out", type=Path, default=mechanism_runs.STORE_DIR)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    tables, meta = mechanism_runs.make(a.every, a.images, a.names)
    meta.update(seconds=round(time.perf_counter() - t0, 1), threads=a.threads,
                command="python scripts/make_mechanisms.py " + " ".join(sys.argv[1:] if argv is None else argv))
    mechanism_runs.save(tables, meta, a.out)
    print(f"wrote {a.out} in {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
