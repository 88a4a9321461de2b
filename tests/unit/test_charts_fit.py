"""Nothing cut off, one colour per concept: legends and axis titles that fit, the same colour for
the same activation (and for plain / residual) in every chart, ▼ for every value without a log10,
diagram labels that start clear of their edge, the builder's words for a plain block, and exported
images that carry a title and say which line is yours and which the twin."""

import re

import numpy as np
import pandas as pd
import pytest

from resnet_explain import magnitude
from resnet_explain.charts import attribution as ca
from resnet_explain.charts import axes, export
from resnet_explain.charts import gradflow as cg
from resnet_explain.charts import theory as ct
from resnet_explain.charts.diagram import skip_label, to_dot
from resnet_explain.experiments import theory
from resnet_explain.spec import BLOCK_KINDS, preset
from resnet_explain.spec.kinds import describe_block
from resnet_explain.spec.limits import SHORTCUT_SHORT, SHORTCUTS

BLOCKS = [f"stage1.block{i}" for i in range(6)]


def _probe_frame(scale: float, zero_first: bool = False) -> pd.DataFrame:
    g = scale * np.logspace(-3, 0, len(BLOCKS))
    if zero_first:
        g[0] = 0.0
    return pd.DataFrame({
        "position": range(len(BLOCKS)), "block": BLOCKS, "grad_norm": g,
        "log10_grad_norm": [magnitude.log10(v) for v in g], "underflow": g == 0,
        "has_nan": False, "has_inf": False, "skip": True, "kind": "basic",
        "identity_norm": g * 0.9, "residual_norm": g * 0.5})


def _twins():
    return cg.gradflow_long({"plain": _probe_frame(1.0, zero_first=True), "residual": _probe_frame(2.0)},
                            yours="plain")


def _sweep() -> pd.DataFrame:
    rows = []
    for act, init in (("sigmoid", "default"), ("tanh", "default"), ("relu", "default"),
                      ("relu", "xavier"), ("relu", "kaiming")):
        for depth in (4, 8, 12):
            r = 0.0 if (act == "sigmoid" and depth == 12) else 10.0 ** (-depth / 4)
            rows.append({"depth": depth, "act": act, "init": init, "label": f"{act}, {init} init",
                         "ratio": r, "log10_ratio": magnitude.log10(r), "layers_crossed": depth - 4,
                         "predicted_log10": -0.1 * depth if act == "relu" else np.nan})
    d = pd.DataFrame(rows)
    d["y"] = magnitude.plot_y(d["log10_ratio"])
    d["status"] = magnitude.statuses(d["ratio"])
    return d


def _weight_change() -> pd.DataFrame:
    rows = []
    for variant in ("plain", "residual"):
        for layer in range(6):
            rel = 0.0 if (variant == "plain" and layer < 3) else 10.0 ** (-layer / 2)
            rows.append({"depth": 56, "variant": variant, "layer": layer, "param": f"l{layer}.weight",
                         "rel_change": rel, "log10_rel_change": magnitude.log10(rel)})
    return pd.DataFrame(rows)


