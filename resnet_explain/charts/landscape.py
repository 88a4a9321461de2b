"""Pure functions for loss landscapes: landscape tables -> Altair charts and display tables.

The 2-D slice is a heatmap of log10 loss with iso-loss contour lines (computed with contourpy,
matplotlib's contouring library, at levels shared by both networks so equal colours and lines mean
equal loss), one panel per network; the 1-D slices and the init→trained line are log-loss curves,
plain red and residual blue (the app's colours, :mod:`.axes`).
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from .axes import MID_GREY, VARIANT_COLORS, W, dash_legend, fit_title, legend

LOSS_FLOOR = 1e-4  # log10 scale: losses below are drawn at the floor (a trained net reaches ~1e-3)
# What the marks on the 2-D slice are, in its legend.
ISO_LINE = "white lines: equal loss (the same levels in both panels)"
CENTRE = "the trained weights (α = β = 0)"


def _log_loss(loss) -> np.ndarray:
    v = np.asarray(loss, dtype=float)
    return np.log10(np.clip(np.where(np.isfinite(v), v, np.nan), LOSS_FLOOR, None))


def contour_levels(surfaces: dict[str, pd.DataFrame], n: int = 10) -> np.ndarray:
    """``n`` log10-loss levels spanning every panel's range (shared, so panels compare)."""
    z = np.concatenate([_log_loss(s["loss"]) for s in surfaces.values()])
    z = z[np.isfinite(z)]
    if not len(z) or z.max() == z.min():
        return np.array([])
    return np.linspace(z.min(), z.max(), n + 2)[1:-1]


def contour_lines(surface: pd.DataFrame, levels) -> pd.DataFrame:
    """Iso-lines of log10 loss: rows (line, order, alpha, beta, level), one ``line`` per
    connected piece, points in drawing order."""
    import contourpy

    z = surface.pivot(index="beta", columns="alpha", values="loss").sort_index().sort_index(axis=1)
    gen = contourpy.contour_generator(z.columns.to_numpy(float), z.index.to_numpy(float),
                                      _log_loss(z.to_numpy()), line_type="Separate")
    rows, n = [], 0
    for level in levels:
        for piece in gen.lines(float(level)):
            for i, (a, b) in enumerate(piece):
                rows.append((n, i, float(a), float(b), float(level)))
            n += 1
    return pd.DataFrame(rows, columns=["line", "order", "alpha", "beta", "level"])


def surface_cells(surface: pd.DataFrame) -> pd.DataFrame:
    """The slice as rectangles (alpha/beta ± half a step) with log10 loss, for the heatmap."""
    s = surface.copy()
    ax = np.sort(s["alpha"].unique())
    h = float(ax[1] - ax[0]) / 2 if len(ax) > 1 else 0.5
    s["a0"], s["a1"], s["b0"], s["b1"] = s["alpha"] - h, s["alpha"] + h, s["beta"] - h, s["beta"] + h
    s["log10_loss"] = _log_loss(s["loss"])
    return s


def surface_chart(surfaces: dict[str, pd.DataFrame], size: int = 300, levels: int = 10) -> alt.HConcatChart:
    """One heatmap + contour panel per network (title = its label), one shared colour scale."""
    lv = contour_levels(surfaces, levels)
    z = np.concatenate([_log_loss(s["loss"]) for s in surfaces.values()])
    dom = [float(np.nanmin(z)), float(np.nanmax(z))] if np.isfinite(z).any() else [0, 1]
    color = alt.Color("log10_loss:Q", title="log10 loss", scale=alt.Scale(scheme="viridis", domain=dom),
                      legend=legend(orient="right", gradientLength=size - 40))
    panels = []
    for label, s in surfaces.items():
        cells = surface_cells(s)
        span = float(cells["alpha"].abs().max()) or 1.0
        sc = alt.Scale(domain=[-span, span], nice=False)
        tip = [alt.Tooltip("alpha:Q", format=".3f", title="α"), alt.Tooltip("beta:Q", format=".3f", title="β"),
               alt.Tooltip("loss:Q", format=".4g"), alt.Tooltip("accuracy:Q", format=".1%")]
        heat = alt.Chart(cells).mark_rect().encode(
            x=alt.X("a0:Q", scale=sc, title="α (direction 1)"), x2="a1", y=alt.Y("b0:Q", scale=sc, title="β (direction 2)"),
            y2="b1", color=color, tooltip=tip)
        layers = [heat]
        lines = contour_lines(s, lv)
        if len(lines):
            layers.append(alt.Chart(lines).mark_line(color="white", strokeWidth=1, opacity=0.8).encode(
                x=alt.X("alpha:Q", scale=sc), y=alt.Y("beta:Q", scale=sc), detail="line:N", order="order:Q",
                tooltip=[alt.Tooltip("level:Q", title="white line: log10 loss", format=".2f")]))
        layers += _named_marks(sc, contours=bool(len(lines)))
        panels.append(alt.layer(*layers).properties(width=size, height=size, title=label))
    return alt.hconcat(*panels).resolve_scale(color="shared")


