"""Charts out of the app: PNG and SVG rendered offline with vl-convert (no browser), CSV of the data.

A chart on a slide has lost its page: an exported image carries a title (what is plotted) and,
where the data has a network and its twin, a subtitle that says which line is which."""

from __future__ import annotations

import io
from pathlib import Path

import altair as alt
import pandas as pd

LINE_STYLES = {"yours": "solid", "twin": "dashed"}  # charts.gradflow.grad_norm_chart's dashes


def networks_subtitle(data: pd.DataFrame | None) -> str | None:
    """"Solid line: your network (plain); dashed: its twin (residual)." for data with a
    ``network`` column holding both "yours" and "twin" (:func:`.gradflow.gradflow_long`); else None."""
    if data is None or "network" not in getattr(data, "columns", ()) or "variant" not in data.columns:
        return None
    kinds = data.drop_duplicates("network").set_index("network")["variant"]
    if not {"yours", "twin"} <= set(kinds.index):
        return None
    return (f"{LINE_STYLES['yours'].capitalize()} line: your network ({kinds['yours']}); "
            f"{LINE_STYLES['twin']}: its twin ({kinds['twin']}), the same weights with every skip toggled.")


def _text(t) -> str | None:
    if t is None or t is alt.Undefined or isinstance(t, dict):
        return None
    return " ".join(t) if isinstance(t, (list, tuple)) else str(t)


def _axis_title(spec: dict, channel: str) -> str | None:
    """The first title of ``channel`` (x or y) in a Vega-Lite dict, its layers or facet spec."""
    for part in [spec, spec.get("spec", {})] + list(spec.get("layer", [])) + list(
            spec.get("spec", {}).get("layer", [])):
        enc = part.get("encoding", {}).get(channel)
        if isinstance(enc, dict) and _text(enc.get("title")):
            return _text(enc["title"])
    return None


def chart_title(chart, name: str) -> str:
    """What the chart plots, from its own axis titles ("log10 ‖∂L/∂x‖ at block output, by block
    (input → output)"); the file's ``name`` in words when the chart has no y title."""
    spec = chart.to_dict(validate=False)
    y, x = _axis_title(spec, "y"), _axis_title(spec, "x")
    if y and x:
        return f"{y}, by {x}"
    return y or name.replace("_", " ").capitalize()


def titled(chart, title: str | None = None, subtitle: str | None = None):
    """``chart`` with a title (and subtitle) at its top left. A chart that has its own title
    keeps it (and its own subtitle, unless ``subtitle`` is given)."""
    own = getattr(chart, "title", alt.Undefined)
    if own is not alt.Undefined and own is not None:
        if not subtitle:
            return chart
        text = _text(own.text) if isinstance(own, alt.TitleParams) else _text(own)
        return chart.properties(title=alt.TitleParams(text or title or "", subtitle=subtitle, anchor="start"))
    if not title:
        return chart
    params = {"anchor": "start", "fontSize": 16}
    if subtitle:
        params["subtitle"] = subtitle
    return chart.properties(title=alt.TitleParams(title, **params))


def to_image(chart: alt.Chart, fmt: str = "png", width: int = 900, title: str | None = None,
             subtitle: str | None = None) -> bytes:
    """Render a chart to PNG or SVG bytes with vl-convert (offline, no browser), with ``title``
    and ``subtitle`` above it when given."""
    if _has_container_width(chart):
        chart = chart.properties(width=width)
    if title or subtitle:
        chart = titled(chart, title, subtitle)
    spec = chart.to_dict()
    # One sans font for title, labels and legend: vl-convert draws a text in the first font that has
    # every glyph it needs, so with its default "sans-serif" a title holding ‖ or ∂ came out serif
    # beside sans labels. DejaVu Sans has them (shipped with matplotlib, which captum installs).
    spec.setdefault("config", {})["font"] = EXPORT_FONT
    vlc = _vl_convert()

    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=2)
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode()
    raise ValueError(f"unknown image format {fmt!r}")


EXPORT_FONT = "DejaVu Sans"


def _vl_convert():
    """vl-convert, with DejaVu Sans registered where matplotlib ships it (once per process)."""
    import vl_convert as vlc  # lazy: out of the app's start-up (test_lazy_imports); only export needs it

    global _FONTS_READY
    if not _FONTS_READY:
        _FONTS_READY = True
        try:
            import matplotlib  # lazy: only to find its font folder, once

            folder = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
            if folder.is_dir():
                vlc.register_font_directory(str(folder))
        except ImportError:  # the system's DejaVu Sans (Debian: fonts-dejavu-core), else vl-convert's own
            pass
    return vlc


_FONTS_READY = False


def _has_container_width(chart) -> bool:
    return getattr(chart, "width", None) == "container"


def to_csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()
