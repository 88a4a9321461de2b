"""NetSpec: one frozen, hashable description of a network.

Every page, the CLI and every cache key use the same object, and its URL query string
(``to_query`` / ``from_query``) is its serialisation, so a copied link rebuilds the same network
(TensorFlow Playground keeps its whole network in the URL for the same reason).

Two families:

* ``mlp``: fully connected blocks on a flat input (the theory pages);
* ``cnn``: the CIFAR-style ResNet of He et al. 2015 (arXiv 1512.03385, section 4.2): a 3x3 stem,
  stages of widths w, 2w, 4w with stride 2 at each stage start, global average pooling and a
  linear head; depth 6n+2.

The network is a tuple of stages, each a tuple of :class:`BlockSpec`, so a user can add, remove,
reorder and edit blocks one at a time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Iterator
from urllib.parse import parse_qs, urlencode

FAMILIES = ("mlp", "cnn")
BLOCK_KINDS = ("plain", "basic", "preact", "bottleneck")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")
NORMS = ("batch", "none")
INITS = ("default", "kaiming", "xavier")
# He et al. 2015, section 4.1 ("Identity vs. Projection Shortcuts").
SHORTCUTS = ("A", "B", "C")
SHORTCUT_LABELS = {
    "A": "pad: identity, zero-padded where the shape changes (He et al. 2015 option A)",
    "B": "projection (1x1 conv + norm) where the shape changes, identity elsewhere (option B)",
    "C": "projection on every block (option C)",
}
KIND_LABELS = {
    "plain": "plain: two layers, no skip possible",
    "basic": "basic: two layers + skip, activation after the add (He et al. 2015)",
    "preact": "pre-activation: norm-act-layer twice, clean identity path (He et al. 2016)",
    "bottleneck": "bottleneck: 1x1 down, 3x3, 1x1 up (inner width = width/4) + skip",
}

# Hard caps. They bound what a request may even ask for; the cost budget (estimate_cost) bounds
# what it may allocate, and both are checked before any tensor exists.
MAX_BLOCKS = 1000  # ResNet-1202 has 600 blocks
MAX_WIDTH = 1024
MIN_WIDTH = 1
MAX_STRIDE = 2
MAX_CLASSES = 1000
MAX_IN_FEATURES = 4096
MAX_IN_CHANNELS = 16
MAX_IN_SIDE = 256
MIN_IN_SIDE = 4
MAX_PARAMS = 100_000_000
MAX_RES_SCALE = 10.0


class SpecError(ValueError):
    """A network description that cannot be built. ``field`` names the offending field."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class BlockSpec:
    """One block. Plain and residual blocks are the same class; ``skip`` is the only switch."""

    kind: str = "basic"  # one of BLOCK_KINDS
    width: int = 16  # output channels (cnn) or features (mlp)
    stride: int = 1  # spatial stride of the block's first conv (cnn only; mlp must use 1)
    skip: bool = True  # add the shortcut to the body's output (always False for kind "plain")
    shortcut: str = "A"  # one of SHORTCUTS; matters where the shape changes (or always, for C)

    @property
    def has_skip(self) -> bool:
        return self.skip and self.kind != "plain"


