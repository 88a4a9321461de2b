"""Network Builder: edit the NetSpec block by block (each edit a NetSpec method); diagram, cost."""

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.charts.diagram import to_dot
from resnet_explain.model.blocks import Block
from resnet_explain.spec import (ACTIVATIONS, BLOCK_KINDS, FAMILIES, INITS, KIND_LABELS, NORMS, PRESETS,
                                 SHORTCUT_LABELS, SHORTCUTS, BlockSpec, NetSpec, parse_block_name)
from resnet_explain.spec.netspec import SHORTCUT_SHORT, describe_block

settings = ui.settings()
spec = ui.current_spec()

st.title("Network Builder")
st.caption("Every change here is kept in the page's URL: copy it to share this exact network. "
           "Then measure it in **Gradient Flow**, or train it and its twin in **Train Your Network**.")

with st.container(border=True):
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox("Start from a preset", list(PRESETS), index=None, placeholder="choose a preset…",
                        format_func=lambda n: f"{n} — {PRESETS[n][0]}")
    if c2.button("Load preset", disabled=name is None, width="stretch"):
        ui.apply_edit(lambda: PRESETS[name][1], "preset")
    if c3.button("Start from scratch", width="stretch", help="One stage with one basic block."):
        ui.apply_edit(lambda: NetSpec(family=spec.family, stages=((BlockSpec(width=spec.stem_width),),),
                              act=spec.act, norm=spec.norm, stem_width=spec.stem_width), "preset")
    ui.edit_error("preset")

