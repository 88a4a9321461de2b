"""One self-contained HTML file to share what a probe (and a watch) measured:
``resnet_explain.report(model, inputs, targets, "report.html")``.

The file needs nothing else to open, offline: the charts are the app's (the probe's per-block
chart and split, a watch's heatmap and profile), rendered to inline SVG by vl-convert; the table is
the probe's block table; the verdict is :func:`resnet_explain.content.verdict.judge_blocks`'s, in words from
:mod:`resnet_explain.content.report`.
"""

from __future__ import annotations

import html
from pathlib import Path

from .probe import ProbeResult, probe

TABLE_COLUMNS = ["block", "kind", "connection", "skip", "grad_norm", "identity_norm",
                 "residual_norm", "act_mean", "act_std"]
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
         "figure{margin:1em 0}")


def report(model, inputs, targets, path, *, loss_fn=None, blocks=None, watch=None,
           title: str = "Gradient flow report") -> Path:
    """Probe ``model`` on ``(inputs, targets)`` (as :func:`resnet_explain.probe.probe`, with
    ``loss_fn`` and ``blocks``) and write the report to ``path``; a :class:`~resnet_explain.watch.Watch`
    adds its history's charts. Returns the path written."""
    res = probe(model, inputs, targets, loss_fn=loss_fn, blocks=blocks)
    return write_report(res, path, watch=watch, title=title)


def write_report(res: ProbeResult, path, *, watch=None, title: str = "Gradient flow report") -> Path:
    """The report of a probe already made (see :func:`report`)."""
    # The charts and vl-convert are only needed here (start-up of ``import resnet_explain``).
    from .charts.export import to_image
    from .content.report import verdict_sentence
    from .content.verdict import judge_blocks

    verdict = judge_blocks(res.blocks, res.meta.get("dtype", "float32"))
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{_md(verdict_sentence(verdict.markdown, len(res.blocks)))}</p>",
             _figure(to_image(res.chart(), "svg").decode())]
    if watch is not None and len(watch.history):
        parts.append(_figure(to_image(watch.chart(), "svg").decode()))
    cols = [c for c in TABLE_COLUMNS if c in res.blocks.columns]
    parts.append(res.blocks[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _md(text: str) -> str:
    """Markdown's **bold** and `code` as HTML (the verdict's only markup)."""
    out, bold = [], False
    for i, part in enumerate(html.escape(text).split("**")):
        if i:
            out.append("</b>" if bold else "<b>")
            bold = not bold
        out.append(part)
    s = "".join(out)
    while s.count("`") >= 2:
        s = s.replace("`", "<code>", 1).replace("`", "</code>", 1)
    return s


def _figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"
