"""``probe`` and ``presets``: per-block gradient norms of a network at initialisation."""

from __future__ import annotations

import json
import math
import sys

from ..errors import UserError
from ..magnitude import value_text
from ..spec import (ACTIVATIONS, NORMS, PRESETS, check_budget, cifar_resnet, estimate_cost,
                    mlp, params_from_query, preset, spec_from_params)


def add_parsers(sub) -> None:
    pr = sub.add_parser("probe", help="one forward+backward pass, gradient norm per block")
    pr.add_argument("--arch", choices=("mlp", "cnn"), default="cnn")
    pr.add_argument("--depth", type=int, default=20, help="cnn: 6n+2 (20, 56, 110...); mlp: even >= 4")
    pr.add_argument("--no-skip", action="store_true", help="the plain twin: no skip connections")
    pr.add_argument("--act", choices=ACTIVATIONS, default=None, help="default: relu (cnn), sigmoid (mlp)")
    pr.add_argument("--norm", choices=NORMS, default=None, help="default: batch (cnn), none (mlp)")
    pr.add_argument("--width", type=int, default=None, help="cnn: first stage width (16); mlp: width (64)")
    pr.add_argument("--batch", type=int, default=32)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    pr.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    pr.add_argument("--preset", choices=sorted(PRESETS), default=None, help="start from a preset")
    pr.add_argument("--spec", default=None, help="a NetSpec query string; its keys override the flags")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.set_defaults(func=cmd_probe)
    ps = sub.add_parser("presets", help="list the preset networks")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_presets)


def _spec_from_args(a):
    if a.preset:
        spec = preset(a.preset)
    elif a.arch == "cnn":
        spec = cifar_resnet(a.depth, skip=not a.no_skip, width=16 if a.width is None else a.width,
                            act=a.act or "relu", norm=a.norm or "batch")
    else:
        spec = mlp(a.depth, skip=not a.no_skip, width=64 if a.width is None else a.width,
                   act=a.act or "sigmoid", norm=a.norm or "none")
    if a.spec:
        params = spec.to_params()
        params.update(params_from_query(a.spec))  # unknown or repeated keys: SpecError, exit 2
        spec = spec_from_params(params)
    return spec


def _json_num(v: float):
    return v if math.isfinite(v) else None


def cmd_probe(a) -> int:
    import torch

    from ..device import choose_device, describe
    from ..probe import probe_spec

    if not 1 <= a.batch <= 4096:
        raise UserError("--batch must be from 1 to 4096")
    spec = _spec_from_args(a)
    choice = choose_device(a.device)
    if choice.note:
        print(f"note: {choice.note}", file=sys.stderr)
    check_budget(spec, a.batch, max_memory_bytes=16 * 2**30)
    dtype = torch.float64 if a.dtype == "float64" else None
    res = probe_spec(spec, seed=a.seed, batch=a.batch, device=choice.device, dtype=dtype)
    b = res.blocks
    if a.json:
        blocks = [{"name": r.block, "grad_norm": _json_num(r.grad_norm),
                   "log10_grad_norm": _json_num(r.log10_grad_norm), "underflow": bool(r.underflow),
                   "has_nan": bool(r.has_nan), "has_inf": bool(r.has_inf), "skip": bool(r.skip),
                   "kind": r.kind, "identity_norm": _json_num(r.identity_norm),
                   "residual_norm": _json_num(r.residual_norm)}
                  for r in b.itertuples()]
        meta = dict(res.meta)
        meta.update(describe(choice.device))
        meta["depth"] = spec.depth
        meta["ratio_first_last"] = _json_num(res.ratio)
        meta["log10_ratio_first_last"] = _json_num(res.log10_ratio)
        print(json.dumps({"blocks": blocks, "meta": meta}))
        return 0
    d = describe(choice.device)
    print(f"{spec.summary()}; {res.meta['n_params']:,} parameters")
    print(f"device {d['detail']}, torch {d['torch']}, {res.meta['dtype']}, "
          f"{res.meta['seconds'] * 1e3:.1f} ms for forward+backward+probe, batch {a.batch}")
    print(f"{'block':<18}{'|dL/dx|':>12}{'log10':>8}  {'identity':>10}{'residual':>10}")
    for r in b.itertuples():
        g = value_text(r.grad_norm)
        idt = "" if math.isnan(r.identity_norm) else f"{r.identity_norm:.2e}"
        rst = "" if math.isnan(r.residual_norm) else f"{r.residual_norm:.2e}"
        lg = "" if math.isnan(r.log10_grad_norm) else f"{r.log10_grad_norm:+.2f}"
        print(f"{r.block:<18}{g:>12}{lg:>8}  {idt:>10}{rst:>10}")
    print(f"first/last block gradient ratio: {res.ratio:.3e}")
    return 0


def cmd_presets(a) -> int:
    rows = []
    for name, (desc, spec) in PRESETS.items():
        rows.append({"name": name, "description": desc, "depth": spec.depth,
                     "params": estimate_cost(spec).params, "spec": spec.to_query()})
    if a.json:
        print(json.dumps({"presets": rows}))
    else:
        for r in rows:
            print(f"{r['name']:<22}{r['depth']:>6}{r['params']:>12,}  {r['description']}")
    return 0
