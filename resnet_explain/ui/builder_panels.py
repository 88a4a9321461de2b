"""The Network Builder's panels (app_pages/builder.py): the preset picker, the whole-network
settings, the block table with its bulk edit, and one block's editor.

Every edit is a NetSpec method run through :func:`.url_state.apply_edit`: an accepted edit becomes
the session's network and its URL; a refused one (a SpecError: a ResNeXt width that the
cardinality does not divide, a dense block that does not widen, ...) is shown as a message next
to its control, never as a traceback.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from ..spec import (
    ACTIVATIONS,
    BLOCK_KINDS,
    COMBINES,
    FAMILIES,
    PRESETS,
    SHORTCUT_LABELS,
    SHORTCUT_SHORT,
    SHORTCUTS,
    BlockSpec,
    NetSpec,
)
from ..spec.kinds import kinds_of
from ..spec.limits import FAMILY_INITS, FAMILY_NORMS, MAX_CARDINALITY, MAX_GATE_BIAS, MIN_SURVIVAL
from .url_state import apply_edit, edit_error

KEEP = "keep"  # the bulk edit's "leave this field as each block has it"
INIT_HELP = ("default = PyTorch's own (kaiming uniform, a=√5); kaiming = He et al. 2015b; xavier = Glorot "
             "& Bengio 2010; fixup = Zhang et al. 2019 (arXiv 1901.09321): branches rescaled by "
             "L^(−1/(2m−2)), their last layers and the classifier at 0, a learnable multiplier per "
             "branch (use it with norm = none). Its zero classifier means no gradient reaches the "
             "blocks at step 0.")


def combine_help() -> str:
    return "How the shortcut S(x) joins the branch F(x). " + "; ".join(c.label for c in COMBINES.values())


def _short(combine: str) -> str:
    return COMBINES[combine].short


def gates(spec: NetSpec) -> bool:
    """Whether some block joins its shortcut through a gate (the gate bias then matters)."""
    return any(b.adds_branch and COMBINES[b.combine].gated for b in spec.blocks)


def reads(spec: NetSpec, knob: str) -> bool:
    """Whether some block's kind reads the network field ``knob`` (its control then matters)."""
    return any(knob in BLOCK_KINDS[b.kind].knobs for b in spec.blocks)


def preset_picker(spec: NetSpec) -> None:
    """Load a preset (He et al.'s ResNets and twins, the theory MLPs, the zoo at depth 20), or
    start from one basic block."""
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox("Start from a preset", list(PRESETS), index=None, placeholder="choose a preset…",
                        format_func=lambda n: f"{n} — {PRESETS[n][0]}")
    if c2.button("Load preset", disabled=name is None, width="stretch"):
        apply_edit(lambda: PRESETS[name][1], "preset")
    if c3.button("Start from scratch", width="stretch", help="One stage with one basic block."):
        apply_edit(lambda: NetSpec(family=spec.family, stages=((BlockSpec(width=spec.stem_width),),),
                                   act=spec.act, norm=spec.norm, stem_width=spec.stem_width), "preset")
    edit_error("preset")


def network_settings(spec: NetSpec) -> None:
    """Whole-network fields (family, activation, norm, init, residual scale, stochastic depth, gate
    bias, cardinality) and the width factor."""
    g = st.columns(4)
    changes = {
        "family": g[0].selectbox("Family", FAMILIES, index=FAMILIES.index(spec.family),
                                 help="cnn: CIFAR-style ResNet (He et al. 2015). mlp: fully connected."),
        "act": g[1].selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index(spec.act)),
        "norm": g[2].selectbox("Normalisation", FAMILY_NORMS[spec.family],
                               index=FAMILY_NORMS[spec.family].index(spec.norm)),
        "init": g[3].selectbox("Initialisation", FAMILY_INITS[spec.family],
                               index=FAMILY_INITS[spec.family].index(spec.init), help=INIT_HELP),
    }
    if changes["family"] == "transformer":  # a different layout altogether: start from its preset
        apply_edit(lambda: PRESETS["tf-preln"][1], "globals")
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
    k = st.columns(3)
    changes["survival"] = float(k[0].number_input(
        "Stochastic depth p_L", MIN_SURVIVAL, 1.0, float(spec.survival), 0.05, format="%.2f",
        help="Huang et al. 2016 (arXiv 1603.09382): while training, block l's branch is kept with "
             "probability p_l = 1 − (l/L)(1 − p_L), linearly less often toward the output; they use "
             "p_L = 0.5. 1 = off. Plain and dense blocks are never dropped."))
    if gates(spec):
        changes["gate_bias"] = float(k[1].number_input(
            "Gate bias (init)", -MAX_GATE_BIAS, MAX_GATE_BIAS, float(spec.gate_bias), 0.5,
            help="The starting bias b of every gate g(x) = sigmoid(Wx + b). Negative: g starts small, "
                 "so the block starts close to its shortcut (He et al. 2016 use −6; Srivastava et "
                 "al. 2015 suggest −1 to −3 for highway nets of depth 10 to 30)."))
    if reads(spec, "cardinality"):
        changes["cardinality"] = int(k[2].number_input(
            "ResNeXt cardinality", 1, MAX_CARDINALITY, spec.cardinality,
            help="Groups of each ResNeXt block's 3×3 convolution (Xie et al. 2017, arXiv 1611.05431); "
                 "it must divide every ResNeXt block's inner width (width/2)."))
    if any(getattr(spec, f) != v for f, v in changes.items()):
        apply_edit(lambda: spec.with_globals(**changes), "globals")
    edit_error("globals")
    w = st.columns(3, vertical_alignment="bottom")
    factor = w[0].number_input("Width factor k", 2, 16, 2, key="widen_k",
                               help="Every block k times wider: a Wide ResNet (Zagoruyko & Komodakis "
                                    "2016, arXiv 1605.07146); the stem keeps its width.")
    if w[1].button("Widen every block", key="widen_apply", width="stretch"):
        apply_edit(lambda: spec.widen(int(factor)), "widen")
    edit_error("widen")


