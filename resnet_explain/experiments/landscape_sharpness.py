"""A sharpness that does not depend on the weights' scale: the curvature of the loss along the
landscape's filter-normalised directions, read off the 2-D slice it already has.

Why λmax is not enough in a BatchNorm net: a convolution followed by BatchNorm computes the same
function when one of its filters is multiplied by c > 0, but the Hessian with respect to that
filter is divided by c² — so λmax can be made as large or small as one likes without changing
the network (Dinh et al. 2017, "Sharp minima can generalize for deep nets", arXiv 1703.04933;
Li et al. 2018 sec. 4 introduce filter normalisation for this reason). A filter-normalised
direction gives each filter the norm of the trained filter, so rescaling a filter rescales its
part of the direction with it: L(θ + t·d) is unchanged for every t, and so is its curvature in t.

``fn_curvature``: along each axis of the slice (β = 0 and α = 0) a parabola a + b·t + c·t² is
fitted by least squares to the points with |t| ≤ :data:`FIT_HALF_WIDTH` (at least the two grid
points on each side of the centre), and the curvature is 2c — the second derivative of the loss
per unit of relative step (t = 1: every filter moved by its own norm); the mean of the two axes.
The slice's two directions are random, not the steepest: this is the curvature a typical
filter-normalised direction sees, λmax the one the single steepest direction of all weights sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIT_HALF_WIDTH = 0.2  # |t| of the points the parabola is fitted to (filter-normalised units)


def axis_curvature(t: np.ndarray, loss: np.ndarray, half_width: float = FIT_HALF_WIDTH) -> float:
    """2c of the least-squares parabola through the points with |t| ≤ ``half_width`` (at least
    the 5 nearest the centre); NaN with fewer than 3 finite points."""
    t, loss = np.asarray(t, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    ok = np.isfinite(loss)
    t, loss = t[ok], loss[ok]
    if len(t) < 3:
        return float("nan")
    near = np.abs(t) <= half_width + 1e-9
    if near.sum() < 5:
        near = np.zeros(len(t), dtype=bool)
        near[np.argsort(np.abs(t))[:5]] = True
    c = np.polyfit(t[near], loss[near], 2)[0]
    return float(2.0 * c)


def fn_curvature(surface: pd.DataFrame, half_width: float = FIT_HALF_WIDTH) -> dict:
    """The filter-normalised curvature of a slice (alpha, beta, loss): ``fn_curvature`` (mean of
    the two axes) and ``fn_curvature_axes`` ([along d1, along d2])."""
    if surface is None or not len(surface):
        return {"fn_curvature": float("nan"), "fn_curvature_axes": [float("nan")] * 2}
    a0 = surface["alpha"].abs().min()
    b0 = surface["beta"].abs().min()
    along1 = surface[np.isclose(surface["beta"].abs(), b0)].sort_values("alpha")
    along2 = surface[np.isclose(surface["alpha"].abs(), a0)].sort_values("beta")
    axes = [axis_curvature(along1["alpha"].to_numpy(), along1["loss"].to_numpy(), half_width),
            axis_curvature(along2["beta"].to_numpy(), along2["loss"].to_numpy(), half_width)]
    finite = [k for k in axes if np.isfinite(k)]
    return {"fn_curvature": float(np.mean(finite)) if finite else float("nan"),
            "fn_curvature_axes": axes}
