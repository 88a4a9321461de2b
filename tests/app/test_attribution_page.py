"""AppTest for the Attribution Lab."""

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnet_explain.content import attribution as words
from resnet_explain.experiments import explain as lab
from resnet_explain.experiments.attribution import METHODS, attribute
from resnet_explain.train import shipped as zoo

from .jobs import REMEMBERED_PAIR_SCRIPT, train_tiny_pair

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "attribution.py")


@pytest.fixture(scope="module")
def page():
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    return at


def test_renders_two_models_with_heatmaps(page):
    assert not page.exception, [e.value for e in page.exception]
    assert [s.value for s in page.subheader][:2] == ["Plain-20", "Residual-20"]
    images = page.get("image")
    assert len(images) == 6  # image, signed, absolute for each twin
    assert page.get("vega_lite_chart")  # per-block attribution


def test_prediction_text_matches_the_model(page):
    """The page's prediction for test image 0 is the checkpoint's own prediction."""
    model, normalizer, meta = zoo.load("residual20")
    test = zoo.test_images(meta, 512)
    with torch.no_grad():
        pred = int(model(normalizer(test.x[:1])).argmax())
    text = [m.value for m in page.markdown if m.value.startswith("Predicts")]
    assert f"Predicts **{test.classes[pred]}**" in text[1]


def test_every_method_renders(page):
    for method in METHODS:
        page.selectbox(key="at_method").set_value(method).run()
        assert not page.exception, (method, [e.value for e in page.exception])
        assert len(page.get("image")) == 6, method


def test_ig_caption_reports_completeness(page):
    page.selectbox(key="at_method").set_value("IntegratedGradients").run()
    caps = " ".join(c.value for c in page.caption)
    assert "convergence delta" in caps and "Σ attribution" in caps


def test_captions_are_the_library_explanation(page):
    """The page shows lab.explain's numbers for test image 0 (true class, black baseline)."""
    page.selectbox(key="at_method").set_value("IntegratedGradients").run()
    model, normalizer, meta = zoo.load("residual20")
    test = zoo.test_images(meta, 512)
    e = lab.explain(model, normalizer, test.x[0], target="true", label=int(test.y[0]),
                    method="IntegratedGradients", mask=test.mask[0])
    facts = [c.value for c in page.caption if "convergence delta" in c.value]
    want = words.facts(e).split(" · ", 1)[1]  # all but the time
    assert facts[1].split(" · ", 1)[1] == want
    assert "inside the mask" in want


def test_scores_table(page):
    page.select_slider(key="at_n").set_value(16)
    [b for b in page.button if b.label == "Score all methods"][0].click().run()
    assert not page.exception
    table = page.dataframe[0].value
    assert len(table) == 2 * len(METHODS)
    assert table["pointing_game"].between(0, 1).all()
    summary = [m.value for m in page.markdown if m.value.startswith("Best pointing game")]
    assert len(summary) == 1 and "of 16 images" in summary[0]
    best = table[table["pointing_game"] == table["pointing_game"].max()]
    # every method and model that reaches the best score is named; "tied" only when several do
    assert all(f"**{r.method}** on **{r.model}**" in summary[0] for r in best.itertuples())
    assert ("tied" in summary[0]) == (len(best) > 1)


def test_other_depth_and_class_filter(page):
    page.selectbox(key="at_depth").set_value(56)
    page.selectbox(key="at_cls").set_value("ring").run()
    assert not page.exception
    assert [s.value for s in page.subheader][:2] == ["Plain-56", "Residual-56"]
    # plain-56 collapsed in training (its output ignores the input): the page says so.
    assert any("not meaningful" in w.value for w in page.warning)


