"""NetSpec edits (the builder's operations) and the skip switch: one block kind, every twin differs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_explain.spec import BlockSpec, NetSpec, SpecError, cifar_resnet, parse_block_name

try:
    from tests.unit.test_spec import valid_specs
except ImportError:  # pragma: no cover
    from test_spec import valid_specs


def test_old_plain_token_reads_as_a_basic_block_without_skip():
    """Links from before plain became a switch: p16 is b16! (issue: the twin of a p-network
    used to be the same network, labelled "residual")."""
    old = NetSpec.from_query("fam=cnn&net=p16*3~p32/2,p32*2")
    assert old == NetSpec.from_query("fam=cnn&net=b16!*3~b32/2!,b32!*2")
    assert old.n_skips == 0
    assert "p" not in old.to_params()["net"]
    twin = old.twin()
    assert twin.n_skips == old.n_blocks and twin != old


@given(valid_specs())
def test_every_valid_network_has_a_twin_that_differs_in_its_skips(spec):
    twin = spec.twin()
    assert [b.skip for b in twin.blocks] != [b.skip for b in spec.blocks]
    assert twin.any_skip != spec.any_skip
    # Only skips (and, where zero-padding cannot shrink, the shortcut kind) change.
    for a, b in zip(spec.blocks, twin.blocks):
        assert (a.kind, a.width, a.stride) == (b.kind, b.width, b.stride)


def test_with_skips_on_uses_a_projection_where_padding_would_shrink():
    spec = NetSpec(stages=((BlockSpec("basic", 4, skip=False, shortcut="A"),),), stem_width=8)
    on = spec.with_skips(True)
    assert on.blocks[0].skip and on.blocks[0].shortcut == "B"


def test_block_names_parse_and_round_trip():
    spec = cifar_resnet(20)
    names = [n for n, _ in spec.named_blocks()]
    assert names[0] == "stage1.block0" and names[-1] == "stage3.block2"
    for n in names:
        assert spec.block(n) is spec.stages[parse_block_name(n)[0]][parse_block_name(n)[1]]
    for bad in ("stage0.block0", "block0", "stage1.blockx", "stage1.block0 ", ""):
        with pytest.raises(SpecError):
            parse_block_name(bad)
    with pytest.raises(SpecError):
        spec.block("stage4.block0")


def test_set_block_changes_one_block_only():
    spec = cifar_resnet(20)
    new = spec.set_block("stage2.block1", kind="preact", skip=False)
    assert new.block("stage2.block1") == BlockSpec("preact", 32, 1, False, "A")
    assert [b for n, b in new.named_blocks() if n != "stage2.block1"] == \
        [b for n, b in spec.named_blocks() if n != "stage2.block1"]


def test_set_blocks_edits_a_stage_or_the_whole_network_at_once():
    spec = cifar_resnet(20)
    s2 = spec.set_blocks(2, kind="bottleneck")
    assert [b.kind for b in s2.stages[1]] == ["bottleneck"] * 3
    assert all(b.kind == "basic" for b in s2.stages[0] + s2.stages[2])
    assert all(b.kind == "preact" for b in spec.set_blocks(kind="preact").blocks)
    with pytest.raises(SpecError):
        spec.set_blocks(4, kind="basic")


def test_duplicate_remove_move():
    spec = cifar_resnet(20)
    dup = spec.duplicate_block("stage2.block0")
    assert len(dup.stages[1]) == 4 and dup.block("stage2.block1").stride == 1
    assert dup.block("stage2.block0").stride == 2
    gone = spec.remove_block("stage1.block0")
    assert len(gone.stages[0]) == 2
    moved = spec.set_block("stage1.block0", kind="preact").move_block("stage1.block0", 1)
    assert [b.kind for b in moved.stages[0]] == ["basic", "preact", "basic"]
    assert spec.move_block("stage1.block0", -5) == spec  # clamped
    one = NetSpec(stages=((BlockSpec("basic", 16),),))
    with pytest.raises(SpecError):
        one.remove_block("stage1.block0")


def test_removing_the_last_block_of_a_stage_removes_the_stage():
    spec = NetSpec(stages=((BlockSpec("basic", 16),), (BlockSpec("basic", 32, 2),)))
    assert len(spec.remove_block("stage2.block0").stages) == 1


def test_set_stage_width_and_count():
    spec = cifar_resnet(20)
    s = spec.set_stage(1, width=24, count=5)
    assert [b.width for b in s.stages[0]] == [24] * 5
    assert [b.stride for b in s.stages[0]] == [1] * 5
    assert len(spec.set_stage(3, count=1).stages[2]) == 1
    with pytest.raises(SpecError):
        spec.set_stage(1, count=0)
    with pytest.raises(SpecError):  # option A cannot shrink 16 -> 8 where the next stage starts
        spec.set_stage(2, width=8)


def test_add_and_remove_stage():
    spec = cifar_resnet(20)
    more = spec.add_stage()
    assert len(more.stages) == 4 and more.stages[3][0].width == 128 and more.stages[3][0].stride == 2
    assert more.remove_stage() == spec
    with pytest.raises(SpecError):
        NetSpec(stages=((BlockSpec("basic", 16),),)).remove_stage()


def test_with_globals_switching_to_mlp_drops_strides():
    spec = cifar_resnet(20)
    m = spec.with_globals(family="mlp", norm="none")
    assert m.family == "mlp" and all(b.stride == 1 for b in m.blocks)


@given(valid_specs(), st.data())
def test_edits_keep_specs_valid_or_raise_spec_error(spec, data):
    names = [n for n, _ in spec.named_blocks()]
    name = data.draw(st.sampled_from(names))
    for edit in (lambda s: s.duplicate_block(name), lambda s: s.move_block(name, 1),
                 lambda s: s.set_block(name, skip=not s.block(name).skip),
                 lambda s: s.set_stage(1, count=2)):
        try:
            new = edit(spec)
        except SpecError:
            continue
        assert NetSpec.from_query(new.to_query()) == new


def test_rows_round_trip_and_missing_values_come_from_the_row_above():
    spec = cifar_resnet(20)
    rows = spec.to_rows()
    assert rows[0] == {"block": "stage1.block0", "stage": 1, "kind": "basic", "width": 16,
                       "stride": 1, "skip": True, "shortcut": "A", "combine": "add"}
    assert spec.from_rows(rows) == spec
    added = rows + [{"block": None, "stage": None, "kind": None, "width": float("nan"),
                     "stride": None, "skip": None, "shortcut": None}]
    grown = spec.from_rows(added)
    assert grown.n_blocks == spec.n_blocks + 1 and grown.blocks[-1] == spec.blocks[-1]
    moved = [dict(r, stage=2) if r["block"] == "stage1.block2" else r for r in rows]
    assert [len(s) for s in spec.from_rows(moved).stages] == [2, 4, 3]
    with pytest.raises(SpecError):
        spec.from_rows([])
    with pytest.raises(SpecError):
        spec.from_rows([dict(rows[0], width="wide")])


def test_rows_without_a_combine_column_add_and_an_empty_combine_copies_the_row_above():
    spec = NetSpec.from_query("net=b16@g,b16@s,b16")
    rows = [{k: v for k, v in r.items() if k != "combine"} for r in spec.to_rows()]
    assert [b.combine for b in spec.from_rows(rows).blocks] == ["add", "add", "add"]
    rows = spec.to_rows()
    rows[2]["combine"] = None  # a row just added in the table
    assert [b.combine for b in spec.from_rows(rows).blocks] == ["gate", "scale", "scale"]
