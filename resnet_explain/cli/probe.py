"""``probe`` and ``presets``: per-block gradient norms of a network at initialisation — ours
(``--arch``/``--preset``/``--spec``) or a real torchvision architecture (``--torchvision NAME``,
random weights, nothing downloaded; ``--list-torchvision`` names them)."""

from __future__ import annotations

import json
import math
import sys

import torch

from ..device import choose_device, describe
from ..errors import UserError
from ..experiments.real_models import REAL_MODELS, probe_real
from ..jsonable import json_value
from ..magnitude import value_text
from ..probe import output_weight_grads, probe_spec
from ..spec import (
    ACTIVATIONS,
    NORMS,
    PRESETS,
    NetSpec,
    check_budget,
    cifar_resnet,
    estimate_cost,
    mlp,
    params_from_query,
    preset,
)
from ..spec.transformer import SCALINGS, transformer_spec


def add_parsers(sub) -> None:
    pr = sub.add_parser("probe", help="one forward+backward pass, gradient norm per block")
    pr.add_argument("--arch", choices=("mlp", "cnn", "transformer"), default="cnn")
    pr.add_argument("--depth", type=int, default=None,
                    help="cnn: 6n+2 (20, 56, 110...; default 20); mlp: even >= 4 (20); transformer: layers (6)")
    pr.add_argument("--no-skip", action="store_true", help="the plain twin: no skip connections")
    pr.add_argument("--act", choices=ACTIVATIONS, default=None, help="default: relu (cnn), sigmoid (mlp)")
    pr.add_argument("--norm", choices=NORMS, default=None,
                    help="default: batch (cnn), none (mlp), pre (transformer: pre, post or none)")
    pr.add_argument("--width", type=int, default=None,
                    help="cnn: first stage width (16); mlp: width (64); transformer: d_model (128)")
    pr.add_argument("--heads", type=int, default=4, help="transformer: attention heads")
    pr.add_argument("--context", type=int, default=64, help="transformer: tokens per sequence")
    pr.add_argument("--scaling", choices=[s for s in SCALINGS if s], default=None,
                    help="transformer: rezero (alpha from 0) or deepnorm (needs --norm post)")
    pr.add_argument("--batch", type=int, default=None,
                    help="default: 32 (ours; 16 for a transformer), 2 (--torchvision)")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    pr.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    pr.add_argument("--preset", choices=sorted(PRESETS), default=None, help="start from a preset")
    pr.add_argument("--spec", default=None, help="a NetSpec query string; its keys override the flags")
    pr.add_argument("--torchvision", metavar="NAME", default=None,
                    help="probe a torchvision architecture at initialisation (weights=None: random "
                         "weights, no download); see --list-torchvision")
    pr.add_argument("--list-torchvision", action="store_true",
                    help="list the torchvision architectures --torchvision accepts, and exit")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.set_defaults(func=cmd_probe)
    ps = sub.add_parser("presets", help="list the preset networks")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_presets)


def _spec_from_args(a):
    if a.preset:
        spec = preset(a.preset)
    elif a.arch == "transformer":
        spec = transformer_spec(6 if a.depth is None else a.depth, 128 if a.width is None else a.width,
                                a.heads, a.context, norm=a.norm or "pre", skips=not a.no_skip,
                                scaling=a.scaling, act=a.act or "gelu")
    elif a.arch == "cnn":
        spec = cifar_resnet(20 if a.depth is None else a.depth, skip=not a.no_skip,
                            width=16 if a.width is None else a.width, act=a.act or "relu", norm=a.norm or "batch")
    else:
        spec = mlp(20 if a.depth is None else a.depth, skip=not a.no_skip, width=64 if a.width is None else a.width,
                   act=a.act or "sigmoid", norm=a.norm or "none")
    if a.spec:
        params = spec.to_params()
        params.update(params_from_query(a.spec))  # unknown or repeated keys: SpecError, exit 2
        spec = NetSpec.from_params(params)
    return spec


def _block_rows(b) -> list[dict]:
    return [{"name": r.block, "grad_norm": json_value(r.grad_norm),
             "log10_grad_norm": json_value(r.log10_grad_norm), "underflow": bool(r.underflow),
             "has_nan": bool(r.has_nan), "has_inf": bool(r.has_inf), "skip": bool(r.skip),
             "kind": r.kind, "identity_norm": json_value(r.identity_norm),
             "residual_norm": json_value(r.residual_norm)}
            for r in b.itertuples()]


