"""How rough a loss-landscape slice is, and the numbers beside its picture: the share of grid
points where the slice curves clearly downward (its 2×2 finite-difference Hessian has a clearly
negative eigenvalue), the barrier on the init→trained line (Goodfellow et al. 2015, arXiv
1412.6544), and the summary that joins them to the Hessian's extremes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .landscape_sharpness import fn_curvature

# A grid point counts as non-convex when the slice's 2x2 finite-difference Hessian has an
# eigenvalue below -NONCONVEX_TOL x its largest |eigenvalue| there (and above the float noise
# floor): it curves clearly downward in some direction of the plane, not by rounding.
NONCONVEX_TOL = 0.05


def slice_curvature(surface: pd.DataFrame) -> pd.DataFrame:
    """At every interior grid point: the eigenvalues (lam_min ≤ lam_max) of the slice's 2×2
    finite-difference Hessian of the loss (central differences, float64), and whether the slice
    curves clearly downward there (``nonconvex``: lam_min < −NONCONVEX_TOL·max|λ| and below the
    rounding floor)."""
    z = surface.pivot(index="beta", columns="alpha", values="loss").sort_index().sort_index(axis=1)
    a, b = z.columns.to_numpy(dtype=float), z.index.to_numpy(dtype=float)
    L = z.to_numpy(dtype=np.float64)  # L[j, i] = loss at (alpha_i, beta_j)
    if L.shape[0] < 3 or L.shape[1] < 3:
        return pd.DataFrame(columns=["alpha", "beta", "lam_min", "lam_max", "nonconvex"])
    ha, hb = a[1] - a[0], b[1] - b[0]
    c = L[1:-1, 1:-1]
    faa = (L[1:-1, 2:] - 2 * c + L[1:-1, :-2]) / ha**2
    fbb = (L[2:, 1:-1] - 2 * c + L[:-2, 1:-1]) / hb**2
    fab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / (4 * ha * hb)
    mean, rad = (faa + fbb) / 2, np.sqrt(((faa - fbb) / 2) ** 2 + fab**2)
    lo, hi = mean - rad, mean + rad
    # float32 evaluation: differences below ~1e-6 of the loss are rounding, not curvature
    floor = 1e-6 * max(1.0, float(np.nanmax(np.abs(L)))) / min(ha, hb) ** 2
    big = np.maximum(np.abs(lo), np.abs(hi))
    nonconvex = (lo < -NONCONVEX_TOL * big) & (lo < -floor)
    bb, aa = np.meshgrid(b[1:-1], a[1:-1], indexing="ij")
    return pd.DataFrame({"alpha": aa.ravel(), "beta": bb.ravel(), "lam_min": lo.ravel(),
                         "lam_max": hi.ravel(), "nonconvex": nonconvex.ravel()})


def path_barrier(path: pd.DataFrame) -> float:
    """How far the loss on the straight init→trained line rises above its start (t = 0) before
    reaching the trained weights: max over 0 ≤ t ≤ 1 of loss(t) − loss(0); 0 for a monotone fall
    (Goodfellow et al. 2015 found none on theirs)."""
    seg = path[(path["t"] >= 0) & (path["t"] <= 1)].sort_values("t")
    if not len(seg):
        return float("nan")
    return float(max(0.0, seg["loss"].max() - seg["loss"].iloc[0]))


def summarise(surface: pd.DataFrame, hess: dict, path: pd.DataFrame | None = None) -> dict:
    """The numbers beside the picture: the Hessian's extremes at the trained weights and the
    slice's roughness (share of interior points that curve clearly downward; its mean
    |min(λ, 0)|/max|λ|, the slice's version of Li et al.'s |λmin/λmax| map)."""
    curv = slice_curvature(surface)
    finite = np.isfinite(surface["loss"].to_numpy())
    big = np.maximum(curv["lam_max"].abs(), curv["lam_min"].abs()).replace(0.0, np.nan)
    ratio = (np.clip(-curv["lam_min"], 0, None) / big).fillna(0.0)
    centre = surface.loc[(surface["alpha"].abs() + surface["beta"].abs()).idxmin()]
    return {**hess,
            "nonconvex_share": float(curv["nonconvex"].mean()) if len(curv) else float("nan"),
            "slice_ratio_mean": float(ratio.mean()) if len(curv) else float("nan"),
            "loss_at_centre": float(centre["loss"]), "accuracy_at_centre": float(centre["accuracy"]),
            "loss_max": float(np.nanmax(np.where(finite, surface["loss"], np.nan))),
            "finite_share": float(finite.mean()),
            "path_barrier": path_barrier(path) if path is not None else float("nan"),
            **fn_curvature(surface)}
