"""One naming of blocks in every chart's tooltip: a block reads ``stage 1 · block 1`` (spec.block_label,
the naming the axes use) and its code name ``stage1.block0`` shows only under the title "code name".

Every chart function of :mod:`resnet_explain.charts` is built here on small data whose blocks carry
code names, and its Vega-Lite spec is read: for every tooltip field, the values that field shows (in
the chart's own datasets). A new chart function fails :func:`test_every_chart_function_is_built_here`
until it is built here too."""

import importlib
import inspect
import pkgutil
import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

import resnet_explain.charts as charts_pkg
from resnet_explain import magnitude
from resnet_explain.charts import architectures as car
from resnet_explain.charts import attribution as ca
from resnet_explain.charts import axes
from resnet_explain.charts import grad_history as gh
from resnet_explain.charts import gradflow as cg
from resnet_explain.charts import landscape as cl
from resnet_explain.charts import lesion as cles
from resnet_explain.charts import lr_sweep as clr
from resnet_explain.charts import mechanisms as cm
from resnet_explain.charts import real_models as crm
from resnet_explain.charts import theory as ct
from resnet_explain.charts import training as ctr
from resnet_explain.charts import transformers as ctf
from resnet_explain.experiments import theory
from resnet_explain.experiments import transformers_train as tfg
from resnet_explain.experiments.transformers_stored import load_stored
from resnet_explain.probe import probe_spec
from resnet_explain.spec import block_label, preset

CODE_NAME = re.compile(r"stage\d+\.block\d+")
NOT_CHARTS = {"diagram", "export", "overlay", "palette"}  # Graphviz text, image bytes, numpy pictures


def _chart_functions() -> set[str]:
    """module.function for every public function of the charts package that returns an Altair chart."""
    out = set()
    for m in pkgutil.iter_modules(charts_pkg.__path__):
        if m.name in NOT_CHARTS:
            continue
        mod = importlib.import_module(f"resnet_explain.charts.{m.name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__ and not name.startswith("_") and re.search(
                    r"alt\.\w*Chart", str(inspect.signature(fn).return_annotation)):
                out.add(f"{m.name}.{name}")
    return out


# ---------------------------------------------------------------------------------------------
# Small data, with code names wherever the real data has them
# ---------------------------------------------------------------------------------------------
BLOCKS = [f"stage{s}.block{b}" for s in (1, 2) for b in range(3)]


@pytest.fixture(scope="module")
def probes():
    spec = preset("resnet20")
    return {"residual": probe_spec(spec, seed=0, batch=4), "plain": probe_spec(spec.twin(), seed=0, batch=4)}


def _history():
    rows = [{"step": s, "epoch": s // 10, "block": b, "position": i, "kind": "basic",
             "grad_norm": 0.0 if (s, i) == (0, 0) else 10.0 ** (-i / 3 - s / 20),
             "weight_grad_norm": 1.0, "weight_norm": 1.0}
            for s in (0, 10, 20) for i, b in enumerate(BLOCKS)]
    return {"plain": pd.DataFrame(rows), "residual": pd.DataFrame(rows)}


def _lesion():
    def one(scale):
        return pd.DataFrame({"block": BLOCKS, "position": range(len(BLOCKS)),
                             "removable": [i != 3 for i in range(len(BLOCKS))],
                             "accuracy_drop": np.linspace(0.01, 0.3, len(BLOCKS)) * scale,
                             "accuracy": 0.8, "base_accuracy": 0.9,
                             "residual_ratio": np.linspace(0.2, 1.0, len(BLOCKS)), "lesion": "delete"})
    return cles.lesion_long({"plain": one(2.0), "residual": one(0.5)}, downsampling={"stage2.block0": True},
                            depth=8)


def _mech():
    rows = [{"arch": a, "depth": d, "state": st, "block": b, "position": i, "share": 0.5 + i / 10,
             "variance": 1.0 + i, "mean_sq": 0.1 * i}
            for a in ("plain", "residual") for d in (8, 20) for st in cm.STATES for i, b in enumerate(BLOCKS)]
    corr = pd.DataFrame([{"arch": a, "depth": 20, "state": st, "lag": lag, "correlation": 1 / (1 + lag),
                          "low": 0.0, "high": 1.0}
                         for a in ("plain", "residual") for st in cm.STATES for lag in range(4)])
    return pd.DataFrame(rows), corr


