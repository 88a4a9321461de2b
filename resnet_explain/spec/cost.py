"""Cost estimate, computed from the spec alone, before any tensor is allocated.

Parameters are exact (tested equal to the built model); FLOPs are equal to what
``torch.utils.flop_counter.FlopCounterMode`` counts for one forward pass, for every block kind,
shortcut, family and norm (tests/unit/test_cost.py); activations are tested to lie between 0.9x and
4x the elements autograd saves in a training step (never well under: the budget refuses on them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .netspec import MAX_PARAMS, NetSpec, SpecError


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

    def layer(cin, cout, k, stride, bias, groups=1):
        nonlocal params, flops, acts, side, area
        if cnn:
            side = (side - 1) // stride + 1
            area = side * side
        kk = k * k if cnn else 1
        params += kk * cin * cout // groups + (cout if bias else 0)
        flops += 2 * kk * cin * cout * area // groups
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
    elementwise(c_in)  # the input: the stem layer keeps it for its weight gradient
    layer(c_in, spec.stem_width, 3, 1, not bn)
    norm(spec.stem_width)
    elementwise(spec.stem_width)
    for b, width, survival in zip(spec.blocks, spec.in_widths(), spec.block_survival()):
        w, s = b.width, b.stride
        in_side, in_area = side, area
        if b.kind == "basic":
            layer(width, w, 3, s, not bn); norm(w); elementwise(w)
            layer(w, w, 3, 1, not bn); norm(w)
        elif b.kind == "preact":
            norm(width); elementwise(width)
            layer(width, w, 3, s, not bn); norm(w); elementwise(w)
            layer(w, w, 3, 1, not bn)
        elif b.kind == "transition":  # norm-act-1x1 at the input's size, then the pooling
            norm(width); elementwise(width)
            layer(width, w, 1, 1, not bn)
            if s > 1 and cnn:
                side = (side - 1) // s + 1
                area = side * side
                elementwise(w)  # the pooled output
            continue
        elif b.kind == "dense":
            norm(width); elementwise(width)
            layer(width, w - width if b.skip else w, 3, s, not bn)
            if b.skip:
                elementwise(w)  # the concatenation
            continue  # nothing added, no activation after
        else:
            m, groups = (max(1, w // 4), 1) if b.kind == "bottleneck" else (w // 2, spec.cardinality)
            layer(width, m, 1, 1, not bn); norm(m); elementwise(m)
            layer(m, m, 3, s, not bn, groups); norm(m); elementwise(m)
            layer(m, w, 1, 1, not bn); norm(w)
        if b.skip:
            out_side, out_area = side, area
            if b.projects(width):
                side, area = in_side, in_area
                layer(width, w, 1, s, not bn); norm(w)
                side, area = out_side, out_area
            if b.combine in ("gate", "sgate"):  # a 1x1 layer with a bias, its sigmoid, 1 - g
                side, area = in_side, in_area
                layer(width, w, 1, s, True)
                side, area = out_side, out_area
                elementwise(w, 2)
            elementwise(w, {"add": 0, "scale": 2, "gate": 2, "sgate": 1, "drop": 2}[b.combine])
            if survival < 1.0:
                elementwise(w)  # the branch times its kept-or-not mask
            if spec.res_scale != 1.0 or spec.init == "fixup":
                params += 1
                elementwise(w)  # res_scale * branch keeps the branch for res_scale's gradient
            elementwise(w)  # the sum
        if b.kind != "preact":
            elementwise(w)  # activation after the add
    width = spec.blocks[-1].width
    if spec.blocks[-1].kind in ("preact", "dense"):
        norm(width); elementwise(width)
    if cnn:
        acts += width  # the pooled features the head's layer keeps
    params += width * spec.classes + spec.classes
    flops += 2 * width * spec.classes
    acts += spec.classes  # the logits: the loss keeps their softmax
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