@dataclass(frozen=True)
class NetSpec:
    """A whole network. Frozen and hashable: it is the cache key everywhere."""

    family: str = "cnn"  # "mlp" or "cnn"
    stages: tuple[tuple[BlockSpec, ...], ...] = ()  # stage -> blocks; names stage{i}.block{j}
    act: str = "relu"  # activation everywhere (one module per call site)
    norm: str = "batch"  # "batch" (BatchNorm) or "none"
    init: str = "default"  # PyTorch's default, kaiming (He et al. 2015b) or xavier (Glorot 2010)
    zero_init_last: bool = False  # last norm (or layer) of each residual branch starts at 0
    res_scale: float = 1.0  # SkipInit/ReZero: learnable scalar on the branch, initialised here
    in_channels: int = 3  # cnn input channels
    in_size: int = 32  # cnn input side (square images)
    in_features: int = 64  # mlp input features
    stem_width: int = 16  # width after the stem
    classes: int = 10  # outputs of the head

    # ---- derived -------------------------------------------------------------------------
    @property
    def blocks(self) -> list[BlockSpec]:
        return [b for stage in self.stages for b in stage]

    def named_blocks(self) -> Iterator[tuple[str, BlockSpec]]:
        for i, stage in enumerate(self.stages, start=1):
            for j, b in enumerate(stage):
                yield f"stage{i}.block{j}", b

    @property
    def n_blocks(self) -> int:
        return sum(len(s) for s in self.stages)

    @property
    def depth(self) -> int:
        """Weighted layers on the longest path: stem + layers per block + head (He's count)."""
        per = {"plain": 2, "basic": 2, "preact": 2, "bottleneck": 3}
        return 2 + sum(per[b.kind] for b in self.blocks)

    @property
    def any_skip(self) -> bool:
        return any(b.has_skip for b in self.blocks)

    def input_shape(self, batch: int = 1) -> tuple[int, ...]:
        if self.family == "cnn":
            return (batch, self.in_channels, self.in_size, self.in_size)
        return (batch, self.in_features)

    # ---- edits (all return new specs) -----------------------------------------------------
    def with_skips(self, on: bool) -> "NetSpec":
        """Every block that can have a skip gets ``skip=on`` (plain blocks never have one). Where a
        zero-padded shortcut (A) would have to shrink the width, the block gets a projection (B)."""
        if not on:
            return self.map_blocks(lambda b: replace(b, skip=False))
        stages, width = [], self.stem_width
        for stage in self.stages:
            out = []
            for b in stage:
                sc = "B" if (b.shortcut == "A" and b.width < width) else b.shortcut
                out.append(replace(b, skip=b.kind != "plain", shortcut=sc))
                width = b.width
            stages.append(tuple(out))
        return replace(self, stages=tuple(stages))

    def twin(self) -> "NetSpec":
        """The same network with every skip toggled: residual <-> plain."""
        return self.with_skips(not self.any_skip)

    def map_blocks(self, fn) -> "NetSpec":
        return replace(self, stages=tuple(tuple(fn(b) for b in s) for s in self.stages))

    def replace(self, **changes) -> "NetSpec":
        return replace(self, **changes)

    # ---- validation ------------------------------------------------------------------------
    def __post_init__(self):
        # Normalise list inputs so the spec stays hashable, then validate.
        try:
            stages = tuple(tuple(s) for s in self.stages)
        except TypeError:
            raise SpecError("stages", "must be a sequence of stages, each a sequence of BlockSpec") from None
        object.__setattr__(self, "stages", stages)
        validate(self)

    # ---- serialisation -----------------------------------------------------------------------
    def to_query(self) -> str:
        return urlencode(self.to_params(), safe="*/:!,~")

    def to_params(self) -> dict[str, str]:
        d = {"fam": self.family, "net": encode_stages(self.stages), "act": self.act, "norm": self.norm}
        defaults = DEFAULT_GLOBALS[self.family]
        for key, attr in _GLOBAL_KEYS.items():
            if attr in ("family",):
                continue
            value = getattr(self, attr)
            if attr in ("act", "norm") or value != defaults.get(attr):
                d[key] = _fmt(value)
        return d

    @classmethod
    def from_query(cls, query: str | dict) -> "NetSpec":
        """Parse a query string (or a dict of str -> str | list[str]). Raises SpecError."""
        return spec_from_params(params_from_query(query))

    def summary(self) -> str:
        kinds = sorted({b.kind for b in self.blocks})
        sk = sum(b.has_skip for b in self.blocks)
        return (f"{self.family} depth {self.depth}, {self.n_blocks} blocks ({'/'.join(kinds)}), "
                f"{sk} skips, {self.act}, norm={self.norm}")


