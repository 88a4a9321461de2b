"""AppTest: the papers beside our runs (issue 15). The Training page shows He et al.'s published
CIFAR-10 table and the paper's orderings against our stored runs; Home renders the "common
claims, checked" box from the library and links every workshop act on its own line, title whole;
the Lesion page puts Veit et al.'s finding beside the pair's own numbers."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_explain import magnitude
from resnet_explain.chance import chance_error
from resnet_explain.content import claims, papers
from resnet_explain.content.story import ACT_RATIOS, STEPS, talk
from resnet_explain.experiments.degradation import check_hypothesis, load_stored

from .jobs import REMEMBERED_PAIR_SCRIPT, train_tiny_pair, wait_for_job

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _tables(at: AppTest) -> list:
    return [t.value.reset_index(drop=True) for t in at.table]


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_training_page_shows_the_published_table_beside_our_stored_runs():
    at = AppTest.from_file(str(ROOT / "app_pages" / "training.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Beside the paper: He et al. 2015 (arXiv 1512.03385)" in [s.value for s in at.subheader]
    assert "**Published (He et al. 2015, table 6" in _markdown(at)
    tables = _tables(at)
    published = next(t for t in tables if "network" in t.columns)
    want = papers.cifar10_table()
    assert list(published["network"]) == list(want["network"])
    assert list(published["published"]) == [p.value for p in papers.HE15_TABLE6] + ["over 60"]
    # our side: computed from the stored runs, with the same verdicts as the page's own check
    stored = load_stored()
    hyp = check_hypothesis(stored.table, chance_error())
    ordering = next(t for t in tables if "claim" in t.columns)
    assert ordering.equals(papers.ordering_table(hyp, stored.n_seeds))
    assert papers.ordering_sentence(hyp) in _markdown(at)
    # labelled as a different budget and different data
    caps = " ".join(c.value for c in at.caption)
    assert papers.budgets_caption(stored.meta) in caps and "Different data, different budgets" in caps
    # the other published numbers, in the expander: ImageNet and He et al. 2016's shortcut variants
    assert any(t.equals(papers.imagenet_table()) for t in tables)
    assert any(t.equals(papers.shortcut_table()) for t in tables)
    # the stored-results table is still the page's first table, before the published ones
    assert list(at.table[0].value["architecture"]) == ["plain", "plain", "residual", "residual"]


def test_home_renders_the_claims_box_and_every_act_link_whole():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    box = next(e for e in at.expander if e.label.startswith("Common claims, checked"))
    text = "\n".join(m.value for m in box.markdown)
    assert text == claims.markdown()
    assert magnitude.judge_ratio(ACT_RATIOS["plain56"]).markdown in text  # measured, from the library
    assert papers.HE15_ENSEMBLE.value in text and papers.HIGHWAY.value in text  # cited, from the records
    links = [el.proto.label for el in at.get("page_link")]
    files = {s.file for s in STEPS}
    for act in talk():
        if act.file in files:
            assert act.title in links  # the whole title, and what the act shows as its caption
            assert act.say in [c.value for c in at.caption]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "tiny-pair-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(cache))
        yield train_tiny_pair(cache)


def test_lesion_page_puts_veit_beside_this_pairs_numbers(pair):
    yours, twin = pair
    script = REMEMBERED_PAIR_SCRIPT.format(yours=yours.run_id, twin=twin.run_id,
                                           page=str(ROOT / "app_pages" / "lesion.py"))
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    if "ls_job" in at.session_state:
        at = wait_for_job(at, "ls_job")
    assert not at.exception, [e.value for e in at.exception]
    veit = next(t for t in _tables(at) if "this pair" in t.columns)
    assert list(veit["Veit et al. 2016 (sec. 4.1)"]) == [papers.VEIT_RESIDUAL.value, papers.VEIT_VGG.value]
    metrics = {m.label: m.value for m in at.metric}
    for row, arch in zip(veit["this pair"], ("residual", "plain")):
        # the same median drop as the page's metric for that twin (one computation, two places)
        assert row.startswith(f"{arch}-8: median drop {metrics[f'{arch}: median drop'].split()[0]} points"), row
    assert papers.veit_caption() in [c.value for c in at.caption]
