"""``architectures``: the family around ResNet at one depth, one row each (the Architectures page's
table): parameters, FLOPs, the first/last gradient ratio of each variant and its twin at
initialisation, the published CIFAR-10 error where a paper has one, and the stored training error.

    python -m resnet_explain architectures --depth 20 --json
    python -m resnet_explain architectures --depth 56 --variants resnet,gate,conv,dense --batch 16

Probe rows stored with the app (``assets/architectures``) are used where they match; the rest are
measured here. Training errors are read from stored runs only (train them on the page, or with
``scripts/make_architectures.py``).
"""

from __future__ import annotations

import json
import math
import sys

from ..content import architectures as words
from ..device import choose_device
from ..experiments import architectures as A
from ..jsonable import json_rows
from ..spec import SpecError
from ..spec.zoo import DEFAULT_VARIANTS, VARIANTS, variant


def add_parsers(sub) -> None:
    p = sub.add_parser("architectures", help="every variant of ResNet at one depth: size, gradient "
                                             "ratio of it and its twin, published and stored errors")
    p.add_argument("--depth", type=int, default=A.DEFAULT_DEPTH, help="6n+2: 8, 14, 20, 32, 44, 56, ...")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help="comma-separated names: " + ", ".join(DEFAULT_VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=A.PROBE_BATCH)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_architectures)


def cmd_architectures(a) -> int:
    names = [n.strip() for n in a.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise SpecError("variants", f"unknown {unknown or 'none given'}; known: {', '.join(VARIANTS)}")
    variant(names[0], a.depth)  # a depth that is not 6n+2 fails here, with its message
    dev = choose_device(a.device).device
    stored = A.stored_probes()

    def probes(n, depth, seed, batch):
        key = A.probe_key(n, depth, seed, batch)
        return stored.get(key) or A.probe_query(*key, device=dev)

    df = A.compare(a.depth, names, a.seed, a.batch, probes=probes)
    if a.json:
        json.dump({"rows": json_rows(df), "sentences": words.sentences(df)}, sys.stdout, indent=1)
        print()
        return 0
    print(f"depth {a.depth}, seed {a.seed}, probe batch {a.batch}, device {dev}")
    print(f"{'variant':<28}{'params':>10}{'MFLOPs':>9}{'ratio':>12}{'twin':>12}{'published':>11}{'train err':>11}")
    def ratio(value, note) -> str:  # Fixup's: no gradient reaches a block (see the sentences)
        return "none" if note else words.ratio_text(value, note)

    for r in df.itertuples():
        err = f"{100 * r.train_error:.1f} %" if math.isfinite(r.train_error) else "-"
        print(f"{r.label[:27]:<28}{r.params:>10,}{r.flops / 1e6:>9.1f}{ratio(r.ratio, r.ratio_note):>12}"
              f"{ratio(r.twin_ratio, r.twin_note):>12}{r.published_value or '-':>11}{err:>11}")
    for s in words.sentences(df):
        print("- " + s)
    return 0
