"""NetSpec: validation, URL round-trip, hostile query strings, cost estimate and budget.

``valid_specs`` / ``invalid_specs`` are the hypothesis strategies the other unit tests reuse
(``from test_spec import valid_specs``): small widths and inputs so a model builds in milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
import re
from urllib.parse import unquote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from resnet_explain.model import build_model
from resnet_explain.spec import (
    ACTIVATIONS,
    BLOCK_KINDS,
    COMBINES,
    FAMILIES,
    INITS,
    NORMS,
    PRESETS,
    SHORTCUTS,
    BlockSpec,
    NetSpec,
    SpecError,
    check_budget,
    cifar_resnet,
    estimate_cost,
    mlp,
    preset,
)
from resnet_explain.spec.grammar import decode_stages, encode_stages
from resnet_explain.spec.limits import FAMILY_INITS, FAMILY_NORMS, MAX_BLOCKS, MAX_WIDTH
from resnet_explain.spec.transformer import transformer_spec
from resnet_explain.ui.url_keys import NON_SPEC_KEYS


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------
CNN_FAMILIES = tuple(f for f in FAMILIES if f != "transformer")


@st.composite
def valid_specs(draw, families=CNN_FAMILIES, max_stages=3, max_blocks_per_stage=2, max_width=8,
                acts=ACTIVATIONS, norms=NORMS, kinds=tuple(BLOCK_KINDS)):
    """A random VALID NetSpec of the mlp or cnn family, tiny (widths <= max_width, in_size 4..8,
    in_features <= 8); Transformers: :func:`valid_transformer_specs`."""
    fam = draw(st.sampled_from(families))
    norms = [n for n in norms if n in FAMILY_NORMS[fam]]
    stem = draw(st.integers(1, max_width))
    card = draw(st.sampled_from((1, 2)))
    prev = stem
    stages = []
    kinds = [k for k in kinds if fam in BLOCK_KINDS[k].families]
    kinds = [k for k in kinds if fam == "cnn" or k != "resnext"]  # grouped 3x3: cnn only
    for _ in range(draw(st.integers(1, max_stages))):
        blocks = []
        for _ in range(draw(st.integers(1, max_blocks_per_stage))):
            kind = draw(st.sampled_from([k for k in kinds if k != "dense" or prev < MAX_WIDTH]))
            top = max(max_width, 4)
            if kind == "resnext":  # the inner width (width // 2) is a multiple of the groups
                width = draw(st.sampled_from([w for w in range(2, top + 1) if (w // 2) % card == 0]))
            elif kind == "dense":  # concatenates: wider than its input
                width = draw(st.integers(prev + 1, min(MAX_WIDTH, prev + max_width)))
            else:
                width = draw(st.integers(4 if kind == "bottleneck" else 1, top))
            stride = draw(st.sampled_from((1, 2))) if fam == "cnn" else 1
            skip = BLOCK_KINDS[kind].can_skip and draw(st.booleans())  # a transition: never a skip
            shortcut = draw(st.sampled_from(SHORTCUTS))
            if skip and shortcut == "A" and width < prev:  # pad (A) cannot shrink the width
                shortcut = draw(st.sampled_from(("B", "C")))
            combine = draw(st.sampled_from(tuple(COMBINES))) if BLOCK_KINDS[kind].adds else "add"
            blocks.append(BlockSpec(kind=kind, width=width, stride=stride, skip=skip,
                                    shortcut=shortcut, combine=combine))
            prev = width
        stages.append(tuple(blocks))
    # a network of transitions only has no twin (a transition never has a skip)
    assume(any(BLOCK_KINDS[b.kind].can_skip for s in stages for b in s))
    res_scale = draw(st.sampled_from((0.0, 0.5, 1.0, 2.0))
                     | st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False))
    return NetSpec(family=fam, stages=tuple(stages), act=draw(st.sampled_from(acts)),
                   norm=draw(st.sampled_from(norms)), init=draw(st.sampled_from(FAMILY_INITS[fam])),
                   zero_init_last=draw(st.booleans()), res_scale=res_scale,
                   in_channels=draw(st.integers(1, 3)), in_size=draw(st.integers(4, 8)),
                   in_features=draw(st.integers(1, 8)), stem_width=stem,
                   classes=draw(st.integers(2, 5)), cardinality=card,
                   survival=draw(st.sampled_from((1.0, 0.5))), gate_bias=draw(st.sampled_from((-6.0, 0.0, 2.5))))


@st.composite
def valid_transformer_specs(draw, max_depth=3, max_width=16):
    """A random VALID Transformer spec, tiny: every norm placement, skips on/off per sublayer,
    ReZero, DeepNorm (post-LN), both inits, any activation, heads dividing the width."""
    heads = draw(st.integers(1, 4))
    width = heads * draw(st.integers(1, max(1, max_width // heads)))
    norm = draw(st.sampled_from(FAMILY_NORMS["transformer"]))
    scaling = draw(st.sampled_from((None, "rezero", "deepnorm") if norm == "post" else (None, "rezero")))
    spec = transformer_spec(depth=draw(st.integers(1, max_depth)), width=width, heads=heads,
                            context=draw(st.integers(1, 8)), vocab=draw(st.integers(2, 12)), norm=norm,
                            scaling=scaling, init=draw(st.sampled_from(FAMILY_INITS["transformer"])),
                            act=draw(st.sampled_from(ACTIVATIONS)), zero_init_last=draw(st.booleans()),
                            survival=draw(st.sampled_from((1.0, 0.5))))
    if scaling is None and draw(st.booleans()):  # SkipInit-like: a learnable scalar from another value
        spec = dataclasses.replace(spec, res_scale=draw(st.sampled_from((0.5, 2.0))))
    skips = draw(st.lists(st.booleans(), min_size=spec.n_blocks, max_size=spec.n_blocks))
    it = iter(skips)
    return spec.map_blocks(lambda b: dataclasses.replace(b, skip=next(it)))


def any_valid_specs(**kw):
    """Either family kind: a CNN/MLP spec or a Transformer's."""
    return valid_specs(**kw) | valid_transformer_specs()


