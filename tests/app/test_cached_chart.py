"""A chart drawn from the cached spec (ui.cached_chart + chart_with_export) reaches the browser
exactly as st.altair_chart sends it: the same Vega-Lite JSON and the same Arrow datasets, from the
cache on a second call and on a rerun, in presenter mode, and with a click selection."""

from streamlit.testing.v1 import AppTest


def _script(presenter: bool, selectable: bool):
    import streamlit as st

    from resnet_explain import mlp, ui
    from resnet_explain.charts import gradflow as fc
    from resnet_explain.charts import theory as tc
    from resnet_explain.experiments import theory
    from resnet_explain.probe import probe_spec
    from resnet_explain.charts.palette import with_palette
    from resnet_explain.ui.cached_chart import presenter_style

    st.session_state["presenter"] = presenter
    if selectable:  # the per-block chart, whose click picks a block (Gradient Flow)
        @st.cache_data
        def long():
            spec = mlp(depth=4, width=8, skip=False)
            plain, res = (probe_spec(s, seed=0, batch=4).blocks for s in (spec, spec.twin()))
            return fc.gradflow_long({"plain": plain, "residual": res}, yours="plain")

        fn, args, kw, select = fc.grad_norm_chart, (long(),), {"height": 300, "pickable": True}, fc.PICK
    else:
        fn, args, kw, select = tc.sigmoid_chart, (theory.sigmoid_curves(),), {"height": 260}, None
    direct = with_palette(fn(*args, **kw))  # as chart_with_export draws a built chart
    draw = dict(on_select="rerun", selection_mode=[select], key="direct") if select else {}
    st.altair_chart(presenter_style(direct) if presenter else direct, width="stretch", **draw)
    for i in range(2):  # the second from the cache
        ui.chart_with_export(ui.cached_chart(fn, *args, **kw), args[0], "c", f"c{i}", select=select)


def _sent(at) -> list[tuple[str, list[tuple[str, bytes]]]]:
    return [(el.proto.spec, [(d.name, d.data.data) for d in el.proto.datasets])
            for el in at.get("vega_lite_chart")]


def _check(presenter: bool, selectable: bool):
    at = AppTest.from_function(_script, args=(presenter, selectable), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    direct, first, second = _sent(at)
    assert direct[1], "the chart carries its data as an Arrow dataset"
    assert first == direct and second == direct
    at.run()  # a rerun: from the cache, still the same
    assert _sent(at)[1:] == [direct, direct]
    return at


def test_cached_chart_sends_what_altair_chart_sends():
    _check(presenter=False, selectable=False)


def test_cached_chart_in_presenter_mode_sends_the_presenter_chart():
    at = _check(presenter=True, selectable=False)
    assert '"labelFontSize": 15' in _sent(at)[1][0]


def test_cached_chart_with_a_click_selection():
    at = _check(presenter=False, selectable=True)
    assert '"pick"' in _sent(at)[1][0]
    assert at.get("vega_lite_chart")[1].proto.selection_mode == ["pick"]
