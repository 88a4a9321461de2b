"""AppTest for the Architectures page: depth, variants and batch from the URL; one row per
variant with the library's numbers; each row's link opens that variant in the Network Builder;
Fixup's missing ratio said in words; untrained variants offered for training with an estimate."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain.experiments import architectures as A
from resnet_explain.spec import NetSpec
from resnet_explain.spec.zoo import VARIANTS, variant

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "architectures.py")
TIMEOUT = 120
NAMES = ["resnet", "gate", "fixup"]


@pytest.fixture(scope="module")
def at(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path_factory.mktemp("ar-cache")))  # nothing stored
        from resnet_explain.train import estimate as E  # the target host (module scope: before conftest's)

        from .hostspeed import target

        mp.setitem(E._SPEEDS, E.host_key("cpu"), target())
        app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
        app.query_params.update({"ar_depth": "8", "ar_variants": NAMES, "ar_batch": "4"})
        yield app.run()


def test_widgets_come_from_the_url(at):
    assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="ar_depth").value == 8
    assert at.multiselect(key="ar_variants").value == NAMES
    assert at.selectbox(key="ar_batch").value == 4


def test_one_row_per_variant_with_the_library_numbers(at):
    df = at.dataframe[0].value
    assert list(df["variant"]) == [VARIANTS[n].label for n in NAMES]
    want = A.compare(8, NAMES, seed=0, batch=4)
    np.testing.assert_array_equal(df["parameters"], want["params"])
    np.testing.assert_array_equal(df["layers"], want["layers"])
    np.testing.assert_allclose(df["log10 ratio"], want["log10_ratio"].round(2), equal_nan=True)
    fixup = df.set_index("variant").loc[VARIANTS["fixup"].label]
    assert fixup["first/last gradient"] == "none (classifier = 0)"
    assert df.set_index("variant").loc[VARIANTS["resnet"].label, "published"].endswith(A.PUBLISHED_NOTE)


def test_links_open_each_variant_in_the_builder(at):
    links = list(at.dataframe[0].value["open in builder"])
    for name, link in zip(NAMES, links):
        page, _, query = link.partition("?")
        assert page == "builder"
        assert NetSpec.from_query(query) == variant(name, 8)


def test_untrained_variants_are_offered_with_an_estimate(at):
    text = " ".join(c.value for c in at.caption)
    assert "Not stored yet" in text and "roughly" in text
    assert not at.button(key="ar_train").disabled
    assert at.button(key="ar_train_stop").disabled
    assert any("Fixup has no ratio" in m.value for m in at.markdown)


def test_a_long_probe_waits_for_a_button_with_its_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv("RESNET_EXPLAIN_INLINE_PROBE_SECONDS", "0")  # any probe not stored: a job
    from resnet_explain.train import estimate as E  # a fast host, installed as this host's one timing:

    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), E.HostSpeed(("cpu", 2), E.Line(1e-5, 1e-11),
                                                                   E.Line(1e-5, 1e-11), 1e-8))  # not refused
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update({"ar_depth": "56", "ar_variants": ["wide", "dense"], "ar_batch": "32"})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.dataframe  # nothing probed in the script run
    assert "not probed yet" in " ".join(c.value for c in app.caption)
    assert not app.button(key="ar_probe").disabled
