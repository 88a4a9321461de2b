"""AppTest for the Architectures page: depth, variants and batch from the URL; one row per
variant with the library's numbers; each row's link opens that variant in the Network Builder;
Fixup's missing ratio said in words; untrained variants offered for training with an estimate."""

import time
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
    monkeypatch.setenv("RESNET_EXPLAIN_AUTO_PROBE_SECONDS", "0")  # ... that waits for its button
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update({"ar_depth": "56", "ar_variants": ["wide", "dense"], "ar_batch": "32"})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.dataframe  # nothing probed in the script run
    text = " ".join(c.value for c in app.caption)
    assert "not probed on this server yet" in text
    assert "**Probe them** runs one forward and backward pass of each network and its twin" in text
    assert "ar_probe_job" not in app.session_state  # nothing started without the click
    assert not app.button(key="ar_probe").disabled


def test_a_link_whose_probes_are_short_enough_shows_its_view_without_a_click(tmp_path, monkeypatch):
    """Issue #24: a shared ``ar_depth=32`` link showed an empty view until "Probe them"."""
    monkeypatch.setenv("RESNET_EXPLAIN_CACHE", str(tmp_path))
    monkeypatch.setenv("RESNET_EXPLAIN_INLINE_PROBE_SECONDS", "0")  # a background job ...
    monkeypatch.setenv("RESNET_EXPLAIN_AUTO_PROBE_SECONDS", "1e9")  # ... that starts by itself
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update({"ar_depth": "14", "ar_variants": ["resnet", "gate"], "ar_batch": "4"})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "probed now, by themselves" in " ".join(c.value for c in app.caption)
    t0 = time.monotonic()
    while not app.dataframe and time.monotonic() - t0 < 120:  # as the job box's timer reruns it
        time.sleep(0.5)
        app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.session_state["ar_probe_job"].state == "done"  # the job did it, no button was clicked
    df = app.dataframe[0].value
    assert list(df["variant"]) == [VARIANTS[n].label for n in ("resnet", "gate")]
    want = A.compare(14, ["resnet", "gate"], seed=0, batch=4)
    np.testing.assert_allclose(df["log10 ratio"], want["log10_ratio"].round(2), equal_nan=True)
