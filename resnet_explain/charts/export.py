"""Charts out of the app: PNG and SVG rendered offline with vl-convert (no browser), CSV of the data."""

from __future__ import annotations

import io

import altair as alt
import pandas as pd


def to_image(chart: alt.Chart, fmt: str = "png", width: int = 900) -> bytes:
    """Render a chart to PNG or SVG bytes with vl-convert (offline, no browser)."""
    spec = chart.properties(width=width).to_dict() if _has_container_width(chart) else chart.to_dict()
    import vl_convert as vlc

    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=2)
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode()
    raise ValueError(f"unknown image format {fmt!r}")


def _has_container_width(chart) -> bool:
    return getattr(chart, "width", None) == "container"


def to_csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()
