"""``lesion``: delete each block of a trained model in turn (Veit et al. 2016) and print the table.

    python -m resnet_explain lesion --model residual20 --n 500 --json
    python -m resnet_explain lesion --run 506ac7f8dea3b9cf --json

One row per block (:func:`resnet_explain.experiments.lesion.lesion_study`), input to output, and the
run's meta: which run, its data recipe and budget, the accuracy measured, the time it took.
"""

from __future__ import annotations

import json
import sys

import torch

from ..chance import near_chance
from ..device import choose_device
from ..errors import UserError
from ..experiments.lesion import lesion_study
from ..jsonable import json_rows
from ..spec import block_label
from .run_flags import add_run_flags, resolve_run, run_meta


def add_parsers(sub) -> None:
    p = sub.add_parser("lesion", help="delete each block of a trained model in turn, measure the "
                                      "accuracy lost (Veit et al. 2016)")
    add_run_flags(p)
    p.add_argument("--n", type=int, default=500, help="number of test images (the first of the "
                                                      "run's test split)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lesion)


def cmd_lesion(a) -> int:
    if not 1 <= a.n <= 100_000:
        raise UserError("--n must be from 1 to 100000")
    dev = choose_device(a.device)
    if dev.note:
        print(f"note: {dev.note}", file=sys.stderr)
    run = resolve_run(a)
    model, normalizer, _ = run.load_model(device=dev.device)
    test = run.test_images(a.n)
    df = lesion_study(model, test, normalizer)
    rows = json_rows(df)
    base = float(df.attrs["base_accuracy"])
    meta = {**run_meta(run), "n": int(df.attrs["n"]), "base_accuracy": base,
            "chance": 1.0 / len(test.classes),
            "near_chance": near_chance(base, 1.0 / len(test.classes)),
            "seconds": float(df.attrs["seconds"]), "device": dev.device.type,
            "torch": torch.__version__, "source": df.attrs["source"]}
    if a.json:
        print(json.dumps({"rows": rows, "meta": meta}))
    else:
        print(f"{run.name} ({run.run_id}): accuracy {base:.1%} on {meta['n']} test images, "
              f"{meta['seconds']:.1f} s")
        # the block as people read it first (stage 1 · block 1), its code name beside it
        print(df.assign(label=df["block"].map(block_label))[["label", *df.columns]].to_string(index=False))
    return 0