def _kw(spec: NetSpec) -> dict:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def _with_block(spec: NetSpec, index: int, **changes) -> tuple[dict, str]:
    """Keyword arguments of ``spec`` with block ``index`` changed, and that block's name."""
    names = [n for n, _ in spec.named_blocks()]
    flat = spec.blocks
    flat[index] = dataclasses.replace(flat[index], **changes)
    it = iter(flat)
    stages = tuple(tuple(next(it) for _ in s) for s in spec.stages)
    kw = _kw(spec)
    kw["stages"] = stages
    return kw, names[index]


@st.composite
def invalid_specs(draw):
    """(keyword arguments for NetSpec with exactly one field out of range, expected exc.field).
    The blocks are of the kinds whose validity does not depend on their neighbours' widths (a
    dense or ResNeXt block's own rules are tested in test_zoo_blocks.py)."""
    spec = draw(valid_specs(kinds=("basic", "preact", "bottleneck")))
    kw = _kw(spec)
    k = draw(st.integers(0, spec.n_blocks - 1))
    widths = [spec.stem_width] + [b.width for b in spec.blocks]
    prev = widths[k]  # the width block k receives
    what = draw(st.sampled_from([
        "width0", "width_big", "width_neg", "width_bool", "width_float", "bottleneck3", "kind",
        "stride0", "stride3", "mlp_stride2", "skip_notbool", "shortcut",
        "pad_shrink", "act", "norm", "init", "family", "zil", "res_scale", "in_channels",
        "in_size", "in_features", "stem_width", "classes", "no_stages", "empty_stage",
    ]))
    if what == "width0":
        return _with_block(spec, k, width=0)[0], _with_block(spec, k)[1] + ".width"
    if what == "width_big":
        return _with_block(spec, k, width=MAX_WIDTH + 1)[0], _with_block(spec, k)[1] + ".width"
    if what == "width_neg":
        return _with_block(spec, k, width=-3)[0], _with_block(spec, k)[1] + ".width"
    if what == "width_bool":
        kw, name = _with_block(spec, k, kind="basic", width=True, skip=False)
        return kw, name + ".width"
    if what == "width_float":
        kw, name = _with_block(spec, k, kind="basic", width=4.0, skip=False)
        return kw, name + ".width"
    if what == "bottleneck3":
        kw, name = _with_block(spec, k, kind="bottleneck", width=draw(st.integers(1, 3)),
                               skip=False)
        return kw, name + ".width"
    if what == "kind":
        kw, name = _with_block(spec, k, kind=draw(st.sampled_from(["densenet", "", "Basic", "p"])))
        return kw, name + ".kind"
    if what in ("stride0", "stride3"):
        kw, name = _with_block(spec, k, stride=0 if what == "stride0" else 3)
        return kw, name + ".stride"
    if what == "mlp_stride2":
        as_mlp = dataclasses.replace(spec, family="mlp", stages=tuple(
            tuple(dataclasses.replace(b, stride=1) for b in s) for s in spec.stages))
        kw, name = _with_block(as_mlp, k, stride=2)
        return kw, name + ".stride"
    if what == "skip_notbool":
        kw, name = _with_block(spec, k, kind="basic", skip=1, shortcut="C")
        return kw, name + ".skip"
    if what == "shortcut":
        kw, name = _with_block(spec, k, shortcut=draw(st.sampled_from(["D", "a", "", "AB"])))
        return kw, name + ".shortcut"
    if what == "pad_shrink":
        assume(prev >= 2)
        kw, name = _with_block(spec, k, kind="basic", skip=True, shortcut="A",
                               width=draw(st.integers(1, prev - 1)))
        return kw, name + ".shortcut"
    if what == "act":
        kw["act"] = draw(st.sampled_from(["foo", "ReLU", "", "softmax"]))
        return kw, "act"
    if what == "norm":
        kw["norm"] = draw(st.sampled_from(["layer", "BN", ""]))
        return kw, "norm"
    if what == "init":
        kw["init"] = draw(st.sampled_from(["orthogonal", "he", ""]))
        return kw, "init"
    if what == "family":
        kw["family"] = draw(st.sampled_from(["rnn", "CNN", ""]))
        return kw, "family"
    if what == "zil":
        kw["zero_init_last"] = draw(st.sampled_from([1, "yes", None]))
        return kw, "zero_init_last"
    if what == "res_scale":
        kw["res_scale"] = draw(st.sampled_from([-0.1, 10.5, math.nan, math.inf, True, "1"]))
        return kw, "res_scale"
    if what == "in_channels":
        kw["in_channels"] = draw(st.sampled_from([0, 17, -1]))
        return kw, "in_channels"
    if what == "in_size":
        kw["in_size"] = draw(st.sampled_from([3, 0, 257]))
        return kw, "in_size"
    if what == "in_features":
        kw["in_features"] = draw(st.sampled_from([0, 4097]))
        return kw, "in_features"
    if what == "stem_width":
        kw["stem_width"] = draw(st.sampled_from([0, MAX_WIDTH + 1]))
        return kw, "stem_width"
    if what == "classes":
        kw["classes"] = draw(st.sampled_from([1, 0, 1001]))
        return kw, "classes"
    if what == "no_stages":
        kw["stages"] = ()
        return kw, "stages"
    kw["stages"] = tuple(kw["stages"]) + ((),)  # empty_stage
    return kw, "stages"


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
@given(any_valid_specs())
def test_valid_specs_validate_and_hash(spec):
    assert spec.n_blocks == len(spec.blocks) == len(list(spec.named_blocks()))
    copy = NetSpec(**_kw(spec))
    assert spec == copy and hash(spec) == hash(copy)  # equal specs hit the same cache entry
    assert {spec: "cached"}[copy] == "cached"


