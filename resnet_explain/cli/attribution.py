"""Command line for the attribution lab: ``attribute`` and ``attribution-scores``.

    python -m resnet_explain attribute --model residual56 --method IntegratedGradients --index 3 --json
    python -m resnet_explain attribution-scores --n 64 --json
"""

from __future__ import annotations

import json
import math
import sys

from ..errors import UserError


def _num(v):
    return v if (v is not None and math.isfinite(v)) else None


def add_parsers(sub) -> None:
    from ..lab.attribution import BASELINES, METHODS

    a = sub.add_parser("attribute", help="explain one test image with one Captum method")
    a.add_argument("--model", required=True, help="a shipped checkpoint, e.g. plain56, residual56")
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

    s = sub.add_parser("attribution-scores", help="score every method on every shipped model "
                                                  "against the ground-truth masks")
    s.add_argument("--n", type=int, default=64, help="number of test images")
    s.add_argument("--depths", default=None, help="comma-separated, default: all shipped pairs")
    s.add_argument("--methods", default=None, help="comma-separated Captum names, default: all")
    s.add_argument("--baseline", default="black", choices=BASELINES)
    s.add_argument("--device", default="auto")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_scores)


def cmd_attribute(a) -> int:
    import torch

    from ..device import choose_device
    from ..lab.explain import explain
    from ..train import shipped

    dev = choose_device(a.device)
    if dev.note:
        print(f"note: {dev.note}", file=sys.stderr)
    model, normalizer, meta = shipped.load(a.model, device=dev.device)
    test = shipped.test_images(meta, int(meta.get("data", {}).get("n_test", 2000)))
    if not 0 <= a.index < len(test):
        raise UserError(f"--index must be from 0 to {len(test) - 1}")
    label = int(test.y[a.index])
    target = int(a.target) if a.target.lstrip("-").isdigit() else a.target  # 'true', 'pred' or a class
    e = explain(model, normalizer, test.x[a.index], target=target, label=label, method=a.method,
                baseline=a.baseline, noise_tunnel=a.smoothgrad, layer=a.layer, seed=a.seed,
                mask=test.mask[a.index])
    out = {
        "model": a.model, "method": a.method, "index": a.index, "label": label,
        "label_name": test.classes[label], "prediction": e.pred, "prediction_name": test.classes[e.pred],
        "confidence": e.confidence, "target": e.target, "baseline": e.baseline,
        "attribution_sum": _num(e.attr_sum), "f_x_minus_f_baseline": _num(e.f_diff),
        "convergence_delta": _num(e.delta), "pointing_game": e.pointing_game,
        "positive_share_in_mask": _num(e.positive_share), "mask_share_of_image": e.mask_share,
        "seconds": e.seconds, "device": e.device, "torch": torch.__version__,
    }
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:<24}{v}")
    return 0


def cmd_scores(a) -> int:
    import torch

    from ..device import choose_device
    from ..lab.attribution import METHODS
    from ..lab.explain import score_checkpoints
    from ..train import shipped

    if not 1 <= a.n <= 2000:
        raise UserError("--n must be from 1 to 2000")
    dev = choose_device(a.device)
    pairs = shipped.pairs()
    depths = sorted(pairs) if not a.depths else [int(d) for d in a.depths.split(",") if d.strip()]
    for d in depths:
        if d not in pairs:
            raise UserError(f"no shipped pair of depth {d}; shipped: {sorted(pairs)}")
    methods = list(METHODS) if not a.methods else [m.strip() for m in a.methods.split(",")]
    for m in methods:
        if m not in METHODS:
            raise UserError(f"unknown method {m[:30]!r}; one of {', '.join(METHODS)}")
    loaded = {name: shipped.load(name, device=dev.device) for d in depths for name in pairs[d]}
    table = score_checkpoints(loaded, a.n, baseline=a.baseline, methods=methods)
    if a.json:
        print(json.dumps({"rows": table.to_dict("records"),
                          "meta": {"n": a.n, "baseline": a.baseline, "device": dev.device.type,
                                   "torch": torch.__version__}}))
    else:
        print(table.to_string(index=False))
    return 0