# ---------------------------------------------------------------------------------------------
# Query-string encoding of the stages: compact enough for a URL, readable by a person.
#   block token  = KIND WIDTH ['/' STRIDE] [':' SHORTCUT] ['!' = no skip] ['*' REPEAT]
#   kinds: p=plain b=basic r=preact (pre-activation) k=bottleneck
#   blocks are separated by ',' and stages by '~'.
#   ResNet-20: net=b16*3~b32/2,b32*2~b64/2,b64*2
# ---------------------------------------------------------------------------------------------
_KIND_CODE = {"plain": "p", "basic": "b", "preact": "r", "bottleneck": "k"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}
_TOKEN = re.compile(r"^([pbrk])(\d{1,5})(?:/(\d{1,2}))?(?::([ABC]))?(!)?(?:\*(\d{1,5}))?$", re.ASCII)


def encode_block(b: BlockSpec) -> str:
    s = f"{_KIND_CODE[b.kind]}{b.width}"
    if b.stride != 1:
        s += f"/{b.stride}"
    if b.shortcut != "A":
        s += f":{b.shortcut}"
    if not b.skip and b.kind != "plain":
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
    stages = []
    total = 0
    for stage_text in text.split("~"):
        blocks = []
        for tok in stage_text.split(","):
            m = _TOKEN.match(tok.strip())
            if not m:
                raise SpecError("net", f"cannot read block {tok[:20]!r}; expected e.g. b16, "
                                       "b32/2:B, b16! (no skip), b16*3 (repeat)")
            code, width, stride, sc, noskip, rep = m.groups()
            kind = _CODE_KIND[code]
            n = int(rep) if rep else 1
            total += n
            if n < 1 or total > MAX_BLOCKS:
                raise SpecError("net", f"block count must be between 1 and {MAX_BLOCKS}")
            b = BlockSpec(kind=kind, width=int(width), stride=int(stride or 1),
                          skip=(kind != "plain" and not noskip), shortcut=sc or "A")
            blocks.extend([b] * n)
        stages.append(tuple(blocks))
    return tuple(stages)


_GLOBAL_KEYS = {  # query key -> NetSpec attribute
    "fam": "family", "act": "act", "norm": "norm", "init": "init", "zil": "zero_init_last",
    "alpha": "res_scale", "inc": "in_channels", "ins": "in_size", "inf": "in_features",
    "stem": "stem_width", "cls": "classes",
}
_KNOWN_KEYS = set(_GLOBAL_KEYS) | {"net"}
# Keys that share the URL with the spec but are not part of it (the UI's own state).
NON_SPEC_KEYS = {"seed", "device", "batch", "presenter", "controls", "preset", "view", "block",
                 "dtype", "depth", "page", "embed", "embed_options"}


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


def params_from_query(query: str | dict) -> dict[str, str]:
    """Query string or dict -> {key: value} of spec keys. Keys the UI owns (NON_SPEC_KEYS) are
    dropped; unknown or repeated keys raise SpecError."""
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
        if k in NON_SPEC_KEYS:
            continue
        if k not in _KNOWN_KEYS:
            raise SpecError(str(k)[:20], f"unknown key; known keys: {', '.join(sorted(_KNOWN_KEYS))}")
        if len(values) != 1:
            raise SpecError(k, "given more than once")
        params[k] = str(values[0])
    return params


def spec_from_params(p: dict[str, str]) -> NetSpec:
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
    if "zil" in p:
        kw["zero_init_last"] = _parse_bool("zil", p["zil"])
    if "alpha" in p:
        kw["res_scale"] = _parse_float("alpha", p["alpha"], 0.0, MAX_RES_SCALE)
    ints = {"inc": (1, MAX_IN_CHANNELS), "ins": (MIN_IN_SIDE, MAX_IN_SIDE),
            "inf": (1, MAX_IN_FEATURES), "stem": (MIN_WIDTH, MAX_WIDTH), "cls": (2, MAX_CLASSES)}
    for key, (lo, hi) in ints.items():
        if key in p:
            kw[_GLOBAL_KEYS[key]] = _parse_int(key, p[key], lo, hi)
    if "net" not in p:
        raise SpecError("net", "missing; expected blocks such as 'b16*3~b32/2,b32*2'")
    kw["stages"] = decode_stages(p["net"])
    return NetSpec(**kw)