def test_page_ig_equals_captum_directly():
    """The numbers the page reports for IG are Captum's (same model, image, target, baseline)."""
    model, normalizer, meta = zoo.load("plain20")
    test = zoo.test_images(meta, 4)
    x = normalizer(test.x[:1])
    black = normalizer(torch.zeros_like(test.x[:1]))
    import captum.attr as ca

    ours = attribute(model, x, int(test.y[0]), "IntegratedGradients", black=black).attr
    raw = ca.IntegratedGradients(model).attribute(x, baselines=black, target=int(test.y[0]), n_steps=50,
                                                  method="gausslegendre")
    assert torch.allclose(ours, raw, atol=1e-6)



def test_random_image_button_is_seeded(page):
    import numpy as np

    page.selectbox(key="at_depth").set_value(20)
    page.selectbox(key="at_cls").set_value("any").run()
    for _ in range(3):
        page.button(key="at_rand").click().run()
        assert not page.exception
    # third draw of the sidebar seed (0): reproducible across sessions
    assert page.number_input(key="at_idx").value == int(np.random.default_rng([0, 3]).integers(512))


# ---------------------------------------------------------------------------------------------
# A pair trained in this session (a tiny network and its twin), as the Train page leaves it
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "tiny-pair-cache"
    yours, twin = train_tiny_pair(cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(cache))
        at = AppTest.from_string(REMEMBERED_PAIR_SCRIPT.format(yours=yours.run_id, twin=twin.run_id, page=PAGE),
                                 default_timeout=180)
        at.run()
        yield yours, twin, at


def test_session_pair_renders_plain_first_with_the_library_numbers(pair):
    from resnet_explain.ui import run_picker

    yours, twin, at = pair
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="at_depth").value == yours.run_id
    assert [s.value for s in at.subheader][:2] == [run_picker.run_title(twin), run_picker.run_title(yours)]
    assert run_picker.run_title(yours) == f"Residual-8 ({yours.run_id[:6]})"
    test = yours.test_images()
    facts = [c.value for c in at.caption if "convergence delta" in c.value]
    assert len(facts) == 2
    for fact, run in zip(facts, (twin, yours)):  # plain first, as the charts colour them
        model, normalizer, _ = run.load_model()
        e = lab.explain(model, normalizer, test.x[0].numpy(), target="true", label=int(test.y[0]),
                        method="IntegratedGradients", mask=test.mask[0].numpy())
        assert fact.split(" · ", 1)[1] == words.facts(e).split(" · ", 1)[1]
        assert "IG steps" in fact
    # a twin that never left chance is flagged, by the library's rule on its recorded test error
    warned = " ".join(w.value for w in at.warning)
    for run in (twin, yours):
        note = words.chance_note(run.name, run.meta, len(test.classes))
        assert (note is not None) == (f"**{run.name}** never left chance" in warned), run.name
    caps = " ".join(c.value for c in at.caption)
    assert f"run `{yours.run_id}`, trained here" in caps and "256 training and 48 test images" in caps


def test_session_pair_scores_only_the_twins_that_left_chance(pair):
    yours, twin, at = pair
    working = [r for r in (twin, yours) if words.chance_note(r.name, r.meta, 10) is None]
    at.select_slider(key="at_n").set_value(16)
    if not working:
        at.run()
        assert any("Neither twin left chance" in i.value for i in at.info)
        return
    [b for b in at.button if b.label == "Score all methods"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(dict.fromkeys(table["model"])) == [r.name for r in working]
    assert len(table) == len(METHODS) * len(working)
    test = yours.test_images(16)
    from resnet_explain.experiments.attribution import score_methods

    want = score_methods({r.name: r.load_model()[:2] for r in working}, test.x, test.mask, test.y,
                         methods=["Saliency", "DeepLift"])
    got = table[table["method"].isin(["Saliency", "DeepLift"])].sort_values(["model", "method"])
    want = want.sort_values(["model", "method"])
    assert got["pointing_game"].round(2).tolist() == want["pointing_game"].round(2).tolist()
    left_out = [r.name for r in (twin, yours) if r.run_id not in {w.run_id for w in working}]
    assert any("Left out of the scores" in c.value for c in at.caption) == bool(left_out)
