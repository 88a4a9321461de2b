"""Live experiments for the theory pages: small, seeded, CPU-fast, DataFrames out. No streamlit.

Each function builds its own networks from a :class:`~resnet_explain.spec.NetSpec` and a seed
(models never leave the function), so a page can cache the result by its hashable arguments.

* :func:`vanishing_table` / :func:`depth_sweep`: the first/last block gradient ratio of MLPs
  over a range of depths, in float32 and float64, next to 0.25^L and 0.3^L;
* :func:`highway_table`: per residual block, the identity term, the residual-branch term and
  the running product of per-block gradient gains (He et al. 2016, arXiv 1603.05027, eq. 5);
* :func:`alpha_sweep`: SkipInit / ReZero residual scale alpha (De & Smith 2020, arXiv 2002.10444);
* :func:`shattered_experiment`: the gradient along a 1-D input sweep and its autocorrelation
  (Balduzzi et al. 2017, arXiv 1702.08591);
* :func:`branch_vs_skip`, :func:`train_compare`: the misconception experiments;
* the quiz's question bank and scoring (:data:`QUESTIONS`, :data:`PREDICTIONS`,
  :func:`score_quiz`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .gradflow import probe_spec, ratio_of
from .model import build_model
from .spec import NetSpec, mlp, preset
from .theory import ACTS_PER_BLOCK, autocorrelation

SWEEP_BATCH = 32  # the same batch as the Gradient Flow page, so numbers match it
SWEEP_WIDTH = 64  # the mlp presets' width


def _log10(v: float) -> float:
    return float(math.log10(v)) if (v > 0 and math.isfinite(v)) else float("nan")


def layers_crossed(spec: NetSpec) -> int:
    """Activation layers between the first block's output and the last block's output: what the
    first/last gradient ratio is a product over (depth − 4 for our two-layer mlp blocks)."""
    return int(sum(ACTS_PER_BLOCK.get(b.kind, 2) for b in spec.blocks[1:]))


# ---------------------------------------------------------------------------------------------
# Vanishing gradients: depth sweeps
# ---------------------------------------------------------------------------------------------
def ratio_row(spec: NetSpec, seed: int = 0, batch: int = SWEEP_BATCH, float64: bool = False) -> dict:
    """Probe ``spec`` once; the first and last block's gradient norms and their ratio."""
    res = probe_spec(spec, seed=seed, batch=batch, dtype=torch.float64 if float64 else None)
    g = res.blocks["grad_norm"].to_numpy()
    first, last = float(g[0]), float(g[-1])
    return {"depth": spec.depth, "blocks": spec.n_blocks, "layers_crossed": layers_crossed(spec),
            "first_grad": first, "last_grad": last, "ratio": ratio_of(g),
            "log10_ratio": _log10(first) - _log10(last) if last > 0 else float("nan"),
            "underflow": bool(first == 0.0), "nonfinite": bool(not np.isfinite(g).all()),
            "dtype": "float64" if float64 else "float32", "spec": spec.to_query()}


def depth_sweep(depths, act: str = "sigmoid", skip: bool = False, seed: int = 0,
                width: int = SWEEP_WIDTH, batch: int = SWEEP_BATCH, init: str = "default",
                norm: str = "none", kind: str = "preact", float64: bool = False) -> pd.DataFrame:
    """One row per depth: the first/last block gradient ratio of ``mlp(depth, ...)``."""
    rows = []
    for d in depths:
        spec = mlp(int(d), skip=skip, width=width, act=act, norm=norm, kind=kind, init=init)
        row = ratio_row(spec, seed=seed, batch=batch, float64=float64)
        row.update(act=act, init=init, skip=skip, variant="residual" if skip else "plain")
        rows.append(row)
    return pd.DataFrame(rows)