left, right = st.columns([7, 4], gap="large")
version = ui.editor_version()
with left:
    st.subheader("Whole network")
    g = st.columns(4)
    changes = {
        "family": g[0].selectbox("Family", FAMILIES, index=FAMILIES.index(spec.family),
                                 help="cnn: CIFAR-style ResNet (He et al. 2015). mlp: fully connected."),
        "act": g[1].selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index(spec.act)),
        "norm": g[2].selectbox("Normalisation", NORMS, index=NORMS.index(spec.norm)),
        "init": g[3].selectbox("Initialisation", INITS, index=INITS.index(spec.init),
                               help="default = PyTorch's own (kaiming uniform, a=√5); kaiming = He et "
                                    "al. 2015b; xavier = Glorot & Bengio 2010"),
    }
    h = st.columns(3)
    changes["zero_init_last"] = h[0].toggle("Zero-init F(x)", value=spec.zero_init_last,
                                            help="The last layer of each residual branch starts at 0, so "
                                                 "each block starts as the identity (Goyal et al. 2017, "
                                                 "arXiv 1706.02677).")
    changes["res_scale"] = float(h[1].number_input(
        "Residual scale α (init)", 0.0, 10.0, float(spec.res_scale), 0.1,
        help="SkipInit / ReZero (De & Smith 2020, arXiv 2002.10444): the branch times a learnable α "
             "that starts here. 1 = no scale."))
    changes["classes"] = int(h[2].number_input("Classes", 2, 1000, spec.classes))
    if any(getattr(spec, k) != v for k, v in changes.items()):
        ui.apply_edit(lambda: spec.with_globals(**changes), "globals")
    ui.edit_error("globals")

    st.subheader("Blocks")
    b = st.columns([1, 1, 1])
    if b[0].button("All skips on", icon=":material/call_merge:", width="stretch"):
        ui.apply_edit(lambda: spec.with_skips(True), "blocks")
    if b[1].button("All skips off", icon=":material/arrow_downward:", width="stretch"):
        ui.apply_edit(lambda: spec.with_skips(False), "blocks")
    b[2].metric("Depth", spec.depth, help="Weighted layers on the longest path (He et al.'s count).")
    bulk = st.columns([2, 2, 1], vertical_alignment="bottom")
    bulk_kind = bulk[0].selectbox("Set the kind of", BLOCK_KINDS, key="bulk_kind",
                                  format_func=lambda k: KIND_LABELS[k].split(":")[0])
    scope = bulk[1].selectbox("in", ["every block"] + [f"stage {i}" for i in range(1, len(spec.stages) + 1)],
                              key="bulk_scope")
    if bulk[2].button("Apply", key="bulk_apply", width="stretch"):
        stage = None if scope == "every block" else int(scope.split()[1])
        ui.apply_edit(lambda: spec.set_blocks(stage, kind=bulk_kind), "blocks")

    df = pd.DataFrame(spec.to_rows()).set_index("block")
    edited = st.data_editor(
        df, key=f"blocks_editor_{version}", num_rows="dynamic", width="stretch",
        height=min(420, 38 + 35 * (len(df) + 1)),
        column_config={
            "_index": st.column_config.TextColumn("block", disabled=True, width=100),
            "stage": st.column_config.NumberColumn("stage", min_value=1, max_value=8, step=1, width=64,
                                                   help="Change it to move a block to another stage."),
            "kind": st.column_config.SelectboxColumn("kind", options=BLOCK_KINDS, required=True, width=82,
                                                     help="; ".join(KIND_LABELS.values())),
            "width": st.column_config.NumberColumn("width", min_value=1, max_value=1024, step=1, width=64),
            "stride": st.column_config.SelectboxColumn("stride", options=[1, 2], required=True, width=64),
            "skip": st.column_config.CheckboxColumn("skip", width=52, help="Off: plain block, no shortcut."),
            "shortcut": st.column_config.SelectboxColumn("shortcut", options=SHORTCUTS, width=86,
                                                         help="; ".join(SHORTCUT_LABELS.values())),
        })
    if not edited.reset_index(drop=True).equals(df.reset_index(drop=True)):
        ui.apply_edit(lambda: spec.from_rows(edited.to_dict("records")), "blocks")
    ui.edit_error("blocks")

    names = [n for n, _ in spec.named_blocks()]
    sel = st.selectbox("Block", names, key="builder_block", help="Pick a block to edit, move or inspect.")
    a = st.columns(4)
    if a[0].button("Duplicate", icon=":material/content_copy:", width="stretch"):
        ui.apply_edit(lambda: spec.duplicate_block(sel), "block")
    if a[1].button("Remove", icon=":material/delete:", width="stretch", disabled=spec.n_blocks == 1):
        ui.apply_edit(lambda: spec.remove_block(sel), "block")
    pos = parse_block_name(sel)
    if a[2].button("Up", icon=":material/arrow_upward:", width="stretch", disabled=pos[1] == 0,
                   help="Move the block one place up in its stage."):
        ui.apply_edit(lambda: spec.move_block(sel, -1), "block")
    if a[3].button("Down", icon=":material/arrow_downward:", width="stretch", help="Move the block one place down.",
                   disabled=pos[1] == len(spec.stages[pos[0]]) - 1):
        ui.apply_edit(lambda: spec.move_block(sel, 1), "block")
    blk = spec.block(sel)
    e = st.columns(3)
    new = {"kind": e[0].selectbox("Kind of this block", BLOCK_KINDS, BLOCK_KINDS.index(blk.kind),
                                  key=f"kind_{sel}_{version}"),
           "skip": e[1].toggle("Skip on this block", blk.skip, key=f"skip_{sel}_{version}"),
           "shortcut": e[2].selectbox("Shortcut", SHORTCUTS, SHORTCUTS.index(blk.shortcut),
                                      key=f"sc_{sel}_{version}", format_func=SHORTCUT_SHORT.get,
                                      help="; ".join(SHORTCUT_LABELS.values()))}
    if any(getattr(blk, k) != v for k, v in new.items()):
        ui.apply_edit(lambda: spec.set_block(sel, **new), "block")
    ui.edit_error("block")

    with st.expander("Edit a whole stage (width, number of blocks)"):
        s = st.columns(4, vertical_alignment="bottom")
        stage_no = s[0].selectbox("Stage", list(range(1, len(spec.stages) + 1)))
        cur = spec.stages[stage_no - 1]
        width = s[1].number_input("Width", 1, 1024, value=cur[0].width, key=f"stage_w_{stage_no}")
        count = s[2].number_input("Blocks", 1, 400, value=len(cur), key=f"stage_n_{stage_no}")
        if s[3].button("Apply to stage", width="stretch"):
            ui.apply_edit(lambda: spec.set_stage(stage_no, width=int(width), count=int(count)), "stage")
        if st.button("Add a stage (double width, stride 2)"):
            ui.apply_edit(spec.add_stage, "stage")
        if st.button("Remove last stage", disabled=len(spec.stages) == 1):
            ui.apply_edit(spec.remove_stage, "stage")
        ui.edit_error("stage")

with right:
    ui.cost_metrics(spec, ui.PROBE_BATCH, ui.MAX_PROBE_MEMORY)
    st.caption(spec.summary())
    collapse = st.toggle("Collapse runs of identical blocks", value=spec.n_blocks > 12)
    st.graphviz_chart(to_dot(spec, collapse=collapse, highlight=sel), width="stretch")

    c_in = spec.in_width(sel)
    st.subheader(sel)
    st.markdown(describe_block(blk.kind, blk.skip))
    if blk.skip and blk.changes_shape(c_in):
        st.info(f"Here the shape changes ({c_in} → {blk.width} channels"
                + (f", stride {blk.stride}" if blk.stride != 1 else "")
                + "), so `x` and `F(x)` cannot be added as they are: an identity shortcut is "
                  f"impossible. This block uses **{SHORTCUT_LABELS[blk.shortcut]}**.")
    with st.expander("This block as PyTorch prints it"):
        st.code(repr(Block(blk, spec.family, spec.act, spec.norm, c_in, spec.res_scale)), language="text")
    ui.show_code(Block.forward, "Show the code: Block.forward (the real source)")