def _sweep():
    rows = []
    for act in ("sigmoid", "relu"):
        for depth in (4, 8):
            r = 10.0 ** (-depth / 4)
            rows.append({"depth": depth, "act": act, "init": "default", "label": f"{act}, default init",
                         "ratio": r, "log10_ratio": np.log10(r), "layers_crossed": depth - 1,
                         "predicted_log10": -0.1 * depth})
    d = pd.DataFrame(rows)
    d["y"], d["status"] = magnitude.plot_y(d["log10_ratio"]), magnitude.statuses(d["ratio"])
    return d


def _vanishing():
    d = pd.DataFrame([{"series": s, "depth": k, "layers_crossed": k - 1, "value": 10.0 ** -k}
                      for s in ("measured, float32", "0.25^L (σ′ ≤ 1/4 per layer)") for k in (5, 10)])
    d["log10"] = np.log10(d["value"])
    d["y"], d["status"] = magnitude.plot_y(d["log10"]), magnitude.statuses(d["value"])
    d["value_text"] = [magnitude.value_text(v) for v in d["value"]]
    return d


def _architectures():
    return pd.DataFrame({"label": ["ResNet (He 2015)", "plain"], "ratio": [18.0, 1.2e4],
                         "log10_ratio": [1.26, 4.08], "ratio_note": ["", ""], "twin_ratio": [1.2e4, 18.0],
                         "log10_twin_ratio": [4.08, 1.26], "twin_note": ["", ""],
                         "train_error": [0.1, float("nan")], "train_source": ["stored", "not trained"]})


def _landscape():
    g = np.linspace(-1, 1, 5)
    surf = pd.DataFrame([{"alpha": a, "beta": b, "loss": 1 + a * a + b * b, "accuracy": 0.5} for a in g for b in g])
    line = pd.DataFrame({"alpha": g, "loss": 1 + g * g, "accuracy": 0.5})
    return {"plain-20": surf, "residual-20": surf}, {"plain-20": ("plain", line), "residual-20": ("residual", line)}


def _transformer():
    subl = [f"layer{i}.{k}" for i in range(2) for k in ("attn", "mlp")]
    streams = pd.DataFrame([{"variant": v, "depth": 2, "init": "default", "block": b, "position": i,
                             "grad_norm": 1.0 + i, "stream_norm": 2.0 + i, "branch_share": 0.5}
                            for v in ctf.VARIANT_ORDER for i, b in enumerate(subl)])
    params = pd.DataFrame([{"variant": v, "depth": 2, "init": "default", "layer": i, "matrix": m, "grad_norm": 0.1}
                           for v in ctf.VARIANT_ORDER for i in range(2)
                           for m in ("mlp output projection", "attn output projection")])
    finals = pd.DataFrame([{"variant": v, "lr": lr, "warmup_steps": w, "val_loss": 2.5, "train_loss": 2.4,
                            "diverged": False, "run_id": "0" * 16}
                           for v in ctf.VARIANT_ORDER for lr in (1e-3, 3e-3) for w in (0, 15)])
    curves = pd.DataFrame([{"variant": v, "lr": 1e-3, "warmup_steps": 15, "step": s, "val_loss": 3 - s / 100,
                            "grad_norm_max": 1.0} for v in ctf.VARIANT_ORDER for s in (0, 50, 100)])
    lesion = pd.DataFrame([{"variant": v, "unit": "layer", "layer": i, "removed": f"layer{i}", "val_loss": 2.6,
                            "delta": 0.1} for v in ctf.VARIANT_ORDER for i in range(2)])
    lens = pd.DataFrame([{"variant": v, "layer": i, "after": a, "val_loss": 3 - i / 2}
                         for v in ctf.VARIANT_ORDER for i, a in enumerate(("embedding", "layer0", "layer1"))])
    return streams, params, finals, curves, lesion, lens


