"""Architecture diagram as a Graphviz DOT string (rendered by st.graphviz_chart in the browser).

The main path is solid and dark; skip paths are dashed, blue and end at an explicit join node, so a
plain and a residual network look different exactly where they are different. The join says how
the shortcut S and the branch F meet: "+" (added), "½·S + ½·F" (constant scaling), "(1−g)·S + g·F"
(a gate, the Highway form), "(1−g)·S + F" (a gate on the shortcut only), "concat" (a dense block);
a dropout shortcut says so on its dashed edge. Runs of identical consecutive blocks are drawn once
with "x N" so ResNet-110 stays readable.
"""

from __future__ import annotations

from ..spec import BLOCK_KINDS, NetSpec, SpecError, parse_block_name

_SKIP = 'color="#1f77b4", style=dashed, penwidth=2'
_JOIN_FILL = "#1f77b4"  # the skip's colour: the join is where the skip path ends
_MAIN = 'color="#333333", penwidth=1.6'
# The picked block (a click in a chart, the builder's block picker): a thick near-black frame, bold,
# with a marker. Not red or blue, which say plain and residual; its fill still says which it is.
HIGHLIGHT = 'penwidth=4, color="#111111", fontname="Helvetica-Bold"'
HIGHLIGHT_MARK = "  ◀"


def skip_label(text: str) -> str:
    """A skip edge's label as DOT text: left-justified (``\\l``) after two spaces of padding.
    Graphviz sizes the label with its own font metrics; the browser draws it with another font.
    Centred text that comes out wider spreads left over the dashed edge, and its first letter is
    hidden ("dentity"); left-justified text starts clear of the edge and grows to the right."""
    return f"  {text}\\l"


def join_label(kind: str, combine: str) -> str:
    """The text of a block's join node: "+" for an add, else the formula (or "concat"): the kind's
    or its combine's ``join_label`` in the registry."""
    return BLOCK_KINDS[kind].join_text(combine)


def _join_node(nid: str, text: str) -> str:
    if text == "+":
        return (f'    {nid} [label="+", shape=circle, width=0.3, fixedsize=true, '
                f'fillcolor="{_JOIN_FILL}", fontcolor=white];')
    # A box sized to its text, with a space of padding on each side: the browser's font may draw
    # it a little wider than Graphviz measured it.
    return (f'    {nid} [label="  {text}  ", shape=box, style="rounded,filled", height=0.26, margin="0.06,0.02", '
            f'fontsize=10, fillcolor="{_JOIN_FILL}", fontcolor=white];')


def _tf_join(spec: NetSpec) -> str:
    """A Transformer sublayer's join: "+", then post-LN's norm; DeepNorm weights the stream by α;
    ReZero the branch by its α (Wang et al. 2022; Bachlechner et al. 2020)."""
    f = "α·F" if spec.res_scale == 0.0 else "F"
    text = f"α·x + {f}" if spec.deepnorm else f"x + {f}"
    if spec.norm == "post":
        return f"LN({text})"
    return "+" if text == "x + F" else text


def _runs(spec: NetSpec, collapse: bool):
    """(first block name, BlockSpec, input width, count, stage number, first j, last j): runs of
    identical consecutive blocks of a stage (or every block alone when not ``collapse``)."""
    out = []
    for (name, b), c_in in zip(spec.named_blocks(), spec.in_widths()):
        i, j = parse_block_name(name)
        last = out[-1] if out else None
        if collapse and last and last[4] == i + 1 and last[1] == b and last[2] == c_in:
            out[-1] = (*last[:3], last[3] + 1, last[4], last[5], j)
        else:
            out.append((name, b, c_in, 1, i + 1, j, j))
    return out


def _highlighted(highlight: str | None) -> tuple[int, int] | None:
    """(stage number, block index) of ``highlight``; None when there is none or it is no name."""
    if not highlight:
        return None
    try:
        i, j = parse_block_name(highlight)
    except SpecError:
        return None
    return i + 1, j


def to_dot(spec: NetSpec, collapse: bool = True, highlight: str | None = None) -> str:
    """The network as DOT. ``highlight`` (a block name such as ``stage2.block1``) draws that block,
    or the collapsed run that holds it, with HIGHLIGHT."""
    cnn, tf = spec.family == "cnn", spec.family == "transformer"
    picked = _highlighted(highlight)
    lines = ["digraph G {", "  rankdir=TB; nodesep=0.25; ranksep=0.22;",
             '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica",'
             ' fontsize=11, height=0.3];', '  edge [arrowsize=0.6];']
    shape = f"{spec.in_channels}×{spec.in_size}×{spec.in_size}" if cnn else f"{spec.in_features}"
    stem_text = f"stem: {'3×3 conv' if cnn else 'linear'} {spec.stem_width}, {spec.norm} norm, {spec.act}"
    if tf:
        shape, stem_text = f"{spec.context} tokens", f"embed: token + position → {spec.width}"
    lines.append(f'  input [label="input {shape}", shape=plaintext, fillcolor=white];')
    lines.append(f'  stem [label="{stem_text}"];')
    lines.append(f"  input -> stem [{_MAIN}];")
    prev = "stem"
    current_stage = None
    for idx, (name, b, c_in, count, stage, j, k) in enumerate(_runs(spec, collapse)):
        if stage != current_stage:
            if current_stage is not None:
                lines.append("  }")
            lines.append(f'  subgraph cluster_stage{stage} {{ label="{f"layer{stage - 1}" if tf else f"stage{stage}"}"; fontname="Helvetica";'
                         ' fontsize=11; color="#bbbbbb"; style=rounded;')
            current_stage = stage
        nid = f"b{idx}"
        span = f"block{j}" if j == k else f"block{j}–{k}"
        what = f"{b.kind} {b.width}" + (f" (+{b.width - c_in} new)" if b.concatenates else "")
        label = f"{span}: {what}" + (f", stride {b.stride}" if b.stride != 1 else "")
        if tf:  # a Transformer's sublayer: its name and where its LayerNorm is
            label = f"{'LN → ' if spec.norm == 'pre' else ''}{b.kind} {b.width}"
            label += " → LN" if spec.norm == "post" and not b.skip else ""
        if count > 1:
            label += f"  × {count}"
        if not b.skip:
            label += "  (no skip)"
        fill = "#fde0dd" if not b.skip else "#deebf7"
        if picked is not None and picked[0] == stage and j <= picked[1] <= k:
            label += HIGHLIGHT_MARK
            pen = f", {HIGHLIGHT}"
        else:
            pen = ""
        lines.append(f'    {nid} [label="{label}", fillcolor="{fill}"{pen}];')
        lines.append(f"    {prev} -> {nid} [{_MAIN}];")
        if b.skip:
            add = f"add{idx}"
            lines.append(_join_node(add, _tf_join(spec) if tf else join_label(b.kind, b.combine)))
            lines.append(f"    {nid} -> {add} [{_MAIN}];")
            sc = BLOCK_KINDS[b.kind].skip_text(b, c_in)
            lines.append(f'    {prev} -> {add} [{_SKIP}, label="{skip_label(sc)}", fontcolor="#1f77b4", '
                         f'fontsize=9, constraint=false];')
            prev = add
        else:
            prev = nid
    if current_stage is not None:
        lines.append("  }")
    head = f'head: {"global avg pool, " if cnn else ""}linear → {spec.classes}'
    if tf:
        head = f"{'final LN, ' if spec.norm == 'pre' else ''}unembed → {spec.vocab} logits"
    lines.append(f'  head [label="{head}"];')
    lines.append(f"  {prev} -> head [{_MAIN}];")
    lines.append("}")
    return "\n".join(lines)