def _charts() -> dict:
    """Every chart function the theory, gradient-flow and attribution pages call, on small data,
    at the page's default height and at a short one."""
    long = _twins()
    branch = pd.DataFrame({"block": BLOCKS, "position": range(6), "branch_over_skip": np.linspace(0.5, 1.5, 6),
                           "cosine_out_vs_skip": np.linspace(0.7, 0.9, 6)})
    curves = pd.DataFrame([{"step": s, "loss": 1.4 - s / 200 * (d == 4), "variant": v, "depth": d,
                            "run": f"depth {d}, {v}"}
                           for d in (4, 56) for v in ("plain", "residual") for s in (0, 10, 20)])
    hw = pd.DataFrame([{"block": b, "position": i, "series": s, "log10": -i / 3}
                       for i, b in enumerate(BLOCKS)
                       for s in ("identity term", "residual-branch term", "‖∂L/∂x‖ at output")])
    alpha = pd.DataFrame([{"alpha": a, "label": f"depth {d}, {i} init", "log10_ratio": a * d / 20,
                           "ratio": 10 ** (a * d / 20), "forward_growth": 1 + a}
                          for d in (20, 50) for i in ("default", "kaiming") for a in (0.0, 1.0, 2.0)])
    share = long.assign(share_of_total=0.5, attribution=0.1, f_x_minus_f_baseline=0.2)
    scores = pd.DataFrame([{"model": m, "method": k, "mask_share_of_image": 0.1, "pointing_game": 0.5,
                            "positive_share_in_mask": 0.4} for m in ("plain20", "residual20")
                           for k in ("Saliency", "IntegratedGradients")])
    post = cg.gradflow_long({"plain (no skips)": _probe_frame(1.0),
                             "skip, σ after the add (post-activation)": _probe_frame(0.5),
                             "skip, clean identity (pre-activation)": _probe_frame(0.2)})
    out = {}
    for h in (200, 340):
        out.update({
            f"sigmoid@{h}": ct.sigmoid_chart(theory.sigmoid_curves(), height=h),
            f"slopes@{h}": ct.activation_slopes_chart(theory.activation_slopes(), height=h),
            f"sweep@{h}": ct.activation_sweep_chart(_sweep(), height=h),
            f"postact@{h}": ct.blocks_multi_chart(post, height=h),
            f"highway@{h}": ct.highway_chart(hw, height=h),
            f"alpha@{h}": ct.alpha_chart(alpha, height=h),
            f"alpha_fwd@{h}": ct.alpha_chart(alpha, "forward_growth", "log10 (activation std, last / first block)",
                                             height=h),
            f"branch@{h}": ct.branch_chart(branch, height=h),
            f"training@{h}": ct.training_chart(curves, height=h),
            f"weight_change@{h}": ct.weight_change_chart(_weight_change(), height=h),
            f"grad_norm@{h}": cg.grad_norm_chart(long, height=h),
            f"split@{h}": cg.split_chart(cg.split_long(_probe_frame(1.0)), height=h),
            f"block_share@{h}": ca.block_share_chart(share, height=h),
            f"scores@{h}": ca.score_chart(scores, height=h),
        })
    return out


def _encodings(spec: dict):
    """Every (channel, encoding dict, height) in a Vega-Lite dict, through layers and facets."""
    def walk(node, height):
        if isinstance(node, dict):
            height = node.get("height", height)
            for ch, enc in (node.get("encoding") or {}).items():
                if isinstance(enc, dict):
                    yield ch, enc, height
            for k in ("layer", "spec"):
                sub = node.get(k)
                for s in (sub if isinstance(sub, list) else [sub] if sub else []):
                    yield from walk(s, height)
    yield from walk(spec, spec.get("height"))


@pytest.fixture(scope="module")
def specs():
    return {name: c.to_dict() for name, c in _charts().items()}  # validated against the schema


def test_every_legend_shows_its_labels_and_title_whole(specs):
    seen = 0
    for name, spec in specs.items():
        for ch, enc, _ in _encodings(spec):
            if ch not in ("color", "strokeDash", "shape") or "field" not in enc:
                continue
            leg = enc.get("legend", {})
            if leg is None:  # no legend drawn: nothing to cut
                continue
            seen += 1
            assert leg.get("labelLimit", 0) >= axes.LEGEND_LABEL_LIMIT, (name, ch)
            assert leg.get("titleLimit", 0) >= axes.LEGEND_TITLE_LIMIT, (name, ch)
    assert seen > 20


def test_no_y_axis_title_is_longer_than_its_axis(specs):
    """A title line longer than the axis is cut by Vega ("at block outpu"): each line must fit
    the chart's height at the presenter's title font."""
    checked = 0
    for name, spec in specs.items():
        for ch, enc, height in _encodings(spec):
            title = enc.get("title")
            if ch != "y" or not title or not isinstance(height, int):
                continue
            lines = title if isinstance(title, list) else [title]
            for line in lines:
                checked += 1
                assert len(line) * axes.TITLE_PX_PER_CHAR <= height, (name, line, height)
    assert checked > 20


