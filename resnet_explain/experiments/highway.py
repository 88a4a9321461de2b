"""The gradient highway: per block, the identity term and the residual-branch term, the running
product of per-block gains (He et al. 2016, arXiv 1603.05027, eq. 5), and the SkipInit / ReZero
residual scale alpha (De & Smith 2020, arXiv 2002.10444)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..magnitude import log10
from ..probe import probe_spec
from ..spec import NetSpec, mlp
from .vanishing import SWEEP_BATCH


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
    logs = np.array([log10(v) for v in g])
    gain_log = np.full(len(g), np.nan)
    gain_log[1:] = logs[:-1] - logs[1:]  # block i's input is block i-1's output
    last = logs[-1] if len(logs) else np.nan
    out = pd.DataFrame({
        "position": b["position"], "block": b["block"], "skip": b["skip"],
        "grad_norm": g, "log10_grad_norm": logs,
        "identity_norm": b["identity_norm"], "residual_norm": b["residual_norm"],
        "log10_identity": [log10(v) for v in b["identity_norm"]],
        "log10_residual": [log10(v) for v in b["residual_norm"]],
        "log10_gain": gain_log, "gain": np.power(10.0, gain_log),
        "log10_product_from_last": logs - last,
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        out["residual_over_identity"] = out["residual_norm"] / out["identity_norm"]
    return out


def identity_share(blocks: pd.DataFrame) -> tuple[int, int]:
    """(residual blocks whose identity term is larger than their branch term, residual blocks),
    from a probe's ``.blocks`` or a :func:`highway_table`."""
    res = blocks[blocks["skip"].astype(bool)]
    return int((res["identity_norm"] > res["residual_norm"]).sum()), int(len(res))


def gate_share(blocks: pd.DataFrame) -> tuple[int, int]:
    """(gated blocks whose gate term ``gate_norm`` is smaller than both their carry and transform
    terms, gated blocks), from a probe's ``.blocks``; (0, 0) where no block has a gate."""
    if "gate_norm" not in blocks:
        return 0, 0
    g = blocks[blocks["skip"].astype(bool) & np.isfinite(blocks["gate_norm"])]
    smallest = (g["gate_norm"] < g["identity_norm"]) & (g["gate_norm"] < g["residual_norm"])
    return int(smallest.sum()), int(len(g))


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
    out["log10_forward_growth"] = [log10(v) for v in out["forward_growth"]]
    return out


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
