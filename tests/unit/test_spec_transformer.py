"""The Transformer family of NetSpec: its knobs, its rules (clear SpecErrors), names, twin, URL."""

from __future__ import annotations

import pytest

from resnet_explain.spec import PRESETS, BlockSpec, NetSpec, SpecError, parse_block_name, preset
from resnet_explain.spec.transformer import deepnorm_alpha, deepnorm_beta, scaling_of, transformer_spec


def test_knobs_make_the_layout():
    s = transformer_spec(depth=3, width=32, heads=2, context=16, vocab=50, norm="post")
    assert s.family == "transformer" and s.depth == 3 and s.width == 32 and s.n_blocks == 6
    assert (s.heads, s.context, s.vocab, s.norm, s.act) == (2, 16, 50, "post", "gelu")
    assert [n for n, _ in s.named_blocks()] == ["layer0.attn", "layer0.mlp", "layer1.attn",
                                               "layer1.mlp", "layer2.attn", "layer2.mlp"]
    assert s.block("layer2.mlp").kind == "mlp" and parse_block_name("layer2.mlp") == (2, 1)
    assert s.input_shape(5) == (5, 16)
    assert s.in_widths() == [32] * 6


def test_scalings():
    assert scaling_of(transformer_spec(scaling="rezero")) == "rezero"
    assert transformer_spec(scaling="rezero").res_scale == 0.0
    assert transformer_spec(norm="none", scaling="rezero").norm == "none"  # ReZero without norms
    d = transformer_spec(norm="post", scaling="deepnorm")
    assert d.deepnorm and scaling_of(d) == "deepnorm"
    # Wang et al. 2022, table 1, decoder-only: alpha = (2N)^(1/4), beta = (8N)^(-1/4)
    assert deepnorm_alpha(6) == pytest.approx(12 ** 0.25) and deepnorm_alpha(6) == pytest.approx(1.8612097)
    assert deepnorm_beta(6) == pytest.approx(48 ** -0.25) and deepnorm_beta(6) == pytest.approx(0.3799178)


@pytest.mark.parametrize("kw, field", [
    (dict(norm="pre", scaling="deepnorm"), "deepnorm"),
    (dict(norm="none", scaling="deepnorm"), "deepnorm"),
    (dict(heads=3), "heads"),
    (dict(norm="batch"), "norm"),
    (dict(init="kaiming"), "init"),
    (dict(init="fixup"), "init"),
    (dict(scaling="skipinit"), "scaling"),
    (dict(depth=0), "depth"),
    (dict(context=0), "context"),
    (dict(vocab=1), "vocab"),
    (dict(norm="post", scaling="deepnorm", res_scale=0.0), "deepnorm"),
])
def test_invalid_combinations_name_the_field(kw, field):
    with pytest.raises(SpecError) as info:
        transformer_spec(**kw)
    assert info.value.field == field, str(info.value)


def test_structure_and_kinds_are_checked():
    attn, mlp_ = BlockSpec("attn", 8), BlockSpec("mlp", 8)
    with pytest.raises(SpecError, match="attn sublayer then an mlp"):
        NetSpec(family="transformer", norm="pre", act="gelu", stages=((mlp_, attn),))
    with pytest.raises(SpecError, match="residual stream's width"):
        NetSpec(family="transformer", norm="pre", stages=((attn, BlockSpec("mlp", 16)),))
    with pytest.raises(SpecError) as info:  # a CNN block in a Transformer and the reverse
        NetSpec(family="transformer", norm="pre", stages=((BlockSpec("basic", 8), mlp_),))
    with pytest.raises(SpecError) as info:
        NetSpec(stages=((attn,),))
    assert info.value.field == "stage1.block0.kind"
    with pytest.raises(SpecError) as info:
        NetSpec(stages=((BlockSpec("basic", 8),),), stem_width=8, deepnorm=True)
    assert info.value.field == "deepnorm"
    with pytest.raises(SpecError):
        NetSpec(family="transformer", norm="pre", stages=((BlockSpec("attn", 8, combine="gate"), mlp_),))


def test_no_norms_no_skips_is_legal_and_is_a_twin():
    s = transformer_spec(depth=2, width=8, heads=2, norm="none")
    t = s.twin()
    assert t == transformer_spec(depth=2, width=8, heads=2, norm="none", skips=False)
    assert not t.any_skip and t.twin() == s
    assert PRESETS["tf-noskip"][1] == preset("tf-rezero").twin().with_globals(res_scale=1.0)
    # one sublayer's skip alone (per sublayer)
    one = s.set_block("layer1.mlp", skip=False)
    assert [b.skip for b in one.blocks] == [True, True, True, False]
    assert NetSpec.from_query(one.to_query()) == one and "m8!" in one.to_query()


def test_url_round_trip_and_keys():
    s = transformer_spec(depth=2, width=16, heads=4, context=32, vocab=100, norm="post",
                         scaling="deepnorm", init="xavier")
    q = s.to_query()
    assert "fam=transformer" in q and "dn=1" in q and "ctx=32" in q and "vocab=100" in q
    assert "net=a16,m16~a16,m16" in q
    assert NetSpec.from_query(q) == s
    for name in ("tf-preln", "tf-postln", "tf-noskip", "tf-rezero", "tf-deepnorm"):
        spec = preset(name)
        assert (spec.depth, spec.width, spec.heads, spec.context) == (6, 128, 4, 64)
        assert NetSpec.from_query(spec.to_query()) == spec
    # CNN links are unchanged by the new keys (written only where they differ from the defaults)
    assert "heads" not in preset("resnet20").to_query() and "dn" not in preset("resnet20").to_query()
    with pytest.raises(SpecError):
        NetSpec.from_query("fam=transformer&net=a16,m16&norm=pre&heads=x")
