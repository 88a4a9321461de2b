"""Network Builder: edit the NetSpec block by block (each edit a NetSpec method); diagram, cost."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.model.blocks import Block
from resnet_explain.spec import SHORTCUT_LABELS, block_label, parse_block_name
from resnet_explain.spec.kinds import describe_block
from resnet_explain.ui import builder_panels as panels
from resnet_explain.ui.transformer_builder import transformer_builder

settings = ui.settings()
spec = ui.current_spec()

st.title("Network Builder")
st.caption("Every change here is kept in the page's URL: copy it to share this exact network. "
           "Then measure it in **Gradient Flow**, or train it and its twin in **Train Your Network**.")

with st.container(border=True):
    panels.preset_picker(spec)
if spec.family == "transformer":  # knobs instead of blocks: its layout is fixed (attn, mlp per layer)
    transformer_builder(spec, ui.PROBE_BATCH, ui.MAX_PROBE_MEMORY)
    st.stop()

left, right = st.columns([5, 2], gap="large")
version = ui.editor_version()
with left:
    st.subheader("Whole network")
    panels.network_settings(spec)

    st.subheader("Blocks")
    b = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    with b[0]:
        panels.depth_control(spec, version)
    b[1].metric("Depth", spec.depth, help="Weighted layers on the longest path (He et al.'s count).")
    if b[2].button("All skips on", icon=":material/call_merge:", width="stretch"):
        ui.apply_edit(lambda: spec.with_skips(True), "blocks")
    if b[3].button("All skips off", icon=":material/arrow_downward:", width="stretch"):
        ui.apply_edit(lambda: spec.with_skips(False), "blocks")
    panels.bulk_edit(spec)
    panels.block_table(spec, version)
    ui.edit_error("blocks")

    names = [n for n, _ in spec.named_blocks()]
    sel = st.selectbox("Block", names, key="builder_block", format_func=block_label,
                       help="Pick a block to edit, move or inspect. Stages and blocks are counted from 1; "
                            "the code names the same block stageS.blockB with B counted from 0.")
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
    panels.block_editor(spec, sel, version)

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
    ui.diagram(spec, collapse=collapse, highlight=sel)

    blk, c_in = spec.block(sel), spec.in_width(sel)
    st.subheader(block_label(sel))
    st.caption(f"In the code, the charts' data and the CLI's --json: `{sel}` (blocks counted from 0 there).")
    st.markdown(describe_block(blk.kind, blk.skip))
    panels.block_notes(spec, sel)
    if blk.adds_branch and blk.changes_shape(c_in):
        st.info(f"Here the shape changes ({c_in} → {blk.width} channels"
                + (f", stride {blk.stride}" if blk.stride != 1 else "")
                + "), so `x` and `F(x)` cannot be added as they are: an identity shortcut is "
                  f"impossible. This block uses **{SHORTCUT_LABELS[blk.shortcut]}**.")
    printed = ui.lazy_expander("This block as PyTorch prints it", "b_printed")
    if printed.open:  # the block is built only then too
        block = Block(blk, spec.family, spec.act, spec.norm, c_in, spec.res_scale, gate_bias=spec.gate_bias,
                      cardinality=spec.cardinality, scalar=spec.init == "fixup",
                      survival=spec.block_survival()[names.index(sel)])
        printed.code(repr(block), language="text")
    ui.show_code(Block.forward, "Show the code: Block.forward (the real source)")