def _print_table(b) -> None:
    width = max([18] + [len(n) + 2 for n in b["block"]])
    print(f"{'block':<{width}}{'|dL/dx|':>12}{'log10':>8}  {'identity':>10}{'residual':>10}")
    for r in b.itertuples():
        g = value_text(r.grad_norm)
        idt = "" if math.isnan(r.identity_norm) else f"{r.identity_norm:.2e}"
        rst = "" if math.isnan(r.residual_norm) else f"{r.residual_norm:.2e}"
        lg = "" if math.isnan(r.log10_grad_norm) else f"{r.log10_grad_norm:+.2f}"
        print(f"{r.block:<{width}}{g:>12}{lg:>8}  {idt:>10}{rst:>10}")


def cmd_list_torchvision(a) -> int:
    rows = [{"name": m.name, "title": m.title, "input_size": m.size,
             "block_types": [p.rpartition(".")[2] for p in m.blocks], "unit": m.unit,
             "connection": m.connection, "about": m.about, "note": m.note}
            for m in REAL_MODELS.values()]
    if a.json:
        print(json.dumps({"torchvision": rows}))
    else:
        for r in rows:
            print(f"{r['name']:<17}{r['input_size']:>4}px  {'/'.join(r['block_types']):<13} {r['about']}")
    return 0


def cmd_probe_torchvision(a, choice) -> int:
    batch = 2 if a.batch is None else a.batch
    if a.dtype != "float32":
        raise UserError("--torchvision models run in float32 only")
    res = probe_real(a.torchvision, batch=batch, seed=a.seed, device=choice.device,
                     max_memory_bytes=16 * 2**30)
    b = res.blocks
    meta = dict(res.meta)
    meta.update(describe(choice.device))
    meta["ratio_first_last"] = json_value(res.ratio)
    meta["log10_ratio_first_last"] = json_value(res.log10_ratio)
    if a.json:
        print(json.dumps({"blocks": _block_rows(b), "meta": meta}))
        return 0
    d = describe(choice.device)
    print(f"{meta['title']} (torchvision {a.torchvision}, weights=None: random initialisation); "
          f"{meta['n_params']:,} parameters; {meta['n_blocks']} blocks "
          f"({', '.join(meta['block_types'])}); input {batch}x3x{meta['input_size']}x{meta['input_size']}")
    if meta["note"]:
        print(f"note: {meta['note']}")
    print(f"device {d['detail']}, torch {d['torch']}, {meta['seconds'] * 1e3:.1f} ms for "
          f"forward+backward+probe, seed {a.seed}")
    _print_table(b)
    print(f"first/last block gradient ratio: {res.ratio:.3e}")
    return 0


def cmd_probe(a) -> int:
    if a.list_torchvision:
        return cmd_list_torchvision(a)
    choice = choose_device(a.device)
    if a.torchvision:
        if a.preset or a.spec or a.no_skip:
            raise UserError("--torchvision probes torchvision's model as it is: it does not take "
                            "--preset, --spec or --no-skip")
        if choice.note:
            print(f"note: {choice.note}", file=sys.stderr)
        return cmd_probe_torchvision(a, choice)
    spec = _spec_from_args(a)
    a.batch = (16 if spec.family == "transformer" else 32) if a.batch is None else a.batch
    if not 1 <= a.batch <= 4096:
        raise UserError("--batch must be from 1 to 4096")
    if choice.note:
        print(f"note: {choice.note}", file=sys.stderr)
    check_budget(spec, a.batch, max_memory_bytes=16 * 2**30)
    dtype = torch.float64 if a.dtype == "float64" else None
    res = probe_spec(spec, seed=a.seed, batch=a.batch, device=choice.device, dtype=dtype)
    b = res.blocks
    if a.json:
        blocks = _block_rows(b)
        meta = dict(res.meta)
        meta.update(describe(choice.device))
        meta["depth"] = spec.depth
        meta["ratio_first_last"] = json_value(res.ratio)
        meta["log10_ratio_first_last"] = json_value(res.log10_ratio)
        out = {"blocks": blocks, "meta": meta}
        if spec.family == "transformer":  # per sublayer: its output projection's weight gradient
            out["out_weights"] = [{"name": r.block, "grad_norm": json_value(r.grad_norm),
                                   "weight_norm": json_value(r.weight_norm)}
                                  for r in output_weight_grads(res).itertuples()]
        print(json.dumps(out))
        return 0
    d = describe(choice.device)
    print(f"{spec.summary()}; {res.meta['n_params']:,} parameters")
    print(f"device {d['detail']}, torch {d['torch']}, {res.meta['dtype']}, "
          f"{res.meta['seconds'] * 1e3:.1f} ms for forward+backward+probe, batch {a.batch}")
    _print_table(b)
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
