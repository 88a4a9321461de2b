"""Architecture diagram as a Graphviz DOT string (rendered by st.graphviz_chart in the browser).

The main path is solid and dark; skip paths are dashed, blue and end at an explicit "+" node, so a
plain and a residual network look different exactly where they are different. Runs of identical
consecutive blocks are drawn once with "x N" so ResNet-110 stays readable.
"""

from __future__ import annotations

from .spec import NetSpec

_SKIP = 'color="#1f77b4", style=dashed, penwidth=2'
_MAIN = 'color="#333333", penwidth=1.6'


def _runs(spec: NetSpec):
    """(first block name, BlockSpec, count, stage index) for runs of identical consecutive blocks."""
    out = []
    for i, stage in enumerate(spec.stages, start=1):
        j = 0
        while j < len(stage):
            k = j
            while k + 1 < len(stage) and stage[k + 1] == stage[j]:
                k += 1
            out.append((f"stage{i}.block{j}", stage[j], k - j + 1, i, j, k))
            j = k + 1
    return out


def to_dot(spec: NetSpec, collapse: bool = True, highlight: str | None = None) -> str:
    cnn = spec.family == "cnn"
    lines = ["digraph G {", "  rankdir=TB; nodesep=0.25; ranksep=0.22;",
             '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica",'
             ' fontsize=11, height=0.3];', '  edge [arrowsize=0.6];']
    shape = f"{spec.in_channels}×{spec.in_size}×{spec.in_size}" if cnn else f"{spec.in_features}"
    lines.append(f'  input [label="input {shape}", shape=plaintext, fillcolor=white];')
    stem = "3×3 conv" if cnn else "linear"
    lines.append(f'  stem [label="stem: {stem} {spec.stem_width}, {spec.norm} norm, {spec.act}"];')
    lines.append(f"  input -> stem [{_MAIN}];")
    prev = "stem"
    runs = _runs(spec) if collapse else [
        (n, b, 1, int(n[5:n.index(".")]), int(n.split("block")[1]), int(n.split("block")[1]))
        for n, b in spec.named_blocks()]
    current_stage = None
    for idx, (name, b, count, stage, j, k) in enumerate(runs):
        if stage != current_stage:
            if current_stage is not None:
                lines.append("  }")
            lines.append(f'  subgraph cluster_stage{stage} {{ label="stage{stage}"; fontname="Helvetica";'
                         ' fontsize=11; color="#bbbbbb"; style=rounded;')
            current_stage = stage
        nid = f"b{idx}"
        span = f"block{j}" if j == k else f"block{j}–{k}"
        label = f"{span}: {b.kind} {b.width}" + (f", stride {b.stride}" if b.stride != 1 else "")
        if count > 1:
            label += f"  × {count}"
        if not b.has_skip:
            label += "  (no skip)"
        fill = "#fde0dd" if not b.has_skip else "#deebf7"
        pen = ', penwidth=3, color="#d62728"' if highlight and highlight in (name,) else ""
        lines.append(f'    {nid} [label="{label}", fillcolor="{fill}"{pen}];')
        lines.append(f"    {prev} -> {nid} [{_MAIN}];")
        if b.has_skip:
            add = f"add{idx}"
            lines.append(f'    {add} [label="+", shape=circle, width=0.3, fixedsize=true, '
                         f'fillcolor="#1f77b4", fontcolor=white];')
            lines.append(f"    {nid} -> {add} [{_MAIN}];")
            changes = b.shortcut == "C" or (b.stride != 1 or b.width != _width_before(spec, stage, j))
            if b.shortcut == "C" or (b.shortcut == "B" and changes):
                sc = "1×1 projection"
            elif changes:
                sc = "zero-pad"
            else:
                sc = "identity"
            lines.append(f'    {prev} -> {add} [{_SKIP}, label=" {sc}", fontcolor="#1f77b4", '
                         f'fontsize=9, constraint=false];')
            prev = add
        else:
            prev = nid
    if current_stage is not None:
        lines.append("  }")
    lines.append(f'  head [label="head: {"global avg pool, " if cnn else ""}linear → {spec.classes}"];')
    lines.append(f"  {prev} -> head [{_MAIN}];")
    lines.append("}")
    return "\n".join(lines)


def _width_before(spec: NetSpec, stage: int, j: int) -> int:
    width = spec.stem_width
    for i, st in enumerate(spec.stages, start=1):
        for jj, b in enumerate(st):
            if i == stage and jj == j:
                return width
            width = b.width
    return width
