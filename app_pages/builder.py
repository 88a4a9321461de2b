"""Network Builder: edit the NetSpec block by block; see its diagram, size and cost."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from resnet_explain import ui
from resnet_explain.blocks import Block
from resnet_explain.diagram import to_dot
from resnet_explain.spec import (ACTIVATIONS, BLOCK_KINDS, INITS, KIND_LABELS, NORMS, PRESETS,
                                 SHORTCUT_LABELS, SHORTCUTS, BlockSpec, NetSpec, SpecError,
                                 estimate_cost)

settings = ui.settings()
spec = ui.current_spec()

st.title("Network Builder")
st.caption("Every change here is kept in the page's URL: copy it to share this exact network. "
           "Then open **Gradient Flow** to measure it.")


def apply(candidate_fn, where: str):
    """Try an edit; keep it if valid, else remember the error next to the control."""
    try:
        new = candidate_fn()
    except SpecError as exc:
        st.session_state["_builder_error"] = (where, str(exc))
        return
    st.session_state.pop("_builder_error", None)
    ui.set_spec(new)
    st.session_state["_editor_version"] = st.session_state.get("_editor_version", 0) + 1


def error_here(where: str):
    err = st.session_state.get("_builder_error")
    if err and err[0] == where:
        st.error(err[1], icon=":material/error:")


# ---- start from --------------------------------------------------------------------------------
with st.container(border=True):
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox("Start from a preset", list(PRESETS), index=None,
                        placeholder="choose a preset…", format_func=lambda n: f"{n} — {PRESETS[n][0]}")
    if c2.button("Load preset", disabled=name is None, width="stretch"):
        apply(lambda: PRESETS[name][1], "preset")
        st.rerun()
    if c3.button("Start from scratch", width="stretch",
                 help="One stage with one basic block; add from there."):
        apply(lambda: NetSpec(family=spec.family, stages=((BlockSpec(width=spec.stem_width),),),
                              act=spec.act, norm=spec.norm, stem_width=spec.stem_width), "preset")
        st.rerun()
    error_here("preset")

left, right = st.columns([3, 2], gap="large")

# ---- global settings -----------------------------------------------------------------------------
with left:
    st.subheader("Whole network")
    g1, g2, g3, g4 = st.columns(4)
    fam = g1.selectbox("Family", ("cnn", "mlp"), index=("cnn", "mlp").index(spec.family),
                       help="cnn: CIFAR-style ResNet (He et al. 2015). mlp: fully connected, for theory.")
    act = g2.selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index(spec.act))
    norm = g3.selectbox("Normalisation", NORMS, index=NORMS.index(spec.norm))
    init = g4.selectbox("Initialisation", INITS, index=INITS.index(spec.init),
                        help="default = PyTorch's own (kaiming uniform, a=√5); kaiming = He et al. 2015b; "
                             "xavier = Glorot & Bengio 2010")
    h1, h2, h3 = st.columns(3)
    zil = h1.toggle("Zero-init last layer of each branch", value=spec.zero_init_last,
                    help="Each residual branch starts at 0, so every block starts as the identity "
                         "(Goyal et al. 2017, arXiv 1706.02677).")
    alpha = h2.number_input("Residual scale α (init)", min_value=0.0, max_value=10.0,
                            value=float(spec.res_scale), step=0.1,
                            help="SkipInit / ReZero (De & Smith 2020, arXiv 2002.10444): the branch is "
                                 "multiplied by a learnable α that starts here. 1 = no scale.")
    classes = h3.number_input("Classes", min_value=2, max_value=1000, value=spec.classes)
    if (fam, act, norm, init, zil, alpha, classes) != (spec.family, spec.act, spec.norm, spec.init,
                                                       spec.zero_init_last, spec.res_scale, spec.classes):
        def _globals():
            s = spec
            if fam != spec.family:  # switching family: mlp blocks have no stride
                s = replace(s.map_blocks(lambda b: replace(b, stride=1)), family=fam)
            return replace(s, act=act, norm=norm, init=init, zero_init_last=zil,
                           res_scale=float(alpha), classes=int(classes))
        apply(_globals, "globals")
        st.rerun()
    error_here("globals")

    # ---- the blocks table ------------------------------------------------------------------------
    st.subheader("Blocks")
    b1, b2, b3 = st.columns(3)
    if b1.button("All skips on", icon=":material/call_merge:", width="stretch"):
        apply(lambda: spec.with_skips(True), "blocks")
        st.rerun()
    if b2.button("All skips off", icon=":material/arrow_downward:", width="stretch"):
        apply(lambda: spec.with_skips(False), "blocks")
        st.rerun()
    b3.metric("Depth (weighted layers)", spec.depth)

    rows = [{"stage": i, "kind": b.kind, "width": b.width, "stride": b.stride, "skip": b.has_skip,
             "shortcut": b.shortcut}
            for i, stage in enumerate(spec.stages, start=1) for b in stage]
    df = pd.DataFrame(rows, index=[n for n, _ in spec.named_blocks()])
    version = st.session_state.get("_editor_version", 0)
    edited = st.data_editor(
        df, key=f"blocks_editor_{version}", num_rows="dynamic", width="stretch",
        height=min(420, 38 + 35 * (len(df) + 1)),
        column_config={
            "_index": st.column_config.TextColumn("block", disabled=True),
            "stage": st.column_config.NumberColumn("stage", min_value=1, max_value=8, step=1,
                                                   help="Change it to move a block to another stage."),
            "kind": st.column_config.SelectboxColumn("kind", options=BLOCK_KINDS, required=True,
                                                     help="; ".join(KIND_LABELS.values())),
            "width": st.column_config.NumberColumn("width", min_value=1, max_value=1024, step=1),
            "stride": st.column_config.SelectboxColumn("stride", options=[1, 2], required=True),
            "skip": st.column_config.CheckboxColumn("skip"),
            "shortcut": st.column_config.SelectboxColumn("shortcut", options=SHORTCUTS,
                                                         help=" · ".join(f"{k}: {v}" for k, v in
                                                                         SHORTCUT_LABELS.items())),
        },
    )

    def _from_table(t: pd.DataFrame) -> NetSpec:
        t = t.reset_index(drop=True)
        last = rows[-1] if rows else {"stage": 1, "kind": "basic", "width": 16, "stride": 1,
                                      "skip": True, "shortcut": "A"}
        stages: dict[int, list[BlockSpec]] = {}
        for r in t.to_dict("records"):
            r = {k: (last[k] if pd.isna(v) else v) for k, v in r.items()}
            kind = str(r["kind"])
            b = BlockSpec(kind=kind, width=int(r["width"]), stride=int(r["stride"]),
                          skip=bool(r["skip"]) and kind != "plain", shortcut=str(r["shortcut"]))
            stages.setdefault(int(r["stage"]), []).append(b)
        if not stages:
            raise SpecError("stages", "the network needs at least one block")
        return replace(spec, stages=tuple(tuple(stages[k]) for k in sorted(stages)))

    if not edited.reset_index(drop=True).equals(df.reset_index(drop=True)):
        try:
            new = _from_table(edited)
        except SpecError as exc:
            st.error(f"Not applied — {exc}", icon=":material/error:")
        except (ValueError, TypeError) as exc:
            st.error(f"Not applied — could not read the table ({exc})", icon=":material/error:")
        else:
            if new != spec:
                apply(lambda: new, "blocks")
                st.rerun()
    error_here("blocks")

    # ---- one block at a time -------------------------------------------------------------------
    names = [n for n, _ in spec.named_blocks()]
    sel = st.selectbox("Block", names, key="builder_block",
                       help="Pick a block to duplicate, remove, move or inspect.")
    si, bj = int(sel.split(".")[0][5:]) - 1, int(sel.split("block")[1])
    a1, a2, a3, a4 = st.columns(4)

    def _edit_stage(fn):
        stages = [list(s) for s in spec.stages]
        fn(stages)
        return replace(spec, stages=tuple(tuple(s) for s in stages if s))

    if a1.button("Duplicate", icon=":material/content_copy:", width="stretch"):
        apply(lambda: _edit_stage(lambda S: S[si].insert(bj + 1, replace(S[si][bj], stride=1))), "block")
        st.rerun()
    if a2.button("Remove", icon=":material/delete:", width="stretch", disabled=spec.n_blocks == 1):
        apply(lambda: _edit_stage(lambda S: S[si].pop(bj)), "block")
        st.rerun()
    if a3.button("Move up", icon=":material/arrow_upward:", width="stretch", disabled=bj == 0):
        apply(lambda: _edit_stage(lambda S: S[si].insert(bj - 1, S[si].pop(bj))), "block")
        st.rerun()
    if a4.button("Move down", icon=":material/arrow_downward:", width="stretch",
                 disabled=bj == len(spec.stages[si]) - 1):
        apply(lambda: _edit_stage(lambda S: S[si].insert(bj + 1, S[si].pop(bj))), "block")
        st.rerun()
    b_sel = spec.stages[si][bj]
    e1, e2, e3 = st.columns(3)
    kind_sel = e1.selectbox("Kind of this block", BLOCK_KINDS, index=BLOCK_KINDS.index(b_sel.kind),
                            key=f"kind_{sel}_{version}")
    skip_sel = e2.toggle("Skip on this block", value=b_sel.has_skip, key=f"skip_{sel}_{version}",
                         disabled=b_sel.kind == "plain", help="A plain block has no skip.")
    sc_sel = e3.selectbox("Shortcut", SHORTCUTS, index=SHORTCUTS.index(b_sel.shortcut),
                          key=f"sc_{sel}_{version}", format_func=lambda k: SHORTCUT_LABELS[k].split(":")[0]
                          + f" ({k})")
    if (kind_sel, skip_sel, sc_sel) != (b_sel.kind, b_sel.has_skip, b_sel.shortcut):
        # Turning a plain block into another kind switches its skip on (a plain block had none).
        new_b = replace(b_sel, kind=kind_sel, shortcut=sc_sel,
                        skip=(skip_sel or b_sel.kind == "plain") and kind_sel != "plain")
        apply(lambda: _edit_stage(lambda S: S[si].__setitem__(bj, new_b)), "block")
        st.rerun()
    error_here("block")

    # ---- a stage at a time -----------------------------------------------------------------------
    with st.expander("Edit a whole stage (width, number of blocks)"):
        s1, s2, s3, s4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
        stage_no = s1.selectbox("Stage", list(range(1, len(spec.stages) + 1)))
        cur = spec.stages[stage_no - 1]
        width = s2.number_input("Width", 1, 1024, value=cur[0].width, key=f"stage_w_{stage_no}")
        count = s3.number_input("Blocks", 1, 400, value=len(cur), key=f"stage_n_{stage_no}")
        if s4.button("Apply to stage", width="stretch"):
            def _stage():
                blocks = [replace(b, width=int(width)) for b in cur][: int(count)]
                while len(blocks) < int(count):
                    blocks.append(replace(blocks[-1], stride=1))
                stages = list(spec.stages)
                stages[stage_no - 1] = tuple(blocks)
                return replace(spec, stages=tuple(stages))
            apply(_stage, "stage")
            st.rerun()
        a, b = st.columns(2)
        if a.button("Add a stage (double width, stride 2)", width="stretch"):
            last = spec.stages[-1][-1]
            stride = 2 if spec.family == "cnn" else 1
            apply(lambda: replace(spec, stages=spec.stages + ((replace(last, width=min(1024, last.width * 2),
                                                                       stride=stride),),)), "stage")
            st.rerun()
        if a.button("Remove last stage", width="stretch", disabled=len(spec.stages) == 1):
            apply(lambda: replace(spec, stages=spec.stages[:-1]), "stage")
            st.rerun()
        error_here("stage")

# ---- diagram, cost, code ------------------------------------------------------------------------
with right:
    cost = estimate_cost(spec)
    m1, m2, m3 = st.columns(3)
    m1.metric("Parameters", f"{cost.params:,}")
    m2.metric("Forward FLOPs / image", f"{cost.flops / 1e9:.2f} G" if cost.flops >= 1e8
              else f"{cost.flops / 1e6:.1f} M")
    mem = cost.memory_bytes(ui.PROBE_BATCH)
    m3.metric(f"Training memory, batch {ui.PROBE_BATCH}", f"{mem / 2**20:,.0f} MiB",
              help="Estimate before allocation: weights, gradients and momentum, plus the "
                   "activations a backward pass keeps (float32).")
    if mem > ui.MAX_PROBE_MEMORY:
        st.warning(f"Over this server's limit of {ui.MAX_PROBE_MEMORY / 2**20:,.0f} MiB per probe: "
                   "Gradient Flow will refuse it. Use fewer or narrower blocks.")
    st.caption(spec.summary())
    collapse = st.toggle("Collapse runs of identical blocks", value=spec.n_blocks > 12)
    st.graphviz_chart(to_dot(spec, collapse=collapse, highlight=sel), width="stretch")

    b = spec.stages[si][bj]
    width_in = spec.stem_width if (si, bj) == (0, 0) else spec.blocks[names.index(sel) - 1].width
    st.subheader(f"{sel}")
    st.markdown(f"**{KIND_LABELS[b.kind]}.**")
    changes = b.stride != 1 or b.width != width_in
    if b.has_skip and changes:
        st.info(f"Here the shape changes ({width_in} → {b.width} channels"
                + (f", stride {b.stride}" if b.stride != 1 else "")
                + "), so `x` and `F(x)` cannot be added as they are: an identity shortcut is "
                  f"impossible. This block uses **{SHORTCUT_LABELS[b.shortcut]}**.")
    module = Block(b, spec.family, spec.act, spec.norm, width_in, spec.res_scale)
    with st.expander("This block as PyTorch prints it"):
        st.code(repr(module), language="text")
    ui.show_code(Block.forward, "Show the code: Block.forward (the real source)")
