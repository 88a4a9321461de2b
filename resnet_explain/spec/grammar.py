"""The URL grammar of a NetSpec: compact enough for a URL, readable by a person.

    block token  = KIND WIDTH ['/' STRIDE] [':' SHORTCUT] ['@' COMBINE] ['!' = no skip] ['*' REPEAT]
    kinds and combines: each entry's ``code`` in :mod:`.kinds` (b=basic r=preact k=bottleneck
           x=ResNeXt d=dense t=transition, never a skip: written t16/2!; combines, none = add:
           s=constant scaling g=exclusive gating o=shortcut-only gating d=dropout shortcut);
           p (plain) is read as b...! (old links)
    blocks are separated by ',' and stages by '~'.
    ResNet-20: net=b16*3~b32/2,b32*2~b64/2,b64*2
    A Transformer (fam=transformer): one stage per layer, an attention (a) then an MLP (m)
    sublayer: net=a128,m128~a128,m128 is 2 layers of width 128; a128! is one without its skip.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from .block import BlockSpec
from .errors import SpecError
from .kinds import BLOCK_KINDS, COMBINES, LEGACY_CODES
from .limits import (
    ACTIVATIONS,
    FAMILIES,
    INITS,
    MAX_BLOCKS,
    MAX_CARDINALITY,
    MAX_CLASSES,
    MAX_CONTEXT,
    MAX_GATE_BIAS,
    MAX_HEADS,
    MAX_IN_CHANNELS,
    MAX_IN_FEATURES,
    MAX_IN_SIDE,
    MAX_RES_SCALE,
    MAX_VOCAB,
    MAX_WIDTH,
    MIN_IN_SIDE,
    MIN_SURVIVAL,
    MIN_WIDTH,
    NORMS,
)

if TYPE_CHECKING:
    from .netspec import NetSpec


def _alternatives(codes) -> str:
    return "|".join(re.escape(c) for c in sorted(codes, key=lambda c: (-len(c), c)))


def _token():
    """The block token's pattern, from the registry's codes as they are now (re caches it)."""
    kinds = _alternatives([k.code for k in BLOCK_KINDS.values()] + list(LEGACY_CODES))
    combines = _alternatives([c.code for c in COMBINES.values() if c.code])
    return re.compile(rf"^({kinds})(\d{{1,5}})(?:/(\d{{1,2}}))?(?::([ABC]))?(?:@({combines}))?(!)?(?:\*(\d{{1,5}}))?$",
                      re.ASCII)


def encode_block(b: BlockSpec) -> str:
    s = f"{BLOCK_KINDS[b.kind].code}{b.width}"
    if b.stride != 1:
        s += f"/{b.stride}"
    if b.shortcut != "A":
        s += f":{b.shortcut}"
    if b.combine != "add":
        s += f"@{COMBINES[b.combine].code}"
    if not b.skip:
        s += "!"
    return s


def encode_stages(stages) -> str:
    out = []
    for stage in stages:
        toks: list[str] = []
        for b in stage:
            t = encode_block(b)
            if toks and toks[-1].split("*")[0] == t:
                base, _, n = toks[-1].partition("*")
                toks[-1] = f"{base}*{int(n or 1) + 1}"
            else:
                toks.append(t)
        out.append(",".join(toks))
    return "~".join(out)


def decode_stages(text: str) -> tuple[tuple[BlockSpec, ...], ...]:
    if not text:
        raise SpecError("net", "empty; expected blocks such as 'b16*3~b32/2,b32*2'")
    if len(text) > 4000:
        raise SpecError("net", "longer than 4000 characters")
    stages, total, token = [], 0, _token()
    kind_of = {k.code: (k.name, True) for k in BLOCK_KINDS.values()} | LEGACY_CODES
    combine_of = {c.code: c.name for c in COMBINES.values()}
    for stage_text in text.split("~"):
        blocks = []
        for tok in stage_text.split(","):
            m = token.match(tok.strip())
            if not m:
                raise SpecError("net", f"cannot read block {tok[:20]!r}; expected e.g. b16, "
                                       "b32/2:B, b16! (no skip), b16*3 (repeat), b16@g (gated)")
            code, width, stride, sc, comb, noskip, rep = m.groups()
            kind, can_skip = kind_of[code]
            n = int(rep) if rep else 1
            total += n
            if n < 1 or total > MAX_BLOCKS:
                raise SpecError("net", f"block count must be between 1 and {MAX_BLOCKS}")
            b = BlockSpec(kind=kind, width=int(width), stride=int(stride or 1),
                          skip=(can_skip and not noskip), shortcut=sc or "A", combine=combine_of[comb or ""])
            blocks.extend([b] * n)
        stages.append(tuple(blocks))
    return tuple(stages)


_GLOBAL_KEYS = {  # query key -> NetSpec attribute
    "fam": "family", "act": "act", "norm": "norm", "init": "init", "zil": "zero_init_last",
    "alpha": "res_scale", "inc": "in_channels", "ins": "in_size", "inf": "in_features",
    "stem": "stem_width", "cls": "classes", "pl": "survival", "gb": "gate_bias", "card": "cardinality",
    "heads": "heads", "ctx": "context", "vocab": "vocab", "dn": "deepnorm",
}
_KNOWN_KEYS = set(_GLOBAL_KEYS) | {"net"}
SPEC_KEYS = tuple(sorted(_KNOWN_KEYS))  # the URL keys that belong to the network


def to_params(spec: "NetSpec") -> dict[str, str]:
    """The spec's query keys: ``fam``, ``net``, ``act`` and ``norm`` always, others where they
    differ from the family's defaults."""
    d = {"fam": spec.family, "net": encode_stages(spec.stages), "act": spec.act, "norm": spec.norm}
    defaults = DEFAULT_GLOBALS[spec.family]
    for key, attr in _GLOBAL_KEYS.items():
        if attr == "family":
            continue
        value = getattr(spec, attr)
        if attr in ("act", "norm") or value != defaults.get(attr):
            d[key] = _fmt(value)
    return d