def test_fit_title_wraps_at_words_and_keeps_every_word():
    t = "share of f(x) − f(baseline) through the branch"
    assert axes.fit_title(t, 1000) == t
    lines = axes.fit_title(t, 300)
    assert isinstance(lines, list) and len(lines) > 1 and " ".join(lines) == t
    assert all(len(line) * axes.TITLE_PX_PER_CHAR <= 300 - axes.X_AXIS_PX for line in lines)


def _scale_map(spec: dict, field: str) -> dict:
    for _, enc, _ in _encodings(spec):
        if enc.get("field") == field and "scale" in enc and "range" in enc["scale"]:
            return dict(zip(enc["scale"]["domain"], enc["scale"]["range"]))
    raise AssertionError(f"no colour scale on {field}")


def test_one_colour_per_activation_in_every_chart(specs):
    colors = axes.ACTIVATION_COLORS
    # Activation colours are their own: never plain's red or residual's blue, never each other's.
    assert len(set(colors.values())) == len(colors)
    assert not set(colors.values()) & {axes.PLAIN_COLOR, axes.RESIDUAL_COLOR}
    slopes = _scale_map(specs["slopes@340"], "activation")
    assert slopes == {a: colors[a] for a in ("sigmoid", "tanh", "relu")}
    sweep = _scale_map(specs["sweep@340"], "label")
    for act in ("sigmoid", "tanh", "relu"):  # PyTorch's default init: the activation's own colour
        assert sweep[f"{act}, default init"] == colors[act]
    # Other inits of ReLU: shades of ReLU's colour, distinct from each other and from other activations.
    relu = [sweep[f"relu, {i} init"] for i in ("default", "xavier", "kaiming")]
    assert len(set(relu)) == 3 and not set(relu[1:]) & set(colors.values())
    # The sigmoid's derivative on the sigmoid chart is the same colour as on the slopes chart.
    sig = _scale_map(specs["sigmoid@340"], "curve")
    assert sig["σ′(x) = σ(x)(1 − σ(x))"] == colors["sigmoid"]


def test_plain_is_red_and_residual_blue_in_every_chart(specs):
    for name in ("grad_norm@340", "training@340", "weight_change@340", "block_share@340"):
        m = _scale_map(specs[name], "variant")
        assert m["plain"] == axes.PLAIN_COLOR and m["residual"] == axes.RESIDUAL_COLOR, name
    post = _scale_map(specs["postact@340"], "variant")  # named variants: plain red, skips blue
    assert post["plain (no skips)"] == axes.PLAIN_COLOR
    assert post["skip, σ after the add (post-activation)"] == axes.RESIDUAL_COLOR
    assert post["skip, clean identity (pre-activation)"] not in (axes.PLAIN_COLOR, axes.RESIDUAL_COLOR)
    # Residual MLPs at two depths: none of them drawn in plain's red.
    assert axes.PLAIN_COLOR not in _scale_map(specs["alpha@340"], "label").values()


def test_depth_legend_draws_dashes_not_identical_dots(specs):
    """The "always help" chart: depth is a dash; its legend must show dashes (a stroke symbol with
    its own colour), not two black dots."""
    dash = next(enc for ch, enc, _ in _encodings(specs["training@340"]) if ch == "strokeDash")
    leg = dash["legend"]
    assert leg["symbolType"] == "stroke" and leg["symbolStrokeColor"] and "symbolFillColor" in leg
    assert len({tuple(r) for r in dash["scale"]["range"]}) == 2