def _builders(probes) -> dict:
    blocks = {k: p.blocks for k, p in probes.items()}
    long = cg.gradflow_long(blocks, yours="plain")
    theory_bound = pd.DataFrame({"block": list(long["block"].unique()), "log10": 0.0, "curve": "bound"})
    hw = pd.DataFrame([{"block": b, "position": i, "series": s, "log10": -i / 3}
                       for i, b in enumerate(BLOCKS) for s in ("identity term", "‖∂L/∂x‖ at output")])
    gain = pd.DataFrame({"block": BLOCKS, "position": range(6), "gain": 1.5, "log10_gain": np.log10(1.5)})
    branch = pd.DataFrame({"block": BLOCKS, "position": range(6), "branch_over_skip": 0.5, "cosine_out_vs_skip": 0.8})
    alpha = pd.DataFrame([{"alpha": a, "label": "depth 20", "log10_ratio": a, "ratio": 10 ** a, "forward_growth": 1.0}
                          for a in (0.0, 1.0)])
    sweep = pd.DataFrame([{"variant": v, "x": x, "grad": x, "grad_standardised": x}
                          for v in ("plain", "residual") for x in (0.0, 0.5, 1.0)])
    ac = pd.DataFrame([{"variant": v, "lag": k, "autocorrelation": 1 / (1 + k)}
                       for v in ("plain", "residual") for k in range(3)])
    dac = pd.DataFrame([{"variant": v, "depth": d, "lag1_autocorrelation": 0.5}
                        for v in ("plain", "residual") for d in (2, 8)])
    mc_curves = pd.DataFrame([{"step": s, "loss": 1.0, "variant": v, "depth": d, "run": f"depth {d}, {v}"}
                              for d in (4, 56) for v in ("plain", "residual") for s in (0, 10)])
    change = pd.DataFrame([{"variant": v, "layer": i, "param": f"{b}.body.fc1.weight", "rel_change": 0.1,
                            "log10_rel_change": -1.0} for v in ("plain", "residual") for i, b in enumerate(BLOCKS)])
    share = long.assign(share_of_total=0.5, attribution=0.1, f_x_minus_f_baseline=0.2)
    scores = pd.DataFrame([{"model": m, "method": "Saliency", "mask_share_of_image": 0.1, "pointing_game": 0.5,
                            "positive_share_in_mask": 0.4} for m in ("plain20", "residual20")])
    mech, corr = _mech()
    surf, lines = _landscape()
    streams, params, finals, tf_curves, tf_lesion, lens = _transformer()
    train_curves = pd.DataFrame([{"arch": a, "depth": 20, "seed": 0, "epoch": e, "train_error": 0.5, "test_error": 0.6}
                                 for a in ("plain", "residual") for e in range(3)])
    lr_table = pd.DataFrame([{"variant": v, "depth": 20, "lr": lr, "train_error": 0.3, "test_error": 0.4,
                              "diverged": lr > 0.5, "run_id": "0" * 16}
                             for v in ("plain", "residual") for lr in (0.1, 1.0)])
    lm_lesion = pd.DataFrame([{"unit": u, "layer": i, "removed": f"layer{i}" + ("" if u == "layer" else ".attn"),
                               "arch": a, "net": f"{a} net", "val_loss": 2.5, "delta": 0.1, "base_loss": 2.4}
                              for u in ("layer", "sublayer") for i in range(2) for a in ("plain", "residual")])
    lm_curves = pd.DataFrame([{"net": f"{a} net", "arch": a, "role": "twin" if a == "plain" else "your network",
                               "step": st, "val_loss": 3.0 - st / 100, "train_loss": 3.1}
                              for a in ("plain", "residual") for st in (0, 10, 20)])
    tf_stored = load_stored()  # the shipped tables: sorting and the post-LN seeds name no blocks
    return {
        "transformers.sort_chart": lambda: ctf.sort_chart(tf_stored.sort, tf_stored.sort_baselines),
        "transformers.sort_curves_chart": lambda: ctf.sort_curves_chart(tf_stored.sort_curves),
        "transformers.seeds_chart": lambda: ctf.seeds_chart(tfg.seed_table(tf_stored.finals, tf_stored.seeds),
                                                            tf_stored.meta.get("unigram_loss")),
        "lesion.lm_lesion_chart": lambda: cles.lm_lesion_chart(lm_lesion),
        "training.lm_loss_chart": lambda: ctr.lm_loss_chart(lm_curves, reference=3.075),
        "architectures.chart": lambda: car.chart(_architectures()),
        "attribution.block_share_chart": lambda: ca.block_share_chart(share),
        "attribution.score_chart": lambda: ca.score_chart(scores),
        "grad_history.heatmap": lambda: gh.heatmap(_history()),
        "grad_history.profile_chart": lambda: gh.profile_chart(_history()),
        "gradflow.grad_norm_chart": lambda: cg.grad_norm_chart(long, theory_bound, pickable=True),
        "gradflow.split_chart": lambda: cg.split_chart(cg.split_long(blocks["residual"])),
        "gradflow.weight_grad_chart": lambda: cg.weight_grad_chart(cg.weight_grad_long({k: p.params for k, p in probes.items()})),
        "landscape.surface_chart": lambda: cl.surface_chart(surf),
        "landscape.curves_chart": lambda: cl.curves_chart(lines, "alpha", "α", marks={0.0: "α = 0: the trained weights"}),
        "lesion.lesion_drop_chart": lambda: cles.lesion_drop_chart(_lesion()),
        "lesion.residual_ratio_chart": lambda: cles.residual_ratio_chart(_lesion()),
        "lr_sweep.lr_sweep_chart": lambda: clr.lr_sweep_chart(lr_table, chance=0.9, threshold=0.5),
        "mechanisms.correlation_chart": lambda: cm.correlation_chart(corr, 20),
        "mechanisms.share_chart": lambda: cm.share_chart(mech),
        "mechanisms.signal_chart": lambda: cm.signal_chart(mech, "variance"),
        "real_models.real_chart": lambda: crm.real_chart(crm.real_long(blocks["residual"])),
        "theory.sigmoid_chart": lambda: ct.sigmoid_chart(theory.sigmoid_curves()),
        "theory.activation_slopes_chart": lambda: ct.activation_slopes_chart(theory.activation_slopes()),
        "theory.vanishing_chart": lambda: ct.vanishing_chart(_vanishing(), selected_depth=5),
        "theory.activation_sweep_chart": lambda: ct.activation_sweep_chart(_sweep()),
        "theory.blocks_multi_chart": lambda: ct.blocks_multi_chart(long),
        "theory.highway_chart": lambda: ct.highway_chart(hw),
        "theory.gain_chart": lambda: ct.gain_chart(gain),
        "theory.alpha_chart": lambda: ct.alpha_chart(alpha),
        "theory.sweep_gradient_chart": lambda: ct.sweep_gradient_chart(sweep, "plain"),
        "theory.autocorr_chart": lambda: ct.autocorr_chart(ac),
        "theory.depth_autocorr_chart": lambda: ct.depth_autocorr_chart(dac),
        "theory.branch_chart": lambda: ct.branch_chart(branch),
        "theory.training_chart": lambda: ct.training_chart(mc_curves),
        "theory.weight_change_chart": lambda: ct.weight_change_chart(change),
        "training.error_curves_chart": lambda: ctr.error_curves_chart(ctr.curves_long(train_curves), chance=0.9),
        "transformers.grad_stream_chart": lambda: ctf.grad_stream_chart(streams, 2),
        "transformers.param_grad_chart": lambda: ctf.param_grad_chart(params, 2),
        "transformers.stream_chart": lambda: ctf.stream_chart(streams, 2),
        "transformers.grid_chart": lambda: ctf.grid_chart(finals),
        "transformers.curves_chart": lambda: ctf.curves_chart(tf_curves, 1e-3),
        "transformers.lesion_chart": lambda: ctf.lesion_chart(tf_lesion),
        "transformers.lens_chart": lambda: ctf.lens_chart(lens),
    }