def to_query(spec: "NetSpec") -> str:
    return urlencode(to_params(spec), safe="*/:!,~@")


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


def _parse_int(key, text, lo, hi) -> int:
    if not re.fullmatch(r"[+-]?\d{1,7}", text.strip(), re.ASCII):
        raise SpecError(key, f"expected a whole number from {lo} to {hi}, got {text[:20]!r}")
    v = int(text)
    if not lo <= v <= hi:
        raise SpecError(key, f"must be from {lo} to {hi}, got {v}")
    return v


def _parse_bool(key, text) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise SpecError(key, f"expected 0 or 1, got {text[:20]!r}")


def _parse_float(key, text, lo, hi) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SpecError(key, f"expected a number from {lo} to {hi}, got {text[:20]!r}") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise SpecError(key, f"must be a finite number from {lo} to {hi}, got {text[:20]!r}")
    return v


def params_from_query(query: str | dict, ignore=frozenset()) -> dict[str, str]:
    """Query string or dict -> {key: value} of spec keys. Keys in ``ignore`` (the pages' own, which
    share the URL: resnet_explain.ui.url_keys) are dropped; unknown or repeated keys raise SpecError."""
    if isinstance(query, str):
        try:
            raw = parse_qs(query.lstrip("?"), keep_blank_values=True, strict_parsing=False,
                           max_num_fields=64)
        except ValueError as exc:
            raise SpecError("query", str(exc)[:80]) from None
    else:
        raw = {k: (v if isinstance(v, (list, tuple)) else [v]) for k, v in query.items()}
    params: dict[str, str] = {}
    for k, values in raw.items():
        if k in ignore:
            continue
        if k not in _KNOWN_KEYS:
            raise SpecError(str(k)[:20], f"unknown key; known keys: {', '.join(sorted(_KNOWN_KEYS))}")
        if len(values) != 1:
            raise SpecError(k, "given more than once")
        params[k] = str(values[0])
    return params


def fields_from_params(p: dict[str, str]) -> dict:
    """Spec query keys -> the NetSpec fields they give (``NetSpec(**fields)``). Raises SpecError."""
    fam = p.get("fam", "cnn")
    if fam not in FAMILIES:
        raise SpecError("fam", f"must be one of {FAMILIES}, got {fam[:20]!r}")
    kw: dict = {"family": fam}
    kw.update({k: v for k, v in DEFAULT_GLOBALS[fam].items()})
    for key, choices in (("act", ACTIVATIONS), ("norm", NORMS), ("init", INITS)):
        if key in p:
            if p[key] not in choices:
                raise SpecError(key, f"must be one of {choices}, got {p[key][:20]!r}")
            kw[_GLOBAL_KEYS[key]] = p[key]
    for key in ("zil", "dn"):
        if key in p:
            kw[_GLOBAL_KEYS[key]] = _parse_bool(key, p[key])
    if "alpha" in p:
        kw["res_scale"] = _parse_float("alpha", p["alpha"], 0.0, MAX_RES_SCALE)
    if "pl" in p:
        kw["survival"] = _parse_float("pl", p["pl"], MIN_SURVIVAL, 1.0)
    if "gb" in p:
        kw["gate_bias"] = _parse_float("gb", p["gb"], -MAX_GATE_BIAS, MAX_GATE_BIAS)
    ints = {"inc": (1, MAX_IN_CHANNELS), "ins": (MIN_IN_SIDE, MAX_IN_SIDE),
            "inf": (1, MAX_IN_FEATURES), "stem": (MIN_WIDTH, MAX_WIDTH), "cls": (2, MAX_CLASSES),
            "card": (1, MAX_CARDINALITY), "heads": (1, MAX_HEADS), "ctx": (1, MAX_CONTEXT),
            "vocab": (2, MAX_VOCAB)}
    for key, (lo, hi) in ints.items():
        if key in p:
            kw[_GLOBAL_KEYS[key]] = _parse_int(key, p[key], lo, hi)
    if "net" not in p:
        raise SpecError("net", "missing; expected blocks such as 'b16*3~b32/2,b32*2'")
    kw["stages"] = decode_stages(p["net"])
    return kw


_TRANSFORMER_FIELDS = dict(heads=4, context=64, vocab=256, deepnorm=False)  # NetSpec's own defaults
DEFAULT_GLOBALS = {
    "cnn": dict(act="relu", norm="batch", init="default", zero_init_last=False, res_scale=1.0,
                in_channels=3, in_size=32, in_features=64, stem_width=16, classes=10,
                survival=1.0, gate_bias=-6.0, cardinality=8, **_TRANSFORMER_FIELDS),
    "mlp": dict(act="relu", norm="none", init="default", zero_init_last=False, res_scale=1.0,
                in_channels=3, in_size=32, in_features=64, stem_width=64, classes=10,
                survival=1.0, gate_bias=-6.0, cardinality=8, **_TRANSFORMER_FIELDS),
    "transformer": dict(act="gelu", norm="pre", init="default", zero_init_last=False, res_scale=1.0,
                        in_channels=3, in_size=32, in_features=64, stem_width=16, classes=10,
                        survival=1.0, gate_bias=-6.0, cardinality=8, **_TRANSFORMER_FIELDS),
}