@given(invalid_specs())
def test_invalid_specs_raise_spec_error_naming_the_field(case):
    kw, field = case
    with pytest.raises(SpecError) as info:
        NetSpec(**kw)
    assert info.value.field == field, str(info.value)
    assert str(info.value).startswith(field + ":")


def test_invalid_examples_from_the_issue():
    ok = BlockSpec("basic", 8)
    cases = [
        (dict(stages=((BlockSpec("basic", 0),),)), "stage1.block0.width"),
        (dict(stages=((ok, BlockSpec("basic", MAX_WIDTH + 1)),), stem_width=8),
         "stage1.block1.width"),
        (dict(stages=((ok,), (BlockSpec("basic", 8, stride=3),)), stem_width=8),
         "stage2.block0.stride"),
        (dict(stages=((ok,),), stem_width=8, act="foo"), "act"),
        (dict(family="mlp", stages=((BlockSpec("basic", 8, stride=2),),), stem_width=8),
         "stage1.block0.stride"),
        (dict(stages=((BlockSpec("basic", 4, shortcut="A"),),), stem_width=8),
         "stage1.block0.shortcut"),
        (dict(stages=((BlockSpec("bottleneck", 3, skip=False),),), stem_width=3),
         "stage1.block0.width"),
        (dict(stages=((ok,) * (MAX_BLOCKS + 1),), stem_width=8), "stages"),
    ]
    for kw, field in cases:
        with pytest.raises(SpecError) as info:
            NetSpec(**kw)
        assert info.value.field == field, (kw, str(info.value))