def _named_marks(sc: alt.Scale, contours: bool) -> list:
    """The white cross at the trained weights, and a legend naming it and the white iso-loss lines
    (on a wall nobody reads the caption). A legend's symbol takes its mark's colour, and white on a
    light page is no symbol: the legend comes from grey outline points under the white cross (a
    "stroke" symbol is a short line)."""
    names = ([ISO_LINE] if contours else []) + [CENTRE]
    at = pd.DataFrame({"alpha": 0.0, "beta": 0.0, "what": names})
    pos = {"x": alt.X("alpha:Q", scale=sc), "y": alt.Y("beta:Q", scale=sc)}
    shape = alt.Scale(domain=names, range=(["stroke"] if contours else []) + ["cross"])
    key = alt.Chart(at).mark_point(size=120, color=MID_GREY, filled=False, strokeWidth=2, opacity=1).encode(
        **pos, shape=alt.Shape("what:N", scale=shape, title=None,
                               legend=legend(orient="bottom", direction="horizontal", symbolStrokeWidth=2)))
    cross = alt.Chart(at[at["what"] == CENTRE]).mark_point(size=120, color="white", filled=True, opacity=1).encode(
        **pos, shape=alt.Shape("what:N", scale=shape, legend=None), tooltip="what:N")
    return [key, cross]


def _curves(frames: dict[str, pd.DataFrame], xcol: str) -> pd.DataFrame:
    rows = []
    for label, (variant, df) in frames.items():
        d = df[[xcol, "loss", "accuracy"]].copy()
        d["net"], d["variant"] = label, variant
        d["log10_loss"] = _log_loss(d["loss"])
        rows.append(d)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


# Grey rules on the curves, one dash each, so a legend can tell them apart: dotted, then dashed.
MARK_DASHES = ([2, 3], [8, 4], [1, 6])


def curves_chart(frames: dict[str, tuple[str, pd.DataFrame]], xcol: str, xtitle: str,
                 height: int = 280, marks: dict[float, str] | None = None) -> alt.LayerChart:
    """Loss (log10) against ``xcol`` for each network (``frames``: label -> (variant, table)):
    plain red, residual blue; a grey rule at each of ``marks`` (value -> what it is, e.g.
    ``{0.0: "t = 0: the initial weights"}``), dotted, dashed, …, each named in the legend."""
    d = _curves(frames, xcol)
    lo, hi = float(d[xcol].min()), float(d[xcol].max())
    nets = list(frames)
    colors = [VARIANT_COLORS.range[VARIANT_COLORS.domain.index(v)] for v, _ in frames.values()]
    tip = [alt.Tooltip("net:N"), alt.Tooltip(f"{xcol}:Q", format=".3f"),
           alt.Tooltip("loss:Q", format=".4g"), alt.Tooltip("accuracy:Q", format=".1%")]
    line = alt.Chart(d).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X(f"{xcol}:Q", title=xtitle, scale=alt.Scale(domain=[lo, hi], nice=False),
                axis=alt.Axis(values=list(np.arange(np.ceil(lo * 4), np.floor(hi * 4) + 1) / 4))),
        y=alt.Y("log10_loss:Q", title=fit_title("log10 loss (training sample)", height)),
        color=alt.Color("net:N", scale=alt.Scale(domain=nets, range=colors), title=None, legend=legend()),
        tooltip=tip)
    layers = [line]
    if marks:
        names = list(marks.values())
        rules = pd.DataFrame({xcol: list(marks), "what": names})
        layers.append(alt.Chart(rules).mark_rule(color=MID_GREY, strokeWidth=2).encode(
            x=f"{xcol}:Q", tooltip=[alt.Tooltip("what:N", title="grey line")],
            strokeDash=alt.StrokeDash("what:N", title=None, legend=dash_legend(), scale=alt.Scale(
                domain=names, range=[MARK_DASHES[i % len(MARK_DASHES)] for i in range(len(names))]))))
    return alt.layer(*layers).properties(width=W, height=height)


def curves_table(frames: dict[str, tuple[str, pd.DataFrame]], xcol: str) -> pd.DataFrame:
    """The curves' data, tidy (for CSV export)."""
    return _curves(frames, xcol)


def _fmt(v, spec=".3g") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def numbers_table(results: dict[str, object]) -> pd.DataFrame:
    """The numbers beside the picture, one column per network (label -> Landscape), one row per
    measure: the Hessian's extremes at the trained weights, the slice's roughness, the line's
    barrier, and how it was computed."""
    cols = {}
    for label, r in results.items():
        n, m = r.numbers, r.meta
        resolved = n.get("lambda_min_resolved")
        cols[label] = {
            "λmax, the top Hessian eigenvalue": _fmt(n["lambda_max"]),
            "curvature along the filter-normalised directions (scale-invariant)":
                _fmt(n.get("fn_curvature", float("nan")), ".3g"),
            "λmin": _fmt(n["lambda_min"]) if resolved
            else f"≈ 0 (|λmin| < {_fmt(n.get('lambda_min_precision'), '.2g')})",
            "|λmin/λmax| (Li et al.'s ratio)": _fmt(n["ratio"], ".2g") if resolved else "≈ 0",
            "slice: share of points curving down": f"{n['nonconvex_share']:.0%}",
            "slice: mean |λ−| / |λ|max": _fmt(n["slice_ratio_mean"], ".2g"),
            "loss / accuracy at the trained weights": f"{_fmt(n['loss_at_centre'])} / {n['accuracy_at_centre']:.1%}",
            "highest loss in the slice": _fmt(n["loss_max"]),
            "init→trained line: rise above the start": _fmt(n.get("path_barrier"), ".3g"),
            "computed on": f"{m.get('device', '?')}, {m.get('dtype', '?')}, {m.get('seconds', float('nan')):.0f} s"
                           + (f"; {m['loaded_from']}" if m.get("loaded_from") else ""),
        }
    return pd.DataFrame(cols).rename_axis("measure").reset_index()
