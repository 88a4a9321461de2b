"""Make assets/landscapes/: the Loss Landscape page's default view of the shipped twins.

    python scripts/make_landscapes.py                   # depths 20 and 56, default settings, 1 thread
    python scripts/make_landscapes.py --depths 20 --grid 11

For each shipped pair (assets/runs: plainD, residualD) computes the landscape at the page's
default settings (resnet_explain/experiments/landscape.py LandscapeSettings: grid, span, images, seed) in
float32 on the CPU and stores it under the folder name the page and the CLI look up, plus a
README.md saying how it was made and what it shows. Results already there are kept.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from resnet_explain.content import landscape as landscape_text
from resnet_explain.experiments import landscape as L
from resnet_explain.experiments import landscape_store as store
from resnet_explain.train import shipped


def main(argv=None) -> int:
    d = L.LandscapeSettings()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--depths", default="20,56")
    p.add_argument("--grid", type=int, default=d.grid)
    p.add_argument("--images", type=int, default=d.images)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(store.STORED_DIR))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    s = replace(d, grid=a.grid, images=a.images).validate()
    out = Path(a.out)
    t0, lines, says = time.perf_counter(), [], []
    for depth in (int(x) for x in a.depths.split(",")):
        pair = {}
        for name in shipped.pairs()[depth]:
            run = shipped.run(name)
            res = store.find(run.run_id, s, "float32", roots=(out,))
            if res is None:
                res = L.landscape(run, s, device="cpu", progress=None)
                store.save(res, out / store.result_key(run.run_id, s, "float32"))
            pair[name] = res
            n, m = res.numbers, res.meta
            lines.append(f"| {name} | `{run.run_id}` | {n['lambda_max']:.3g} | "
                         f"{n['lambda_min']:.3g} ± {n['lambda_min_precision']:.2g} | "
                         f"{n['nonconvex_share']:.0%} | {n['loss_at_centre']:.3g} | {n['loss_max']:.3g} | "
                         f"{m['seconds']:.0f} |")
            print(lines[-1], flush=True)
        plain, residual = pair.values()
        says.append(f"**Depth {depth}.** {landscape_text.compare(plain, residual)}")
    wall = time.perf_counter() - t0
    readme = f"""# Stored loss landscapes of the shipped twins

Made by `scripts/make_landscapes.py` on {time.strftime('%Y-%m-%d')}:

    python scripts/make_landscapes.py --depths {a.depths} --grid {a.grid} --images {a.images} --threads {a.threads}

Machine: CPU only ({a.threads} thread), torch {torch.__version__}, Python {platform.python_version()}.
Wall time of this call {wall:.0f} s (results already stored are loaded, not recomputed; the
per-run seconds below are wall times on a shared 2-core machine, not a speed benchmark — see
`scripts/bench_landscape.py` for that).

Settings (the Loss Landscape page's defaults, `LandscapeSettings`): {asdict(s)}. float32, eval
mode, the first {s.images} images of each run's training split; directions filter-normalised
(Li et al. 2018's filter normalization), biases and BatchNorm parameters not moved. Each folder holds
`surface.csv` (alpha, beta, loss, accuracy), `line.csv` (1-D slice along direction 1),
`path.csv` (t = 0 initial weights ... t = 1 trained weights) and `result.json` (numbers + meta).
The folder name is `<run id>-<hash of the settings, precision and format version>`
(`resnet_explain.experiments.landscape.result_key`).

| run | id | λmax | λmin | non-convex share of the slice | loss at the trained weights | highest loss in the slice | seconds |
|---|---|---|---|---|---|---|---|
""" + "\n".join(lines) + "\n\nWhat the numbers say (`resnet_explain.content.landscape.compare`):\n\n" + "\n\n".join(says) + "\n"
    (out / "README.md").write_text(readme)
    print(f"wrote {out} in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