def vanishing_table(depths, act: str = "sigmoid", seed: int = 0, width: int = SWEEP_WIDTH,
                    batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Plain ``act`` MLPs over ``depths``: measured ratio in float32 and float64, beside 0.25^L and
    0.3^L with L = layers crossed (all log10 in float64, so nothing is lost to underflow)."""
    f32 = depth_sweep(depths, act=act, seed=seed, width=width, batch=batch)
    f64 = depth_sweep(depths, act=act, seed=seed, width=width, batch=batch, float64=True)
    out = f32[["depth", "blocks", "layers_crossed", "first_grad", "last_grad", "ratio", "log10_ratio",
               "underflow", "spec"]].rename(columns={"first_grad": "first_grad32", "last_grad": "last_grad32",
                                                     "ratio": "ratio32", "log10_ratio": "log10_ratio32",
                                                     "underflow": "underflow32"})
    out["ratio64"] = f64["ratio"].to_numpy()
    out["log10_ratio64"] = f64["log10_ratio"].to_numpy()
    L = out["layers_crossed"].to_numpy(dtype=np.float64)
    out["log10_bound_025"] = L * math.log10(0.25)
    out["log10_bound_03"] = L * math.log10(0.3)
    out["bound_025_float32"] = np.power(np.float32(0.25), L.astype(np.float32)).astype(np.float64)
    out["bound_025_underflow32"] = out["bound_025_float32"] == 0
    return out


def vanishing_long(table: pd.DataFrame) -> pd.DataFrame:
    """Long form for the vanishing chart: series, depth, log10 value, status. Underflow rows are
    kept and drawn at a floor below the lowest finite value, with their status."""
    series = [("measured, float32", "log10_ratio32"), ("measured, float64", "log10_ratio64"),
              ("0.25^L (σ′ ≤ 1/4 per layer)", "log10_bound_025"), ("0.3^L", "log10_bound_03")]
    parts = []
    for name, col in series:
        d = table[["depth", "layers_crossed"]].copy()
        d["series"] = name
        d["log10"] = table[col].to_numpy()
        if col == "log10_ratio32":
            d["status"] = np.where(table["underflow32"], "0 in float32 (underflow)", "measured")
            d["value_text"] = [("0 (underflow)" if u else f"{r:.3e}")
                               for r, u in zip(table["ratio32"], table["underflow32"])]
        else:
            d["status"] = "measured" if col == "log10_ratio64" else "theory"
            d["value_text"] = [f"1e{v:.1f}" if np.isfinite(v) else "NaN" for v in d["log10"]]
        parts.append(d)
    long = pd.concat(parts, ignore_index=True)
    finite = long["log10"][np.isfinite(long["log10"])]
    floor = (float(finite.min()) if len(finite) else 0.0) - 3.0
    long["y"] = np.where(np.isfinite(long["log10"]), long["log10"], floor)
    return long


def first_underflow_depth(table: pd.DataFrame) -> int | None:
    """The smallest swept depth whose measured float32 first-block gradient is exactly 0."""
    u = table[table["underflow32"]]
    return int(u["depth"].min()) if len(u) else None


def activation_sweep(depths, seed: int = 0, batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Plain MLPs: sigmoid, tanh and ReLU at PyTorch's default init, and ReLU at Xavier and Kaiming
    init, over ``depths``; with the predicted per-layer gain for the ReLU rows."""
    from .theory import relu_layer_gain

    parts = []
    for act, init in (("sigmoid", "default"), ("tanh", "default"), ("relu", "default"),
                      ("relu", "xavier"), ("relu", "kaiming")):
        d = depth_sweep(depths, act=act, init=init, seed=seed, batch=batch)
        d["label"] = f"{act}, {init} init"
        if act == "relu":
            gain = relu_layer_gain(init, SWEEP_WIDTH, SWEEP_WIDTH)
            d["predicted_log10"] = d["layers_crossed"] * math.log10(gain)
        else:
            d["predicted_log10"] = np.nan
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    finite = out["log10_ratio"][np.isfinite(out["log10_ratio"])]
    floor = (float(finite.min()) if len(finite) else 0.0) - 3.0
    out["y"] = np.where(np.isfinite(out["log10_ratio"]), out["log10_ratio"], floor)
    out["status"] = np.where(out["underflow"], "0 in float32 (underflow)", "measured")
    return out


# ---------------------------------------------------------------------------------------------
# The gradient highway
# ---------------------------------------------------------------------------------------------
def highway_table(blocks: pd.DataFrame) -> pd.DataFrame:
    """Per block (from a probe's ``.blocks``): the identity term ‖S'(x)ᵀg‖, the residual-branch
    term ‖J_F(x)ᵀg‖, the block's gain ‖∂L/∂x_in‖ / ‖∂L/∂x_out‖ (input = previous block's
    output; unknown for the first block), and the running product of gains from the last block
    back to this one, in log10: at the first block it is log10 of the first/last ratio.

    For a block x_out = x_in + F(x_in), ∂L/∂x_in = (1 + ∂F/∂x_in)ᵀ ∂L/∂x_out (He et al. 2016,
    arXiv 1603.05027, eq. 5): the gain is the size of (1 + ∂F/∂x) acting on this gradient.
    """
    b = blocks.sort_values("position").reset_index(drop=True)
    g = b["grad_norm"].to_numpy(dtype=np.float64)
    logs = np.array([_log10(v) for v in g])
    gain_log = np.full(len(g), np.nan)
    gain_log[1:] = logs[:-1] - logs[1:]  # block i's input is block i-1's output
    last = logs[-1] if len(logs) else np.nan
    out = pd.DataFrame({
        "position": b["position"], "block": b["block"], "skip": b["skip"],
        "grad_norm": g, "log10_grad_norm": logs,
        "identity_norm": b["identity_norm"], "residual_norm": b["residual_norm"],
        "log10_identity": [_log10(v) for v in b["identity_norm"]],
        "log10_residual": [_log10(v) for v in b["residual_norm"]],
        "log10_gain": gain_log, "gain": np.power(10.0, gain_log),
        "log10_product_from_last": logs - last,
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        out["residual_over_identity"] = out["residual_norm"] / out["identity_norm"]
    return out


def highway_long(table: pd.DataFrame) -> pd.DataFrame:
    """Long form of the three per-block curves for the highway chart."""
    rows = []
    for r in table.itertuples():
        for series, v in (("identity term", r.log10_identity),
                          ("residual-branch term", r.log10_residual),
                          ("‖∂L/∂x‖ at output", r.log10_grad_norm)):
            rows.append({"block": r.block, "position": r.position, "series": series, "log10": v})
    return pd.DataFrame(rows, columns=["block", "position", "series", "log10"])


def identity_spec(depth: int = 20, res_scale: float = 0.0, init: str = "default",
                  zero_init_last: bool = False, act: str = "relu", kind: str = "preact") -> NetSpec:
    """The identity-hypothesis network: a residual MLP without normalisation."""
    return mlp(depth, skip=True, act=act, init=init, res_scale=float(res_scale),
               zero_init_last=zero_init_last, kind=kind)


def alpha_sweep(alphas, depths=(20, 50), inits=("default", "kaiming"), seed: int = 0,
                batch: int = SWEEP_BATCH, act: str = "relu") -> pd.DataFrame:
    """First/last gradient ratio and forward growth (act std of the last block over the first) of
    residual MLPs without norm, for each residual scale alpha, depth and init."""
    rows = []
    for init in inits:
        for d in depths:
            for a in alphas:
                spec = identity_spec(int(d), float(a), init, act=act)
                res = probe_spec(spec, seed=seed, batch=batch)
                b = res.blocks
                std = b["act_std"].to_numpy()
                rows.append({"alpha": float(a), "depth": int(d), "init": init, "ratio": res.ratio,
                             "log10_ratio": res.log10_ratio,
                             "forward_growth": float(std[-1] / std[0]) if std[0] > 0 else float("nan"),
                             "label": f"depth {d}, {init} init", "spec": spec.to_query()})
    out = pd.DataFrame(rows)
    out["log10_forward_growth"] = [_log10(v) for v in out["forward_growth"]]
    return out


# ---------------------------------------------------------------------------------------------
# Shattered gradients (Balduzzi et al. 2017)
# ---------------------------------------------------------------------------------------------
SHATTER_WIDTH = 128


def shattered_spec(depth: int, skip: bool, res_scale: float = 1.0) -> NetSpec:
    """A ReLU MLP with BatchNorm on a 1-D input (as in Balduzzi et al.'s figure 1)."""
    return mlp(depth, skip=skip, act="relu", norm="batch", width=SHATTER_WIDTH, in_features=1,
               res_scale=float(res_scale))


def input_gradient_sweep(spec: NetSpec, seed: int = 0, n_points: int = 256, lo: float = -2.0,
                         hi: float = 2.0) -> pd.DataFrame:
    """d output_0 / d x along x in [lo, hi] (``n_points`` points, input coordinate 0 swept, any
    other input coordinates fixed at a seeded random point).

    BatchNorm gets the statistics of the sweep itself (one pass in training mode), then is frozen
    (eval mode) so each point's gradient is its own and not mixed with the others' through the
    batch statistics.
    """
    model = build_model(spec, seed=seed)
    g = torch.Generator().manual_seed(int(seed) + 1)
    base = torch.randn(1, spec.in_features, generator=g).repeat(n_points, 1)
    t = torch.linspace(lo, hi, n_points)
    x = base.clone()
    x[:, 0] = t
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.momentum = None  # cumulative average: after one pass, the sweep's own statistics
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    xr = x.clone().requires_grad_(True)
    f = model(xr)[:, 0]
    (grad,) = torch.autograd.grad(f.sum(), xr)
    gv = grad[:, 0].detach().to(torch.float64).numpy()
    sd = gv.std()
    return pd.DataFrame({"x": t.numpy().astype(np.float64), "output": f.detach().to(torch.float64).numpy(),
                         "grad": gv,
                         "grad_standardised": (gv - gv.mean()) / sd if sd > 0 else np.zeros_like(gv)})


def shattered_experiment(depth: int, seed: int = 0, n_points: int = 256, res_scale: float = 1.0,
                         max_lag: int = 32) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plain and residual nets of the same depth (same body weights): the gradient along the
    sweep (long form) and its autocorrelation for lags 0..max_lag (long form)."""
    curves, acs = [], []
    for variant, skip in (("plain", False), ("residual", True)):
        d = input_gradient_sweep(shattered_spec(depth, skip, res_scale), seed=seed, n_points=n_points)
        d["variant"] = variant
        curves.append(d)
        r = autocorrelation(d["grad"].to_numpy(), max_lag)
        acs.append(pd.DataFrame({"lag": np.arange(len(r)), "autocorrelation": r, "variant": variant}))
    return pd.concat(curves, ignore_index=True), pd.concat(acs, ignore_index=True)


def shattered_depth_summary(depths, seed: int = 0, n_points: int = 256,
                            res_scale: float = 1.0) -> pd.DataFrame:
    """Lag-1 autocorrelation of the input gradient for plain and residual nets at each depth."""
    rows = []
    for d in depths:
        for variant, skip in (("plain", False), ("residual", True)):
            s = input_gradient_sweep(shattered_spec(int(d), skip, res_scale), seed=seed, n_points=n_points)
            r = autocorrelation(s["grad"].to_numpy(), 1)
            rows.append({"depth": int(d), "variant": variant, "lag1_autocorrelation": float(r[1])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Misconceptions
# ---------------------------------------------------------------------------------------------
def branch_vs_skip(spec: NetSpec, seed: int = 0, batch: int = SWEEP_BATCH) -> pd.DataFrame:
    """Forward pass (BatchNorm in training mode, as the probe): per residual block, the size of
    what the residual branch adds, ‖αF(x)‖, beside what the shortcut carries, ‖S(x)‖, and the
    cosine between the block's output and S(x). A block that "just copies" would have a branch
    of size 0 and cosine 1."""
    from .model import make_batch

    model = build_model(spec, seed=seed)
    x, _ = make_batch(spec, batch=batch, seed=seed)
    store: dict[str, dict] = {}
    handles = []
    for name, blk in model.named_blocks():
        if blk.shortcut is None:
            continue

        def body_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["branch"] = out.detach()

        def sc_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["skip"] = out.detach()

        def out_hook(mod, inp, out, name=name):
            store.setdefault(name, {})["out"] = out.detach()

        handles += [blk.body.register_forward_hook(body_hook), blk.shortcut.register_forward_hook(sc_hook),
                    blk.register_forward_hook(out_hook)]
        store.setdefault(name, {})["scale"] = float(blk.res_scale.detach()) if blk.res_scale is not None else 1.0
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for pos, (name, blk) in enumerate(model.named_blocks()):
        if name not in store:
            continue
        s = store[name]
        br = (s["scale"] * s["branch"]).to(torch.float64).flatten(1)
        sk = s["skip"].to(torch.float64).flatten(1)
        out = s["out"].to(torch.float64).flatten(1)
        bn, sn = float(br.norm()), float(sk.norm())
        cos = float(F.cosine_similarity(out, sk, dim=1).mean())
        rows.append({"position": pos, "block": name, "branch_norm": bn, "skip_norm": sn,
                     "branch_over_skip": bn / sn if sn > 0 else float("nan"),
                     "cosine_out_vs_skip": cos})
    return pd.DataFrame(rows, columns=["position", "block", "branch_norm", "skip_norm",
                                       "branch_over_skip", "cosine_out_vs_skip"])


TASK_FEATURES = 16
TASK_CLASSES = 4


def teacher_task(seed: int = 0, n: int = 512, features: int = TASK_FEATURES,
                 classes: int = TASK_CLASSES) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable toy task: Gaussian inputs labelled by a fixed random one-hidden-layer teacher."""
    g = torch.Generator().manual_seed(int(seed) + 101)
    x = torch.randn(n, features, generator=g)
    w1 = torch.randn(features, 32, generator=g)
    w2 = torch.randn(32, classes, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    return x, y


def train_spec(depth: int, skip: bool, act: str = "relu") -> NetSpec:
    return mlp(depth, skip=skip, act=act, width=32, in_features=TASK_FEATURES, classes=TASK_CLASSES)


def train_compare(depths=(4, 56), seed: int = 0, steps: int = 120, lr: float = 1e-3, batch: int = 64,
                  eval_every: int = 10, act: str = "relu") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train plain and residual MLPs (no norm, default init, Adam) of each depth on the teacher
    task, same seed and data order. Returns (loss curves, summary, per-layer weight change)."""
    x, y = teacher_task(seed)
    curves, summary, change = [], [], []
    for d in depths:
        for variant, skip in (("plain", False), ("residual", True)):
            spec = train_spec(int(d), skip, act)
            model = build_model(spec, seed=seed)
            w0 = {n: p.detach().clone() for n, p in model.named_parameters() if p.dim() == 2}
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            g = torch.Generator().manual_seed(int(seed) + 5)
            model.train()
            first_loss = None
            for step in range(steps + 1):
                if step % eval_every == 0 or step == steps:
                    with torch.no_grad():
                        full = float(F.cross_entropy(model(x), y))
                    first_loss = full if first_loss is None else first_loss
                    curves.append({"depth": int(d), "variant": variant, "step": step, "loss": full,
                                   "run": f"depth {d}, {variant}"})
                if step == steps:
                    break
                idx = torch.randint(0, len(x), (batch,), generator=g)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                logits = model(x)
                acc = float((logits.argmax(1) == y).double().mean())
                final = float(F.cross_entropy(logits, y))
            summary.append({"depth": int(d), "variant": variant, "final_loss": final, "accuracy": acc,
                            "initial_loss": first_loss,
                            "spec": spec.to_query()})
            for i, (n, p) in enumerate((n, p) for n, p in model.named_parameters() if p.dim() == 2):
                rel = float((p.detach() - w0[n]).norm() / w0[n].norm())
                change.append({"depth": int(d), "variant": variant, "layer": i, "param": n,
                               "rel_change": rel, "log10_rel_change": _log10(rel)})
    return pd.DataFrame(curves), pd.DataFrame(summary), pd.DataFrame(change)


def postact_comparison(depth: int = 20, seed: int = 0, act: str = "sigmoid",
                       batch: int = SWEEP_BATCH) -> dict[str, pd.DataFrame]:
    """Per-block probes of the plain net, post-activation ("basic": σ after the add) blocks with
    skips, and pre-activation blocks with skips (a clean x + F(x) path). He et al. 2016
    (arXiv 1603.05027, sec. 3-4): only a clean identity path keeps the gradient."""
    variants = {
        "plain (no skips)": mlp(depth, skip=False, act=act),
        "skip, σ after the add (post-activation)": mlp(depth, skip=True, act=act, kind="basic"),
        "skip, clean identity (pre-activation)": mlp(depth, skip=True, act=act, kind="preact"),
    }
    return {k: probe_spec(s, seed=seed, batch=batch).blocks for k, s in variants.items()}


# ---------------------------------------------------------------------------------------------
# Quiz
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    options: tuple[str, ...]
    answer: int  # index into options
    explanation: str
    page: str  # the page file that proves it
    cite: str


@dataclass(frozen=True)
class Prediction:
    """Guess a measured number's order of magnitude, then measure it."""

    key: str
    prompt: str
    preset: str  # a spec preset name; measured with probe_spec(seed, SWEEP_BATCH)
    explanation: str
    page: str


# Order-of-magnitude bins for the first/last block gradient ratio: (label, lo, hi), lo <= r < hi.
RATIO_BINS: tuple[tuple[str, float, float], ...] = (
    ("below 1e-10 (or exactly 0)", -math.inf, 1e-10),
    ("1e-10 to 1e-3", 1e-10, 1e-3),
    ("1e-3 to 0.1", 1e-3, 0.1),
    ("0.1 to 10 (about the same size)", 0.1, 10.0),
    ("10 to 1000", 10.0, 1e3),
    ("above 1000", 1e3, math.inf),
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "why_vanish", "Why do gradients vanish in a deep sigmoid network without skip connections?",
        ("Because the loss is too small at initialisation",
         "Because backpropagation multiplies one factor per layer, and each sigmoid layer contributes "
         "σ′ ≤ 0.25 times its weights, so the product shrinks geometrically with depth",
         "Because the learning rate is divided by the depth",
         "Because float32 cannot store the weights of deep networks"),
        1, "The chain rule multiplies per-layer Jacobians. σ′(x) ≤ σ′(0) = 1/4, so L sigmoid layers "
           "give at most 0.25^L before the weights shrink it further — measured on the Vanishing "
           "Gradients page.", "app_pages/vanishing.py", "He et al. 2015, arXiv 1512.03385"),
    Question(
        "skip_math", "How does a skip connection stop the gradient from vanishing, mathematically?",
        ("It normalises the gradient at every block",
         "It doubles the learning rate of the early layers",
         "With x_{l+1} = x_l + F(x_l), ∂L/∂x_l = ∂L/∂x_{l+1}(1 + ∂F/∂x_l): the '1' passes the gradient "
         "back unchanged, so the product over blocks is ∏(1 + ∂F/∂x) and does not go to 0 when ∂F/∂x is small",
         "It removes the nonlinearity from the network"),
        2, "The identity term carries ∂L/∂x_{l+1} straight back; the Gradient Highway page measures "
           "it next to the residual-branch term for every block.", "app_pages/highway.py",
        "He et al. 2016, arXiv 1603.05027, eq. 5"),
    Question(
        "projection", "When should a block use a projection shortcut instead of the identity?",
        ("Always: projections are strictly better and cost nothing",
         "Only where the shape changes (more channels or a stride): a 1×1 projection matches the shapes; "
         "elsewhere the parameter-free identity is used",
         "Never: projections break the gradient highway completely",
         "Only in the first block of the network"),
        1, "He et al. 2015 (sec. 3.3, 4.1) compare A (zero-pad), B (project only where shapes change) and "
           "C (project everywhere): B is marginally better than A, C barely better than B and costs "
           "parameters, so identity where possible. Try the options in the Network Builder.",
        "app_pages/builder.py", "He et al. 2015, arXiv 1512.03385, sec. 4.1"),
    Question(
        "residual_easier", "Why is learning F(x) = H(x) − x easier than learning H(x) directly?",
        ("Because F has fewer parameters than H",
         "Because subtraction is cheaper than multiplication",
         "If the best mapping is close to the identity, pushing F toward 0 (small weights) is easy, "
         "while stacked nonlinear layers must work hard to fit an identity; and the block starts near the "
         "identity, so signals and gradients pass through it",
         "Because residual networks do not use backpropagation"),
        2, "He et al. 2015 (sec. 3.1) hypothesise exactly this; the Gradient Highway page starts a "
           "network at F = 0 (α = 0) and measures that it is the identity, with gradient ratio 1.",
        "app_pages/highway.py", "He et al. 2015, arXiv 1512.03385, sec. 3.1"),
    Question(
        "f_zero", "What happens when a residual block learns F(x) ≈ 0?",
        ("The network output becomes 0",
         "Training stops for every block",
         "The block becomes (nearly) the identity: it passes its input forward and its gradient back "
         "unchanged, so an unneeded block does little harm",
         "The gradient of all earlier blocks becomes 0"),
        2, "With F = 0 the block is x ↦ x and ∂x_{l+1}/∂x_l = I. The Gradient Highway page measures "
           "a gradient ratio of exactly 1 at α = 0; Veit et al. 2016 show that deleting single blocks of "
           "a trained ResNet barely hurts it.", "app_pages/highway.py",
        "He et al. 2016, arXiv 1603.05027; Veit et al. 2016, arXiv 1605.06431"),
    Question(
        "bn_plain", "A 56-layer plain CNN with BatchNorm and ReLU, at initialisation: what do its "
                    "gradients do from the output back to the input?",
        ("They vanish, like in a sigmoid network",
         "They stay exactly the same size",
         "They grow (explode) toward the input",
         "They become NaN"),
        2, "Measured on the Vanishing Gradients page (and in the prediction below): BN + ReLU plain nets "
           "explode toward the input at init (Yang et al. 2019). He et al. 2015 called their degradation "
           "an optimisation difficulty, not vanishing gradients.", "app_pages/vanishing.py",
        "Yang et al. 2019, arXiv 1902.08129; He et al. 2015, arXiv 1512.03385"),
)

PREDICTIONS: tuple[Prediction, ...] = (
    Prediction("p_sigmoid_plain", "A 20-layer sigmoid MLP **without** skips (no normalisation). "
               "Guess the first block's gradient as a fraction of the last block's.",
               "mlp-sigmoid20-plain",
               "Each sigmoid layer shrinks the gradient by at most 0.25, and the weights shrink it more.",
               "app_pages/vanishing.py"),
    Prediction("p_sigmoid_res", "The same 20-layer sigmoid MLP **with** skips (pre-activation blocks). "
               "Guess the ratio now.", "mlp-sigmoid20",
               "The identity path carries the gradient back untouched: ∏(1 + ∂F/∂x) stays near 1.",
               "app_pages/highway.py"),
    Prediction("p_relu_plain", "A 20-layer ReLU MLP without skips, PyTorch's default init. ReLU's slope "
               "is 1 where active. Guess the ratio.", "mlp-relu20-plain",
               "The default init's weights have variance 1/(3·fan_in): each layer scales the gradient by "
               "about √(1/6) ≈ 0.41, so ReLU alone does not save it.", "app_pages/vanishing.py"),
    Prediction("p_cnn_plain56", "The plain 56-layer CIFAR CNN (BatchNorm + ReLU, no skips). Guess the ratio.",
               "plain56",
               "BatchNorm + ReLU plain nets do not vanish at init: their gradients grow toward the input "
               "(Yang et al. 2019, arXiv 1902.08129).", "app_pages/vanishing.py"),
)


def ratio_bin(ratio: float) -> int | None:
    """Index into RATIO_BINS of a measured ratio (0 goes to the lowest bin); None for NaN/Inf."""
    if ratio is None or not np.isfinite(ratio) or ratio < 0:
        return None
    for i, (_, lo, hi) in enumerate(RATIO_BINS):
        if lo <= ratio < hi:
            return i
    return None


def measure_prediction(p: Prediction, seed: int = 0, batch: int = SWEEP_BATCH) -> float:
    """The first/last block gradient ratio of the prediction's network (the number to guess)."""
    return probe_spec(preset(p.preset), seed=seed, batch=batch).ratio


def score_quiz(choices: dict[str, int | None], measured: dict[str, float] | None = None,
               questions=QUESTIONS, predictions=PREDICTIONS) -> pd.DataFrame:
    """One row per item: the chosen and the correct option and whether they agree. A prediction is
    correct when the chosen bin contains the measured value; unanswered items count as wrong.
    Predictions without a measurement in ``measured`` are left out."""
    measured = measured or {}
    rows = []
    for q in questions:
        c = choices.get(q.key)
        rows.append({"key": q.key, "kind": "concept", "prompt": q.prompt,
                     "chosen": q.options[c] if c is not None else None,
                     "correct_option": q.options[q.answer], "correct": c == q.answer,
                     "measured": np.nan, "explanation": q.explanation, "page": q.page})
    for p in predictions:
        if p.key not in measured:
            continue
        c = choices.get(p.key)
        r = measured[p.key]
        right = ratio_bin(r)
        rows.append({"key": p.key, "kind": "prediction", "prompt": p.prompt,
                     "chosen": RATIO_BINS[c][0] if c is not None else None,
                     "correct_option": RATIO_BINS[right][0] if right is not None else "not finite",
                     "correct": c is not None and c == right, "measured": r,
                     "explanation": p.explanation, "page": p.page})
    return pd.DataFrame(rows)