# ---------------------------------------------------------------------------------------------
# Reading a spec: every tooltip field with the rows it shows
# ---------------------------------------------------------------------------------------------
def _tooltips(spec: dict):
    """(title, field, rows) for every tooltip field of every view, ``rows`` its view's dataset
    (inherited from the enclosing view where the view has none)."""
    datasets = spec.get("datasets", {})

    def rows_of(node, inherited):
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and "name" in data:
            return datasets.get(data["name"], [])
        if isinstance(data, dict) and "values" in data:
            return data["values"]
        return inherited

    def walk(node, inherited):
        if not isinstance(node, dict):
            return
        rows = rows_of(node, inherited)
        tips = (node.get("encoding") or {}).get("tooltip")
        for t in (tips if isinstance(tips, list) else [tips] if isinstance(tips, dict) else []):
            if "field" in t:
                yield t.get("title", t["field"]), t["field"], rows
        for k in ("layer", "hconcat", "vconcat", "concat"):
            for sub in node.get(k, []) or []:
                yield from walk(sub, rows)
        if isinstance(node.get("spec"), dict):
            yield from walk(node["spec"], rows)

    yield from walk(spec, [])


@pytest.fixture(scope="module")
def specs(probes):
    return {name: make().to_dict() for name, make in _builders(probes).items()}


