"""Links restore what they show: every control that changes a number a page shows is bound to the
URL (issue 16: Gradient Flow's batch and float64 were not, so a shared link showed other numbers),
the skip switch is reversible, and ``controls=hide`` holds from the first paint."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.charts.grad_history import QUANTITIES
from resnet_explain.spec import SPEC_KEYS, NetSpec, preset
from resnet_explain.train import budgets, shipped
from resnet_explain.ui.url_keys import NON_SPEC_KEYS, PAGE_KEYS

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
SHAPE = "triangle"  # a class of the shipped runs' test set (generated shapes)

# (page, URL key, what a link carries, what the widget then shows): every bound page control, each
# with a value other than its default. Rows of one page are loaded from one URL together.
ROWS = [
    ("gradient_flow", "gf_batch", "128", 128),
    ("gradient_flow", "gf_f64", "true", True),
    ("vanishing", "van_depth", "50", 50),
    ("vanishing", "van_cnn_depth", "20", 20),
    ("highway", "hw_alpha", "0.5", 0.5),
    ("highway", "hw_zil", "true", True),
    ("highway", "hw_init", "kaiming", "kaiming"),
    ("highway", "hw_depth", "50", 50),
    ("shattered", "sh_depth", "10", 10),
    ("shattered", "sh_points", "512", 512),
    ("shattered", "sh_alpha", "0.5", 0.5),
    ("misconceptions", "mc_net", "resnet56", "resnet56"),
    ("attribution", "at_method", "DeepLift", "DeepLift"),
    ("attribution", "at_baseline", "noise", "noise"),
    ("attribution", "at_nt", "true", True),
    ("attribution", "at_target", "a class", "a class"),
    ("attribution", "at_tclass", SHAPE, SHAPE),
    ("attribution", "at_cls", SHAPE, SHAPE),
    ("attribution", "at_idx", "3", 3),
    ("attribution", "at_n", "64", 64),
    ("attribution_gradcam", "at_method", "LayerGradCam", "LayerGradCam"),
    ("attribution_gradcam", "at_layer", "stage2.block0", "stage2.block0"),
    ("attribution_upload", "at_src", "upload a PNG/JPEG", "upload a PNG/JPEG"),
    ("lesion", "ls_n", "100", 100),
    ("lesion_tf", "ls_family", "Transformers", "Transformers"),
    ("lesion_tf", "ls_unit", "sublayer", "sublayer"),
    ("training", "tr_depths", ["8", "14"], [8, 14]),
    ("training", "tr_archs", ["residual"], ["residual"]),
    ("training", "tr_epochs", "3", 3),
    ("training", "tr_ntrain", "500", 500),
    ("training", "tr_ntest", "250", 250),
    ("learning_rates", "lrs_lrs", ["0.1", "0.4"], [0.1, 0.4]),
    ("learning_rates", "lrs_epochs", "2", 2),
    ("learning_rates", "lrs_ntrain", "314", 314),
    ("your_network", "yn_budget", budgets.host_budgets()["full"].label, "full"),
    ("landscape", "ll_grid", "11", 11),
    ("landscape", "ll_span", "0.5", 0.5),
    ("landscape", "ll_images", "128", 128),
    ("real_models", "rm_model", "vgg11", "vgg11"),
    ("real_models", "rm_batch", "4", 4),
    ("architectures", "ar_depth", "8", 8),
    ("architectures", "ar_variants", ["resnet", "gate"], ["resnet", "gate"]),
    ("architectures", "ar_batch", "4", 4),
    ("why_plain_fails", "mech_depth", "20", 20),
    ("why_plain_fails", "mech_q", QUANTITIES["update_ratio"], "update_ratio"),
    ("transformers", "tf_depth", "12", 12),
    ("transformers", "tf_init", "Xavier", "Xavier"),
    ("transformers", "tf_lr", "0.01", 0.01),
    ("transformers", "tf_live_lr", "0.003", 0.003),
    ("transformers", "tf_live_warm", "60", 60),
]
PAGE_FILE = {"attribution_gradcam": "attribution", "attribution_upload": "attribution", "lesion_tf": "lesion"}
# yn_q (Your Network's heatmap quantity) shows only once a pair is trained: tested below with one.
KINDS = ("selectbox", "select_slider", "toggle", "number_input", "multiselect", "radio",
         "segmented_control")


def widget(at: AppTest, key: str):
    for kind in KINDS:
        for w in getattr(at, kind):
            if w.key == key:
                return w
    raise AssertionError(f"no widget with key {key!r}")


def page_test(name: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{PAGE_FILE.get(name, name)}.py"),
                           default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at


def bound_keys() -> dict[str, set[str]]:
    """File -> the keys of its widgets bound to the URL (calls with ``bind="query-params"``)."""
    found = {}
    for path in [*ROOT.glob("app_pages/*.py"), *ROOT.glob("resnet_explain/ui/*.py")]:
        keys = set()
        for node in ast.walk(ast.parse(path.read_text())):
            kw = {k.arg: k.value for k in getattr(node, "keywords", ())} if isinstance(node, ast.Call) else {}
            if isinstance(kw.get("bind"), ast.Constant) and kw["bind"].value == "query-params":
                # image_picker's keys are f"{key}_src" etc., and the Attribution Lab calls it with "at"
                keys.add(ast.unparse(kw["key"]).strip("f'\"").replace("{key}", "at"))
        if keys:
            found[path.name] = keys
    return found


def test_every_bound_key_is_a_page_key_unique_across_pages_and_in_the_table():
    found = bound_keys()
    pages = {k: v for k, v in found.items() if k != "sidebar.py"}
    everywhere = [k for keys in pages.values() for k in keys]
    assert len(everywhere) == len(set(everywhere)), "one query string is shared by every page"
    assert set(everywhere) == PAGE_KEYS  # so url_state never reads a page control as part of the network
    assert found["sidebar.py"] == {"device", "seed", "presenter", "theme", "controls"} <= NON_SPEC_KEYS
    assert not PAGE_KEYS & set(SPEC_KEYS)
    assert {k for _, k, _, _ in ROWS} | {"yn_q"} == PAGE_KEYS  # every bound control is round-tripped


BY_PAGE = defaultdict(list)
for _page, _key, _url, _value in ROWS:
    BY_PAGE[_page].append((_key, _url, _value))


@pytest.mark.parametrize("page", list(BY_PAGE))
def test_a_link_sets_every_control_and_each_control_writes_its_key(page):
    """A URL carrying a value shows that value in the widget, and the widget sends its key to the
    browser (``query_param_key``: the frontend writes the URL from it on every change; the e2e
    test watches it do so), with the network in the URL left alone."""
    rows = BY_PAGE[page]
    spec = preset("resnet20")
    at = page_test(page, {**spec.to_params(), **{k: url for k, url, _ in rows}}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [w.value for w in at.warning if "could not be read" in w.value]
    for key, _, value in rows:
        w = widget(at, key)
        assert w.value == value, (key, w.value)
        assert w.proto.query_param_key == key
    if "spec" in at.session_state:
        assert at.session_state["spec"] == spec
    assert all(at.query_params.get(k) == v for k, v in spec.to_params().items())


def test_the_twins_a_page_studies_ride_in_the_url(monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_LESION_AUTO_S", "0")  # the studies themselves are not needed
    ids = {n: shipped.run(n).run_id for n in ("plain56", "residual56", "residual20")}
    at = page_test("lesion", {"run": ids["plain56"], "ls_n": "100"}).run()
    assert not at.exception and widget(at, "ls_depth").value == 56  # either run of a pair names it
    assert at.query_params["run"] == ids["plain56"]  # left as the link had it
    widget(at, "ls_depth").set_value(20).run()
    assert not at.exception and at.query_params["run"] == ids["residual20"]  # the pick is written
    other = page_test("attribution", {"run": at.query_params["run"]}).run()  # shared: same twins
    assert not other.exception and widget(other, "at_depth").value == 20


def test_heatmap_quantity_rides_in_the_url_once_a_pair_is_trained(tmp_path, monkeypatch):
    import json

    from .jobs import wait_for_job

    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv(budgets.BUDGET_ENV, json.dumps({
        "name": "tiny", "data": {"n_train": 96, "n_test": 32, "size": 8, "difficulty": 0.0},
        "config": {"epochs": 1, "batch_size": 16, "lr": 0.05}}))
    net = {"fam": "cnn", "net": "b2~b4/2~b8/2", "act": "relu", "norm": "batch", "stem": "2"}
    at = page_test("your_network", net).run()
    at.button(key="yn_start").click().run()
    wait_for_job(at, "yn_job")
    from resnet_explain.charts.grad_history import QUANTITIES

    label = QUANTITIES["update_ratio"]
    again = page_test("your_network", {**net, "yn_q": label}).run()
    assert not again.exception, [e.value for e in again.exception]
    w = widget(again, "yn_q")
    assert w.value == "update_ratio" and w.proto.query_param_key == "yn_q"


# ---- the skip switch is reversible ---------------------------------------------------------------
def app(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at


@pytest.mark.parametrize("net", [
    "k32!,b32:C~b64/2!,r64",   # per-block choices: `k32!` used to come back as `k32`
    "b32!,b16!",               # plain, width shrinks: on gives b16 a projection (B), off kept it
])
def test_switching_skips_off_and_on_restores_the_network_that_was_built(net):
    at = app({"fam": "cnn", "net": net, "act": "relu", "norm": "batch"}).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    assert not at.exception, [e.value for e in at.exception]
    built, url = at.session_state["spec"], dict(at.query_params)
    assert built == NetSpec.from_query(url) and url["net"] == net
    first = not built.any_skip
    at.toggle(key="gf_skips").set_value(first).run()
    assert not at.exception and at.session_state["spec"] == built.with_skips(first)
    at.toggle(key="gf_skips").set_value(not first).run()
    assert not at.exception
    assert at.session_state["spec"] == built and dict(at.query_params) == url  # exactly as built


def test_after_another_edit_the_switch_switches_every_block():
    at = app({"fam": "cnn", "net": "k32!,b32", "act": "relu", "norm": "batch"}).run()
    at.switch_page("app_pages/gradient_flow.py").run()
    at.toggle(key="gf_skips").set_value(False).run()
    at.query_params["act"] = "gelu"  # a different network now: nothing to restore
    at.run()
    assert at.session_state["spec"].act == "gelu" and not at.session_state["spec"].any_skip
    at.toggle(key="gf_skips").set_value(True).run()
    assert not at.exception and at.session_state["spec"].n_skips == 2


# ---- controls=hide from the first paint ----------------------------------------------------------
def test_controls_hide_folds_the_settings_away_on_the_first_run():
    at = app({"controls": "hide"}).run()  # the first run: no interaction yet
    assert not at.exception
    folded = at.sidebar.expander
    assert [e.label for e in folded] == ["Settings"]
    assert {w.label for w in folded[0].selectbox} == {"Device", "Theme", "Controls"}
    assert {w.label for w in folded[0].toggle} == {"Presenter mode"}
    assert at.selectbox(key="controls").value == "hide"
    shown = app({}).run()
    assert not shown.sidebar.expander and shown.sidebar.selectbox(key="device").label == "Device"
