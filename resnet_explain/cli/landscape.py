"""``landscape``: a trained run's loss landscape (Li et al. 2018) with its numbers.

    python -m resnet_explain landscape --model residual20 --grid 21 --span 1 --images 512 --json
    python -m resnet_explain landscape --run 506ac7f8dea3b9cf --grid 11 --json

The JSON holds the 2-D slice's grid rows (alpha, beta, loss, accuracy), the 1-D slice along the
first direction, the straight line from the initial to the trained weights, the Hessian's extreme
eigenvalues and the slice's roughness (``numbers``), and ``meta`` (run, settings, device, time).
A result computed before with the same inputs is loaded (``meta.loaded_from`` says from where), unless ``--fresh``.
"""

from __future__ import annotations

import json
import sys

from ..device import choose_device
from ..experiments import landscape as L
from ..experiments import landscape_store as store
from ..jsonable import json_dict, json_rows
from .run_flags import add_run_flags, resolve_run, run_meta


def add_parsers(sub) -> None:
    d = L.LandscapeSettings()
    p = sub.add_parser("landscape", help="loss landscape of a trained run: 2-D/1-D slices, the "
                                         "init->trained line, Hessian eigenvalues (Li et al. 2018)")
    add_run_flags(p)
    p.add_argument("--grid", type=int, default=d.grid, help="points per axis of the 2-D slice (odd)")
    p.add_argument("--span", type=float, default=d.span, help="alpha, beta in [-span, span]")
    p.add_argument("--images", type=int, default=d.images,
                   help="the first IMAGES images of the run's training split")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the random directions")
    p.add_argument("--hessian-iters", type=int, default=d.hessian_iters)
    p.add_argument("--device", default="auto")
    p.add_argument("--batched", choices=("auto", "vmap", "loop"), default="auto",
                   help="evaluate grid points with vmap over stacked weights, or in a loop "
                        "(auto: vmap on CUDA, loop elsewhere)")
    p.add_argument("--fresh", action="store_true", help="compute even when a stored result exists")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_landscape)


def cmd_landscape(a) -> int:
    s = L.LandscapeSettings(grid=a.grid, span=a.span, images=a.images, seed=a.seed,
                            hessian_iters=a.hessian_iters).validate()
    dev = choose_device(a.device)
    if dev.note:
        print(f"note: {dev.note}", file=sys.stderr)
    run = resolve_run(a)
    batched = {"auto": None, "vmap": True, "loop": False}[a.batched]
    if a.fresh:
        res = L.landscape(run, s, device=dev.device, batched=batched)
    else:
        res = store.cached_landscape(run, s, device=dev.device, batched=batched)
    numbers = json_dict(res.numbers)
    meta = {**run_meta(run), **json_dict({k: v for k, v in res.meta.items() if k not in ("run_id", "name")})}
    if a.json:
        print(json.dumps({"grid": json_rows(res.surface), "line": json_rows(res.line), "path": json_rows(res.path),
                          "numbers": numbers, "meta": meta}))
    else:
        print(f"{run.name} ({run.run_id}): {s.grid}x{s.grid} slice, span {s.span:g}, {s.images} "
              f"training images, {meta['device']} {meta['dtype']}, {meta['seconds']:.1f} s"
              + (f" ({meta['loaded_from']})" if meta.get("loaded_from") else ""))
        for k, v in numbers.items():
            print(f"  {k:<22}{v:.4g}" if isinstance(v, float) else f"  {k:<22}{v}")
    return 0