def test_pad_shortcut_may_shrink_when_there_is_no_skip_or_a_projection():
    NetSpec(stages=((BlockSpec("basic", 4, skip=False),),), stem_width=8)
    NetSpec(stages=((BlockSpec("basic", 4, shortcut="B"),),), stem_width=8)


def test_lists_are_normalised_to_tuples_and_stay_hashable():
    a = NetSpec(stages=[[BlockSpec("basic", 16)]])
    b = NetSpec(stages=((BlockSpec("basic", 16),),))
    assert a == b and hash(a) == hash(b)
    assert isinstance(a.stages, tuple) and isinstance(a.stages[0], tuple)


def test_depth_helpers_and_presets():
    assert cifar_resnet(20).depth == 20 and cifar_resnet(56).n_blocks == 27
    assert cifar_resnet(110, kind="preact").depth == 110
    assert mlp(20).depth == 20 and mlp(20).n_blocks == 9
    for d in (7, 4, 21):
        with pytest.raises(SpecError) as info:
            cifar_resnet(d)
        assert info.value.field == "depth"
    for d in (3, 5, 21):
        with pytest.raises(SpecError) as info:
            mlp(d)
        assert info.value.field == "depth"
    with pytest.raises(SpecError) as info:
        preset("no-such-net")
    assert info.value.field == "preset"
    assert preset("resnet56") is PRESETS["resnet56"][1]
    for name, (desc, spec) in PRESETS.items():
        assert desc
        if spec.family == "transformer":  # tf-*: the depth is in the description, skips in the name
            assert name.startswith("tf-") and f"{spec.depth} layers" in desc
            assert ("noskip" in name) != spec.any_skip
            continue
        assert spec.depth == int(re.search(r"\d+", name).group()), name  # resnet56 has depth 56
        assert ("plain" in name) != spec.any_skip


def test_twin_toggles_every_skip_and_back():
    r = cifar_resnet(20, width=4)
    p = r.twin()
    assert not p.any_skip and p == cifar_resnet(20, skip=False, width=4)
    assert p.twin() == r
    assert [b.kind for b in p.blocks] == [b.kind for b in r.blocks]
    assert PRESETS["resnet56"][1].twin() == PRESETS["plain56"][1]
    assert PRESETS["mlp-sigmoid20"][1].twin() == PRESETS["mlp-sigmoid20-plain"][1]


# ---------------------------------------------------------------------------------------------
# URL round-trip
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_query_round_trip_every_preset(name):
    spec = PRESETS[name][1]
    q = spec.to_query()
    assert NetSpec.from_query(q) == spec
    assert NetSpec.from_query("?" + q) == spec
    assert len(q) < 200, q  # compact enough to share (ResNet-1202 included)


@given(valid_specs(max_stages=4, max_blocks_per_stage=4, max_width=MAX_WIDTH)
       | valid_transformer_specs(max_depth=6, max_width=MAX_WIDTH))
def test_query_round_trip_random_specs(spec):
    q = spec.to_query()
    back = NetSpec.from_query(q)
    assert back == spec
    assert back.to_query() == q
    assert NetSpec.from_query(spec.to_params()) == spec  # the dict form


def test_stage_encoding_is_compact_and_readable():
    assert encode_stages(cifar_resnet(20).stages) == "b16*3~b32/2,b32*2~b64/2,b64*2"
    assert encode_stages(((BlockSpec("basic", 8, skip=False, shortcut="B"),
                           BlockSpec("basic", 8, skip=False)),)) == "b8:B!,b8!"
    assert decode_stages("k16/2:C*2")[0] == (BlockSpec("bottleneck", 16, 2, True, "C"),) * 2


@given(any_valid_specs(), st.dictionaries(st.sampled_from(sorted(NON_SPEC_KEYS)),
                                      st.text(max_size=10), max_size=4))
def test_non_spec_keys_are_ignored(spec, extra):
    from urllib.parse import urlencode

    q = spec.to_query() + ("&" + urlencode(extra) if extra else "")
    assert NetSpec.from_query(q, ignore=NON_SPEC_KEYS) == spec
    d = dict(spec.to_params())
    d.update(extra)
    assert NetSpec.from_query(d, ignore=NON_SPEC_KEYS) == spec


def test_page_keys_are_refused_unless_ignored():
    # spec/ knows nothing about pages: by default every key must be the spec's.
    with pytest.raises(SpecError, match="unknown key"):
        NetSpec.from_query("net=b16&seed=1")
    assert NetSpec.from_query("net=b16&seed=1", ignore={"seed"}) == NetSpec.from_query("net=b16")