def test_every_chart_function_is_built_here(probes):
    assert set(_builders(probes)) == _chart_functions()


def test_no_tooltip_shows_a_code_name_under_a_readable_title(specs):
    for name, spec in specs.items():
        for title, field, rows in _tooltips(spec):
            shown = [str(r.get(field)) for r in rows if field in r]
            raw = [v for v in shown if CODE_NAME.search(v)]
            assert not raw or title == axes.CODE_NAME, (name, title, raw[:2])


def test_block_tooltips_read_as_the_axes_do(specs):
    """Where a tooltip shows a code name, the same tooltip shows it as spec.block_label reads it
    (``<field>_label``, titled "block" or what the name is), row by row."""
    with_blocks = set()
    for name, spec in specs.items():
        tips = list(_tooltips(spec))
        for title, field, rows in tips:
            if title != axes.CODE_NAME:
                continue
            with_blocks.add(name)
            beside = [t for t, f, rs in tips if f == f"{field}_label" and rs is rows]
            assert beside and beside[0] != axes.CODE_NAME, (name, field)
            for r in rows:
                assert r[f"{field}_label"] == axes.readable_name(r[field]), (name, r)
                if CODE_NAME.match(str(r[field])):
                    assert re.match(r"stage \d+ · block \d+", r[f"{field}_label"]), (name, r)
    assert len(with_blocks) >= 15, sorted(with_blocks)


@pytest.mark.parametrize("name, readable", [
    ("stage1.block0", "stage 1 · block 1"), ("stage3.block8.body.conv2.weight", "stage 3 · block 9 · body.conv2.weight"),
    ("stem.conv.weight", "stem.conv.weight"), ("head.fc.weight", "head.fc.weight"), ("layer1.0", "layer1.0"),
    ("layer0.attn", "layer0.attn")])
def test_readable_name_is_block_label_on_the_block_part(name, readable):
    assert axes.readable_name(name) == readable
    assert axes.readable_name(".".join(name.split(".")[:2])) == block_label(".".join(name.split(".")[:2]))


def test_a_name_that_reads_the_same_gets_no_code_name_field():
    d = axes.with_readable(pd.DataFrame({"block": ["layer1.0", "layer2.0"]}))
    assert [t.to_dict()["title"] for t in axes.name_tooltips(d)] == ["block"]
    d = axes.with_readable(pd.DataFrame({"block": ["stem", "stage1.block0"]}))
    assert [t.to_dict()["title"] for t in axes.name_tooltips(d)] == ["block", axes.CODE_NAME]
    assert isinstance(axes.name_tooltips(d)[0], alt.Tooltip)