DEFAULT_GLOBALS = {
    "cnn": dict(act="relu", norm="batch", init="default", zero_init_last=False, res_scale=1.0,
                in_channels=3, in_size=32, in_features=64, stem_width=16, classes=10),
    "mlp": dict(act="relu", norm="none", init="default", zero_init_last=False, res_scale=1.0,
                in_channels=3, in_size=32, in_features=64, stem_width=64, classes=10),
}


def validate(spec: NetSpec) -> None:
    """Raise SpecError naming the first field that is out of range."""
    if spec.family not in FAMILIES:
        raise SpecError("family", f"must be one of {FAMILIES}")
    for name, value, choices in (("act", spec.act, ACTIVATIONS), ("norm", spec.norm, NORMS),
                                 ("init", spec.init, INITS)):
        if value not in choices:
            raise SpecError(name, f"must be one of {choices}, got {value!r}")
    if not isinstance(spec.zero_init_last, bool):
        raise SpecError("zero_init_last", "must be True or False")
    if (not isinstance(spec.res_scale, (int, float)) or isinstance(spec.res_scale, bool)
            or not math.isfinite(spec.res_scale) or not 0.0 <= spec.res_scale <= MAX_RES_SCALE):
        raise SpecError("res_scale", f"must be a finite number from 0 to {MAX_RES_SCALE}")
    _check_int("in_channels", spec.in_channels, 1, MAX_IN_CHANNELS)
    _check_int("in_size", spec.in_size, MIN_IN_SIDE, MAX_IN_SIDE)
    _check_int("in_features", spec.in_features, 1, MAX_IN_FEATURES)
    _check_int("stem_width", spec.stem_width, MIN_WIDTH, MAX_WIDTH)
    _check_int("classes", spec.classes, 2, MAX_CLASSES)
    if not spec.stages or any(len(s) == 0 for s in spec.stages):
        raise SpecError("stages", "need at least one stage, and every stage at least one block")
    if spec.n_blocks > MAX_BLOCKS:
        raise SpecError("stages", f"at most {MAX_BLOCKS} blocks, got {spec.n_blocks}")
    width = spec.stem_width
    side = spec.in_size
    for name, b in spec.named_blocks():
        if not isinstance(b, BlockSpec):
            raise SpecError(name, "must be a BlockSpec")
        if b.kind not in BLOCK_KINDS:
            raise SpecError(f"{name}.kind", f"must be one of {BLOCK_KINDS}, got {b.kind!r}")
        _check_int(f"{name}.width", b.width, MIN_WIDTH, MAX_WIDTH)
        if b.kind == "bottleneck" and b.width < 4:
            raise SpecError(f"{name}.width", "a bottleneck needs width >= 4 (inner width = width/4)")
        _check_int(f"{name}.stride", b.stride, 1, MAX_STRIDE)
        if not isinstance(b.skip, bool):
            raise SpecError(f"{name}.skip", "must be True or False")
        if b.kind == "plain" and b.skip:
            raise SpecError(f"{name}.skip", "a plain block has no skip; use kind 'basic'")
        if b.shortcut not in SHORTCUTS:
            raise SpecError(f"{name}.shortcut", f"must be one of {SHORTCUTS}, got {b.shortcut!r}")
        if spec.family == "mlp" and b.stride != 1:
            raise SpecError(f"{name}.stride", "an mlp block has no spatial stride; use 1")
        if spec.family == "cnn":
            side = (side - 1) // b.stride + 1  # 3x3 conv, padding 1
        if b.has_skip and b.shortcut == "A" and b.width < width:
            raise SpecError(f"{name}.shortcut",
                            f"zero-padding (A) cannot shrink {width} to {b.width} channels; "
                            "use a projection (B or C)")
        width = b.width


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SpecError(name, f"must be a whole number from {lo} to {hi}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------
def cifar_resnet(depth: int, skip: bool = True, width: int = 16, kind: str = "basic",
                 shortcut: str = "A", **globals_) -> NetSpec:
    """He et al. 2015 CIFAR ResNet of depth 6n+2 (option A shortcuts, as in their CIFAR runs)."""
    if depth < 8 or (depth - 2) % 6:
        raise SpecError("depth", f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
    stages = []
    for i in range(3):
        w = width * 2**i
        stages.append(tuple(BlockSpec(kind=kind, width=w, stride=(2 if (i and j == 0) else 1),
                                      skip=skip and kind != "plain", shortcut=shortcut)
                            for j in range(n)))
    kw = dict(DEFAULT_GLOBALS["cnn"])
    kw.update(stem_width=width)
    kw.update(globals_)
    return NetSpec(family="cnn", stages=tuple(stages), **kw)


def mlp(depth: int, skip: bool = True, width: int = 64, act: str = "sigmoid", norm: str = "none",
        kind: str = "preact", **globals_) -> NetSpec:
    """A fully connected net of ``depth`` weighted layers: stem + (depth-2)/2 two-layer blocks + head.

    Pre-activation blocks by default, so the skip is a clean identity, x + F(x): with the
    activation after the add (post-activation, "basic") every block's sum still passes through
    sigma', and a sigmoid net vanishes even with skips (He et al. 2016, arXiv 1603.05027, sec. 3).
    """
    if depth < 4 or depth % 2:
        raise SpecError("depth", f"an mlp here has an even depth >= 4 (stem + 2 per block + head), got {depth}")
    n = (depth - 2) // 2
    b = BlockSpec(kind=kind, width=width, skip=skip and kind != "plain")
    kw = dict(DEFAULT_GLOBALS["mlp"])
    kw.update(stem_width=width, act=act, norm=norm)
    kw.update(globals_)
    return NetSpec(family="mlp", stages=((b,) * n,), **kw)


def _presets() -> dict[str, tuple[str, NetSpec]]:
    out: dict[str, tuple[str, NetSpec]] = {}
    for d in (20, 32, 44, 56, 110, 1202):
        out[f"resnet{d}"] = (f"He et al. 2015 CIFAR ResNet-{d} (basic blocks, option A)",
                             cifar_resnet(d, skip=True))
        out[f"plain{d}"] = (f"plain twin of ResNet-{d}: same layers and weights, no skips",
                            cifar_resnet(d, skip=False))
    out["preact-resnet110"] = ("He et al. 2016 pre-activation ResNet-110",
                               cifar_resnet(110, kind="preact"))
    for d in (20, 50):
        out[f"mlp-sigmoid{d}"] = (f"sigmoid MLP, {d} layers, no norm, with skips",
                                  mlp(d, skip=True, act="sigmoid"))
        out[f"mlp-sigmoid{d}-plain"] = (f"sigmoid MLP, {d} layers, no norm, no skips",
                                        mlp(d, skip=False, act="sigmoid"))
        out[f"mlp-relu{d}"] = (f"ReLU MLP, {d} layers, no norm, with skips",
                               mlp(d, skip=True, act="relu"))
        out[f"mlp-relu{d}-plain"] = (f"ReLU MLP, {d} layers, no norm, no skips",
                                     mlp(d, skip=False, act="relu"))
    out["mlp-relu20-skipinit"] = ("ReLU MLP with skips and a zero-initialised residual scale "
                                  "(SkipInit, De & Smith 2020)",
                                  mlp(20, skip=True, act="relu", res_scale=0.0))
    return out


PRESETS: dict[str, tuple[str, NetSpec]] = _presets()


def preset(name: str) -> NetSpec:
    try:
        return PRESETS[name][1]
    except KeyError:
        raise SpecError("preset", f"unknown preset {name[:40]!r}; known: {', '.join(PRESETS)}") from None


# ---------------------------------------------------------------------------------------------
# Cost estimate, computed from the spec alone, before any tensor is allocated.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    params: int  # exact parameter count of build_model(spec) (tested)
    flops: int  # forward FLOPs per example of the weighted layers (2 per multiply-add)
    activations: int  # elements per example that a training step keeps for backward (estimate)

    def memory_bytes(self, batch: int, bytes_per_value: int = 4) -> int:
        """Rough training-step memory: weights + grads + momentum, plus saved activations."""
        return bytes_per_value * (3 * self.params + self.activations * batch)


def estimate_cost(spec: NetSpec) -> Cost:
    cnn = spec.family == "cnn"
    bn = spec.norm == "batch"
    params = flops = acts = 0
    side = spec.in_size if cnn else 1
    area = side * side

    def layer(cin, cout, k, stride, bias):
        nonlocal params, flops, acts, side, area
        if cnn:
            side = (side - 1) // stride + 1
            area = side * side
        kk = k * k if cnn else 1
        params += kk * cin * cout + (cout if bias else 0)
        flops += 2 * kk * cin * cout * area
        acts += cout * area

    def elementwise(width, n=1):  # norm / activation / add outputs kept for backward
        nonlocal acts
        acts += n * width * area

    def norm(width):
        nonlocal params
        if bn:
            params += 2 * width
            elementwise(width)

    c_in = spec.in_channels if cnn else spec.in_features
    layer(c_in, spec.stem_width, 3, 1, not bn)
    norm(spec.stem_width)
    elementwise(spec.stem_width)
    width = spec.stem_width
    for _, b in spec.named_blocks():
        w, s = b.width, b.stride
        in_side, in_area = side, area
        if b.kind in ("plain", "basic"):
            layer(width, w, 3, s, not bn); norm(w); elementwise(w)
            layer(w, w, 3, 1, not bn); norm(w)
        elif b.kind == "preact":
            norm(width); elementwise(width)
            layer(width, w, 3, s, not bn); norm(w); elementwise(w)
            layer(w, w, 3, 1, not bn)
        else:
            m = max(1, w // 4)
            layer(width, m, 1, 1, not bn); norm(m); elementwise(m)
            layer(m, m, 3, s, not bn); norm(m); elementwise(m)
            layer(m, w, 1, 1, not bn); norm(w)
        if b.has_skip:
            changes = width != w or s != 1
            if b.shortcut == "C" or (b.shortcut == "B" and changes):
                out_side, out_area = side, area
                side, area = in_side, in_area
                layer(width, w, 1, s, not bn); norm(w)
                side, area = out_side, out_area
            if spec.res_scale != 1.0:
                params += 1
            elementwise(w)  # the sum
        if b.kind != "preact":
            elementwise(w)  # activation after the add
        width = b.width
    if spec.blocks[-1].kind == "preact":
        norm(width); elementwise(width)
    params += width * spec.classes + spec.classes
    flops += 2 * width * spec.classes
    return Cost(params=params, flops=flops, activations=acts)


def check_budget(spec: NetSpec, batch: int, max_memory_bytes: int,
                 max_params: int = MAX_PARAMS) -> Cost:
    """Raise SpecError (field "budget") when the spec would exceed the limits. No allocation."""
    cost = estimate_cost(spec)
    if cost.params > max_params:
        raise SpecError("budget", f"{cost.params:,} parameters exceed the limit of {max_params:,}; "
                                  "use fewer or narrower blocks")
    mem = cost.memory_bytes(batch)
    if mem > max_memory_bytes:
        raise SpecError("budget", f"about {mem / 2**20:,.0f} MiB for batch {batch} exceeds the "
                                  f"limit of {max_memory_bytes / 2**20:,.0f} MiB; use a smaller "
                                  "batch, fewer or narrower blocks")
    return cost