HOSTILE = [
    "", "?", "&&&", "=", "==", "net", "net=", "bogus=1", "fam=cnn&bogus=1&net=b16",
    "net=b16&net=b16", "act=relu&act=tanh&net=b16", "net=q16", "net=b16,,b16", "net=b16~",
    "net=~b16", "net=b16;b16", "net=b16*99999", f"net=b16*{MAX_BLOCKS + 1}", "net=b16*0",
    "net=b16*3~b16*998", "net=b99999", "net=b0", "net=b16/0", "net=b16/3", "net=b16/99",
    "net=b16:D", "net=b16!!", "net=p16:A*2*2", "net=b" + "9" * 50,
    "net=" + ",".join(["b16"] * 2000), "net=" + "b16," * 1200 + "b16",
    "<script>alert(1)</script>", "net=<script>alert(1)</script>",
    "net=b16&act=<script>", "%3Cscript%3E=1", "net=b16&fam=rnn", "net=b16&fam=mlp",
    "net=b16&act=relu%00", "net=b16%00", "net=b16&act=r\u00e9lu", "net=b16\u00e9",
    "n\u00e9t=b16", "net=\U0001F600", "net=b16&cls=\U0001F600", "net=%FF%FE",
    "net=b16&ins=99999999999", "net=b16&ins=3", "net=b16&ins=1e3", "net=b16&ins=-0x10",
    "net=b16&cls=1", "net=b16&stem=0", "net=b16&inc=17", "net=b16&inf=0",
    "net=b16&alpha=nan", "net=b16&alpha=inf", "net=b16&alpha=-1", "net=b16&alpha=1e999",
    "net=b16&alpha=11", "net=b16&alpha=", "net=b16&alpha=0x10", "net=b16&zil=maybe",
    "net=b16&zil=", "net=b16&norm=layer", "net=b16&init=orthogonal", "net=b16&stem=64",
    "a=1&" * 100 + "net=b16", "net=b16&" + "seed=1&" * 100,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_raise_spec_error(query):
    with pytest.raises(SpecError) as info:
        NetSpec.from_query(query)
    # The error names what is wrong: a key of the query, a block field, or the query as a whole.
    field = info.value.field
    assert (field in ("net", "query") or field.startswith("stage1.block0.")
            or field in unquote_plus(query, errors="replace")), field
    assert len(field) <= 30
    assert len(str(info.value)) < 400  # a message, not an echo of the whole input


def test_unknown_key_error_is_bounded():
    with pytest.raises(SpecError) as info:
        NetSpec.from_query("x" * 5000 + "=1&net=b16")
    assert len(str(info.value)) < 400


def test_hostile_field_names():
    def field(q):
        with pytest.raises(SpecError) as info:
            NetSpec.from_query(q)
        return info.value.field

    assert field("bogus=1&net=b16") == "bogus"
    assert field("net=b16&net=b16") == "net"
    assert field("net=q16") == "net"
    assert field("net=b16*99999") == "net"
    assert field("") == "net"
    assert field("net=b16&act=foo") == "act"
    assert field("net=b16&alpha=nan") == "alpha"
    assert field("net=b0") == "stage1.block0.width"


def test_from_query_dict_form_and_bad_values():
    assert NetSpec.from_query({"net": "b16*3~b32/2,b32*2~b64/2,b64*2"}) == cifar_resnet(20)
    assert NetSpec.from_query({"net": ["b16"], "seed": ["1", "2"]}, ignore=NON_SPEC_KEYS) == NetSpec(
        stages=((BlockSpec("basic", 16),),))
    for bad in ({"net": []}, {"net": ["b16", "b16"]}, {"x": "1", "net": "b16"}, {"net": 5}):
        with pytest.raises(SpecError):
            NetSpec.from_query(bad)


_QUERY_ALPHABET = st.sampled_from(list("pbrk0123456789/:!*,~&=?%ABCDXfamnetclsinzlphg._-+ ")
                                  + ["\u00e9", "\u0661", "\x00", "\n"])


@given(st.text(_QUERY_ALPHABET, max_size=60) | st.text(max_size=60))
def test_from_query_never_raises_anything_but_spec_error(q):
    try:
        spec = NetSpec.from_query(q)
    except SpecError:
        return
    assert NetSpec.from_query(spec.to_query()) == spec  # whatever parses is a buildable spec


@given(st.sampled_from(["net", "act", "fam", "ins", "alpha", "zil", "cls"]),
       st.text(max_size=30))
def test_any_value_of_a_known_key_gives_a_spec_or_spec_error(key, value):
    params = {"net": "b16", key: value}
    try:
        spec = NetSpec.from_query(params)
    except SpecError:
        return
    assert NetSpec.from_query(spec.to_query()) == spec


def test_unicode_digits_are_rejected():
    # Regression: \d matched any Unicode digit, so Arabic-Indic or fullwidth "16" decoded as 16.
    for q in ("fam=mlp&stem=16&net=b\u0661\u0666", "fam=mlp&stem=16&net=b\uff11\uff16",
              "net=b16&inf=\u0661\u0666", "net=b16*\u0663"):
        with pytest.raises(SpecError):
            NetSpec.from_query(q)


# ---------------------------------------------------------------------------------------------
# Cost estimate and budget
# ---------------------------------------------------------------------------------------------
def _n_params(spec) -> int:
    return sum(p.numel() for p in build_model(spec).parameters())


@pytest.mark.parametrize("name", sorted(n for n in PRESETS if not n.endswith("1202")))
def test_estimate_params_equal_real_count_for_presets(name):
    spec = PRESETS[name][1]
    assert estimate_cost(spec).params == _n_params(spec)


@given(valid_specs(max_stages=3, max_blocks_per_stage=3, max_width=12) | valid_transformer_specs())
def test_estimate_params_equal_real_count_for_random_specs(spec):
    assert estimate_cost(spec).params == _n_params(spec)  # FLOPs: tests/unit/test_cost.py


def test_estimate_cost_orders_of_magnitude():
    # He et al. 2015, table 6: ResNet-20 0.27M, ResNet-110 1.7M, ResNet-1202 19.4M parameters.
    assert 0.26e6 < estimate_cost(preset("resnet20")).params < 0.28e6
    assert 1.6e6 < estimate_cost(preset("resnet110")).params < 1.8e6
    assert 19e6 < estimate_cost(preset("resnet1202")).params < 20e6
    # Option A shortcuts have no parameters: the plain twin has the same count.
    assert estimate_cost(preset("plain56")).params == estimate_cost(preset("resnet56")).params
    assert estimate_cost(preset("resnet56")).flops > estimate_cost(preset("resnet20")).flops


def test_check_budget():
    spec = preset("resnet20")
    cost = check_budget(spec, batch=8, max_memory_bytes=2**30)
    assert cost == estimate_cost(spec) and cost.params == _n_params(spec)
    # The limits are inclusive: exactly at the limit passes, one over is refused.
    check_budget(spec, batch=8, max_memory_bytes=cost.memory_bytes(8), max_params=cost.params)
    for kw in ({"max_memory_bytes": cost.memory_bytes(8) - 1},
               {"max_memory_bytes": 2**40, "max_params": cost.params - 1}):
        with pytest.raises(SpecError, match="exceed"):
            check_budget(spec, batch=8, **kw)
    with pytest.raises(SpecError) as info:
        check_budget(spec, batch=8, max_memory_bytes=2**40, max_params=1000)
    assert info.value.field == "budget"
    with pytest.raises(SpecError) as info:
        check_budget(spec, batch=4096, max_memory_bytes=2**20)
    assert info.value.field == "budget"
    # The budget is checked from the spec alone: a 1000-block, 1024-wide net is refused
    # without allocating anything.
    huge = NetSpec(stages=((BlockSpec("basic", MAX_WIDTH),) * MAX_BLOCKS,), stem_width=MAX_WIDTH)
    with pytest.raises(SpecError) as info:
        check_budget(huge, batch=1, max_memory_bytes=2**40)
    assert info.value.field == "budget"


def test_a_query_string_is_parsed_once_and_its_spec_shared():
    """A spec is frozen, so NetSpec.from_query of the same string returns the one parsed spec;
    a dict query and an invalid string behave as before (parsed / raised every time)."""
    import pytest

    from resnet_explain.spec import SpecError, cifar_resnet

    spec = cifar_resnet(20, skip=True)
    q = spec.to_query()
    a, b = NetSpec.from_query(q), NetSpec.from_query(q)
    assert a is b and a == spec
    assert NetSpec.from_query(dict(p.split("=", 1) for p in q.split("&"))) == a
    for _ in range(2):
        with pytest.raises(SpecError):
            NetSpec.from_query("nonsense=1")
