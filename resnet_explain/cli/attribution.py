"""Command line for the attribution lab: ``attribute`` and ``attribution-scores``.

    python -m resnet_explain attribute --model residual56 --method IntegratedGradients --index 3 --json
    python -m resnet_explain attribute --run 506ac7f8dea3b9cf --json
    python -m resnet_explain attribution-scores --n 64 --json
    python -m resnet_explain attribution-scores --run 506ac7f8dea3b9cf --n 64 --json

A model is a shipped one by name (``--model plain20``) or any stored run by id (``--run ID``, see
``python -m resnet_explain runs``); scoring a run scores it with its twin when the twin is stored.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import torch

from ..content.attribution import chance_note
from ..device import choose_device
from ..errors import UserError
from ..experiments.attribution import BASELINES, METHODS
from ..experiments.explain import explain, score_models
from ..jsonable import json_rows, json_value
from ..train import shipped
from .run_flags import add_run_flags, resolve_run, run_meta, twin_of


def add_parsers(sub) -> None:
    a = sub.add_parser("attribute", help="explain one test image with one Captum method")
    add_run_flags(a)
    a.add_argument("--method", default="IntegratedGradients", choices=list(METHODS))
    a.add_argument("--index", type=int, default=0, help="index into the model's test set")
    a.add_argument("--target", default="true", help="'true', 'pred' or a class index")
    a.add_argument("--baseline", default="black", choices=BASELINES)
    a.add_argument("--layer", default=None, help="LayerGradCam: a block name (default: the last)")
    a.add_argument("--smoothgrad", action="store_true", help="wrap the method in NoiseTunnel")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--device", default="auto")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_attribute)

    s = sub.add_parser("attribution-scores", help="score every method on shipped twins, or on a run "
                                                  "and its twin, against the ground-truth masks")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--depths", default=None, help="shipped pairs, comma-separated; default: all")
    g.add_argument("--model", default=None, help="a shipped model, scored with its twin")
    g.add_argument("--run", default=None, help="a stored run id, scored with its twin if stored")
    s.add_argument("--n", type=int, default=64, help="number of test images")
    s.add_argument("--methods", default=None, help="comma-separated Captum names, default: all")
    s.add_argument("--baseline", default="black", choices=BASELINES)
    s.add_argument("--device", default="auto")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_scores)


def cmd_attribute(a) -> int:
    dev = choose_device(a.device)
    if dev.note:
        print(f"note: {dev.note}", file=sys.stderr)
    run = resolve_run(a)
    model, normalizer, _ = run.load_model(device=dev.device)
    test = run.test_images()
    if not 0 <= a.index < len(test):
        raise UserError(f"--index must be from 0 to {len(test) - 1}")
    label = int(test.y[a.index])
    target = int(a.target) if a.target.lstrip("-").isdigit() else a.target  # 'true', 'pred' or a class
    e = explain(model, normalizer, test.x[a.index], target=target, label=label, method=a.method,
                baseline=a.baseline, noise_tunnel=a.smoothgrad, layer=a.layer, seed=a.seed,
                mask=None if test.mask is None else test.mask[a.index])
    out = {
        "model": run.name, "run_id": run.run_id, "method": a.method, "index": a.index, "label": label,
        "label_name": test.classes[label], "prediction": e.pred, "prediction_name": test.classes[e.pred],
        "confidence": e.confidence, "target": e.target, "baseline": e.baseline,
        "attribution_sum": json_value(e.attr_sum), "f_x_minus_f_baseline": json_value(e.f_diff),
        "convergence_delta": json_value(e.delta), "ig_steps": e.ig_steps,
        "completeness_gap": json_value(e.completeness_gap),
        "ig_converged": None if e.ig is None else e.ig.converged, "pointing_game": e.pointing_game,
        "positive_share_in_mask": json_value(e.positive_share), "mask_share_of_image": e.mask_share,
        "seconds": e.seconds, "device": e.device, "torch": torch.__version__,
    }
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:<24}{v}")
    return 0


def _runs_to_score(a) -> list:
    """The runs ``attribution-scores`` scores, plain before residual."""
    if a.model or a.run:
        run = resolve_run(a)
        twin = twin_of(run)
        if twin is None:
            print(f"note: the twin of {run.name} ({run.run_id}) is not stored; scoring it alone",
                  file=sys.stderr)
            return [run]
        return sorted([run, twin], key=lambda r: r.spec.any_skip)
    pairs = shipped.pairs()
    depths = sorted(pairs) if not a.depths else [int(d) for d in a.depths.split(",") if d.strip()]
    for d in depths:
        if d not in pairs:
            raise UserError(f"no shipped pair of depth {d}; shipped: {sorted(pairs)}")
    return [shipped.run(name) for d in depths for name in pairs[d]]


def cmd_scores(a) -> int:
    if not 1 <= a.n <= 2000:
        raise UserError("--n must be from 1 to 2000")
    dev = choose_device(a.device)
    methods = list(METHODS) if not a.methods else [m.strip() for m in a.methods.split(",")]
    for m in methods:
        if m not in METHODS:
            raise UserError(f"unknown method {m[:30]!r}; one of {', '.join(METHODS)}")
    runs = _runs_to_score(a)
    recipes = list(dict.fromkeys(r.request.data for r in runs))
    tables = []
    for recipe in recipes:  # shipped pairs of different depths may differ in their data
        group = [r for r in runs if r.request.data == recipe]
        test = group[0].test_images(a.n)
        t = score_models({r.name: r.load_model(device=dev.device) for r in group}, test,
                         baseline=a.baseline, methods=methods)
        at_chance = {r.name: chance_note(r.name, r.meta, len(test.classes)) is not None for r in group}
        tables.append(t.assign(never_left_chance=t["model"].map(at_chance)))
    order = {r.name: i for i, r in enumerate(runs)}
    table = pd.concat(tables, ignore_index=True).sort_values(
        "model", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    if a.json:
        print(json.dumps({"rows": json_rows(table),
                          "meta": {"n": int(table["n"].iloc[0]), "baseline": a.baseline,
                                   "device": dev.device.type, "torch": torch.__version__,
                                   "runs": [run_meta(r) for r in runs]}}))
    else:
        print(table.to_string(index=False))
    return 0