def _keep(options):
    return (KEEP,) + tuple(options)


def bulk_edit(spec: NetSpec) -> None:
    """Set the kind and/or the combine of every block, or of one stage's blocks."""
    bulk = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
    kind = bulk[0].selectbox("Set the kind", _keep(kinds_of(spec.family)), key="bulk_kind",
                             format_func=lambda k: "(keep)" if k == KEEP else BLOCK_KINDS[k].label.split(":")[0])
    combine = bulk[1].selectbox("and the combine", _keep(COMBINES), key="bulk_combine", help=combine_help(),
                                format_func=lambda c: "(keep)" if c == KEEP else _short(c))
    scope = bulk[2].selectbox("of", ["every block"] + [f"stage {i}" for i in range(1, len(spec.stages) + 1)],
                              key="bulk_scope")
    changes = {f: v for f, v in (("kind", kind), ("combine", combine)) if v != KEEP}
    if bulk[3].button("Apply", key="bulk_apply", width="stretch", disabled=not changes):
        stage = None if scope == "every block" else int(scope.split()[1])
        apply_edit(lambda: spec.set_blocks(stage, **changes), "blocks")


def block_table(spec: NetSpec, version: int) -> None:
    """Every block as a row (dynamic: add, delete, change stage); read back by NetSpec.from_rows."""
    df = pd.DataFrame(spec.to_rows()).set_index("block")
    edited = st.data_editor(
        df, key=f"blocks_editor_{version}", num_rows="dynamic", width="stretch",
        height=min(420, 38 + 35 * (len(df) + 1)),
        column_config={
            "_index": st.column_config.TextColumn("block", disabled=True, width=96),
            "stage": st.column_config.NumberColumn("stage", min_value=1, max_value=8, step=1, width=62,
                                                   help="Change it to move a block to another stage."),
            "kind": st.column_config.SelectboxColumn("kind", options=kinds_of(spec.family), required=True, width=68,
                                                     help="; ".join(k.label for k in BLOCK_KINDS.values())),
            "width": st.column_config.NumberColumn("width", min_value=1, max_value=1024, step=1, width=64),
            "stride": st.column_config.SelectboxColumn("stride", options=[1, 2], required=True, width=62),
            "skip": st.column_config.CheckboxColumn("skip", width=56, help="Off: plain block, no shortcut."),
            "shortcut": st.column_config.SelectboxColumn("shortcut", options=SHORTCUTS, width=82,
                                                         help="; ".join(SHORTCUT_LABELS.values())),
            "combine": st.column_config.SelectboxColumn("combine", options=list(COMBINES), width=86,
                                                        help=combine_help()),
        })
    if not edited.reset_index(drop=True).equals(df.reset_index(drop=True)):
        apply_edit(lambda: spec.from_rows(edited.to_dict("records")), "blocks")


def block_editor(spec: NetSpec, sel: str, version: int) -> None:
    """Kind, skip, shortcut and combine of the block ``sel``."""
    blk = spec.block(sel)
    e = st.columns(4)
    kinds, combines = kinds_of(spec.family), list(COMBINES)
    new = {"kind": e[0].selectbox("Kind of this block", kinds, kinds.index(blk.kind),
                                  key=f"kind_{sel}_{version}"),
           "skip": e[1].toggle("Skip", blk.skip, key=f"skip_{sel}_{version}",
                               disabled=not BLOCK_KINDS[blk.kind].can_skip,
                             help="On: a residual block. Off: the plain block, no shortcut. A transition "
                                  "(DenseNet's layer between dense blocks) never has one."),
           "shortcut": e[2].selectbox("Shortcut", SHORTCUTS, SHORTCUTS.index(blk.shortcut),
                                      key=f"sc_{sel}_{version}", format_func=SHORTCUT_SHORT.get,
                                      help="; ".join(SHORTCUT_LABELS.values()))}
    fixed = not BLOCK_KINDS[new["kind"]].adds  # nothing added: no combine to choose
    new["combine"] = e[3].selectbox("Combine", combines, combines.index(blk.combine), key=f"comb_{sel}_{version}",
                                    format_func=_short, disabled=fixed,
                                    help=("A dense block concatenates and a transition has no shortcut: "
                                          "neither has another combine. " if fixed else "") + combine_help())
    if fixed:
        new["combine"] = "add"
    if any(getattr(blk, f) != v for f, v in new.items()):
        apply_edit(lambda: spec.set_block(sel, **new), "block")
    edit_error("block")


def block_notes(spec: NetSpec, sel: str) -> None:
    """How the picked block joins its shortcut, its gate bias and its survival probability."""
    blk = spec.block(sel)
    notes = []
    if blk.adds_branch:
        notes.append(f"Combine: **{COMBINES[blk.combine].label}**.")
        if COMBINES[blk.combine].gated:
            notes.append(f"Its gate starts with bias {spec.gate_bias:g}: g ≈ sigmoid({spec.gate_bias:g}) "
                         f"= {1 / (1 + math.exp(-spec.gate_bias)):.3g} for a zero input.")
    if spec.survival < 1.0:
        p = spec.block_survival()[[n for n, _ in spec.named_blocks()].index(sel)]
        notes.append(f"Stochastic depth: kept with probability {p:.3g} while training."
                     if blk.adds_branch else
                     "Stochastic depth: a plain or dense block is never dropped.")
    if notes:
        st.markdown(" ".join(notes))