def test_weight_that_did_not_move_is_a_flagged_underflow_point(specs):
    layers = specs["weight_change@340"]["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["line", "point", "text"]
    assert layers[1]["mark"]["shape"] == "triangle-down"
    d = ct.weight_change_chart(_weight_change()).layer[1].data
    assert (d["rel_change"] == 0).all() and (d["status"] == magnitude.UNDERFLOW).all()
    finite = _weight_change()["log10_rel_change"].dropna()
    assert np.allclose(d["y"], magnitude.plot_floor(finite))


def test_grad_norm_legend_names_yours_and_the_twin(specs):
    dash = next(enc for ch, enc, _ in _encodings(specs["grad_norm@340"]) if ch == "strokeDash")
    assert dash["legend"]["values"] == ["yours", "twin"] and "your network" in dash["legend"]["labelExpr"]
    alone = cg.gradflow_long({"plain": _probe_frame(1.0)})  # no twin: no dash legend
    dash = next(enc for ch, enc, _ in _encodings(cg.grad_norm_chart(alone).to_dict()) if ch == "strokeDash")
    assert dash["legend"] is None


def test_diagram_skip_labels_start_clear_of_their_edge():
    """Centred text wider in the browser than Graphviz measured spread over the edge ("dentity");
    left-justified text after padding starts clear of it."""
    assert skip_label("identity") == "  identity\\l"
    dot = to_dot(preset("resnet20"), collapse=False)
    labels = re.findall(r'style=dashed[^\]]*label="([^"]*)"', dot)
    assert len(labels) == 9
    assert all(lab.startswith("  ") and lab.endswith("\\l") for lab in labels)
    assert {lab.strip().removesuffix("\\l") for lab in labels} == {"identity", "zero-pad"}


def test_builder_words_for_a_plain_block_and_the_shortcut_options():
    for kind in BLOCK_KINDS:
        plain, residual = describe_block(kind, False), describe_block(kind, True)
        assert "no skip" in plain and "with a skip" not in plain and "+ skip" not in plain
        assert "add" not in plain.replace("no shortcut", "")  # no add without a skip
        if kind == "transition":  # never a skip: the same words either way
            assert residual == plain and plain.endswith("(a transition has no shortcut).")
            continue
        assert residual.endswith(("with a skip.", "with a skip (the concatenation)."))
    assert set(SHORTCUT_SHORT) == set(SHORTCUTS)
    for k, label in SHORTCUT_SHORT.items():
        assert label.startswith(f"{k}:") and f"({k})" not in label and len(label) <= 18


def test_export_carries_a_title_and_names_yours_and_the_twin():
    long = _twins()
    chart = cg.grad_norm_chart(long)
    title = export.chart_title(chart, "gradient_flow")
    assert title == "log10 ‖∂L/∂x‖ at block output, by block (input → output)"
    sub = export.networks_subtitle(long)
    assert sub.startswith("Solid line: your network (plain); dashed: its twin (residual)")
    assert export.networks_subtitle(cg.gradflow_long({"plain": _probe_frame(1.0)})) is None
    svg = export.to_image(chart, "svg", title=title, subtitle=sub).decode()
    assert "your network (plain)" in svg and "at block output, by block" in svg
    plain_png = export.to_image(chart, "png")
    titled_png = export.to_image(chart, "png", title=title, subtitle=sub)
    assert titled_png[:8] == b"\x89PNG\r\n\x1a\n"
    height = int.from_bytes(titled_png[20:24], "big")  # IHDR height: the title adds rows on top
    assert height > int.from_bytes(plain_png[20:24], "big")


def test_export_keeps_a_chart_title_of_its_own():
    import altair as alt

    own = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [1, 2]})).mark_line().encode(x="x:Q", y="y:Q").properties(
        title=alt.TitleParams("Mine", subtitle="my note"))
    assert export.titled(own, "Other").title.text == "Mine"
    assert export.titled(own, "Other").title.subtitle == "my note"
    assert export.titled(own, "Other", "yours vs twin").title.subtitle == "yours vs twin"
    assert export.titled(alt.Chart().mark_point(), "Other").title.text == "Other"
