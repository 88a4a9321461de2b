"""Every legend names every line on the chart (issue #24, presenter screen): on a wall nobody hovers
or reads a caption, so a line, rule or marker drawn in a fixed colour (no colour legend says what
it is) needs a legend entry of its own (a dash or a shape) or a text beside it on the chart.

Checked on the Loss Landscape's charts, and on every chart function of the package (built on small
data in :mod:`tests.unit.test_chart_tooltips`) where a fixed-colour mark would need it."""

from resnet_explain.charts import landscape as cl

from .test_chart_tooltips import _builders, _landscape, probes  # noqa: F401 (a fixture)

NAMED_BY = ("strokeDash", "shape")  # channels whose legend can name a fixed-colour mark


def _views(node):
    if isinstance(node, dict):
        if "mark" in node:
            yield node
        for k in ("layer", "hconcat", "vconcat", "concat"):
            for sub in node.get(k, []) or []:
                yield from _views(sub)
        if isinstance(node.get("spec"), dict):
            yield from _views(node["spec"])


def _mark(view) -> dict:
    m = view["mark"]
    return m if isinstance(m, dict) else {"type": m}


def _named(enc: dict) -> bool:
    return any("field" in enc.get(ch, {}) and enc[ch].get("legend", {}) is not None for ch in NAMED_BY)


def unnamed_marks(spec: dict) -> list[str]:
    """The line, rule and point marks drawn in a fixed colour on a chart with no text and no dash or
    shape legend: nothing on it can say what they are. (Coarse: a chart with such a legend passes;
    which entry names which mark, the tests below check for the Landscape's charts.)"""
    views = list(_views(spec))
    if any(_mark(v)["type"] == "text" or _named(v.get("encoding", {})) for v in views):
        return []
    return [f"{_mark(v)['type']} ({_mark(v).get('color', 'default colour')})" for v in views
            if _mark(v)["type"] in ("line", "rule", "point") and "field" not in v.get("encoding", {}).get("color", {})]


def test_the_landscape_charts_name_every_line():
    surf, lines = _landscape()
    charts = {"surface": cl.surface_chart(surf),
              "alpha line": cl.curves_chart(lines, "alpha", "α", marks={0.0: "α = 0: the trained weights"}),
              "path": cl.curves_chart(lines, "alpha", "t", marks={0.0: "t = 0: the initial weights",
                                                                  1.0: "t = 1: the trained weights"})}
    for name, chart in charts.items():
        assert not unnamed_marks(chart.to_dict()), name


def test_the_path_rules_are_told_apart_in_their_legend():
    _, lines = _landscape()
    spec = cl.curves_chart(lines, "alpha", "t", marks={0.0: "t = 0: the initial weights",
                                                       1.0: "t = 1: the trained weights"}).to_dict()
    rule = next(v for v in _views(spec) if _mark(v)["type"] == "rule")
    dash = rule["encoding"]["strokeDash"]
    assert dash["scale"]["domain"] == ["t = 0: the initial weights", "t = 1: the trained weights"]
    assert len({tuple(d) for d in dash["scale"]["range"]}) == 2  # two dashes: the legend tells them apart
    surface = cl.surface_chart(_landscape()[0]).to_dict()
    legends = [v["encoding"]["shape"] for v in _views(surface)
               if v.get("encoding", {}).get("shape", {}).get("legend", {}) is not None and "shape" in v["encoding"]]
    assert legends and all(s["scale"]["domain"] == [cl.ISO_LINE, cl.CENTRE] for s in legends)
    assert all(s["scale"]["range"] == ["stroke", "cross"] for s in legends)  # a short line and the cross


# A mark that needs no name of its own, and why.
EXEMPT = {"real_models.real_chart": "its grey line only joins the points the stage legend names"}


def test_every_chart_names_its_fixed_colour_lines(probes):  # noqa: F811
    found = {name: unnamed_marks(make().to_dict()) for name, make in _builders(probes).items()}
    assert {n: u for n, u in found.items() if u and n not in EXEMPT} == {}
