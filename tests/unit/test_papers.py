"""The published figures beside our runs (issue 15, "the papers beside our runs"): every record
says which paper, where in it and where we read it; the tables built from them carry the records'
values and our stored results; the Home page's "common claims, checked" takes its measured numbers
from the library and its cited ones from the records, none typed."""

import ast
import inspect
import re

import pandas as pd
import pytest

from resnet_explain import magnitude
from resnet_explain.chance import chance_error
from resnet_explain.charts import lesion as lesion_charts
from resnet_explain.content import claims, papers, story
from resnet_explain.experiments.degradation import check_hypothesis, load_stored

WHERE = re.compile(r"^(table \d+|fig\. \d+( caption)?|sec\. \d+(\.\d+)?( \(fig\. \d+ left\))?"
                   r"(, fig\. \d+)?|abstract)$")


@pytest.mark.parametrize("p", papers.ALL, ids=lambda p: f"{p.paper}:{p.where}:{p.label}")
def test_every_published_figure_has_a_paper_a_place_and_a_source(p):
    assert re.fullmatch(r".+ et al\. 20\d\d", p.paper), p
    assert re.fullmatch(r"\d{4}\.\d{5}", p.arxiv) and p.url == f"https://arxiv.org/abs/{p.arxiv}"
    assert WHERE.match(p.where), p.where  # a table, a figure, a section or the abstract
    assert p.label and p.measure and p.value.strip()
    # where we read it: a URL, or a copy in the search tool's index named by its id
    assert "https://" in p.read_in or re.search(r"\b\d{10,12}\b", p.read_in), p.read_in
    assert p.cite == f"{p.paper}, arXiv {p.arxiv}, {p.where}"


def test_numbers_are_numbers_as_printed():
    """Table rows hold the printed digits (8.80, not 8.8) and parse; the rest are "fail", "over"
    or a quotation, never a bare made-up number."""
    for p in papers.HE15_TABLE6 + papers.HE15_TABLE2 + papers.HE15_FLOPS + papers.HIGHWAY_CIFAR:
        assert p.number is not None and p.value == p.value.strip()
    assert papers.find("32-layer Highway").value == "8.80"
    for p in papers.HE16_TABLE1:
        assert p.value == "fail" or p.number is not None
    assert papers.HE15_FIG6_PLAIN110.number is None  # fig. 6 gives no number, only "higher than 60%"
    for p in (papers.VEIT_PATHS, papers.HIGHWAY, papers.HE15_IDENTITY):
        assert p.value.startswith('"') and p.value.endswith('"')  # quotations, marked as such
    for p in papers.HE15_TABLE5:
        assert p.number is not None
    assert [p.value for p in papers.HE15_TABLE1] == ["2, 2, 2, 2", "3, 4, 6, 3"]


def test_veit_sec41_is_paraphrased_and_marked_second_hand():
    """Veit et al. sec. 4.1 was read only in others' quotations (issue 27): no quotation marks,
    a "second-hand" mark; the caption quotes only the abstract, which was read first-hand."""
    for p in (papers.VEIT_RESIDUAL, papers.VEIT_VGG):
        assert '"' not in p.value and p.value.endswith("(their sec. 4.1, quoted second-hand)")
    cap = papers.veit_caption()
    assert papers.VEIT_PATHS.value in cap and "do not strongly depend on each other" in cap
    assert "paraphrased" in cap and cap.count('"') == 2


def test_the_cifar10_table_is_the_records():
    t = papers.cifar10_table()
    rows = papers.HE15_TABLE6 + (papers.HE15_FIG6_PLAIN110,)
    assert list(t["network"]) == [p.label for p in rows]
    assert list(t["published"]) == [p.value for p in rows]
    assert list(t["where"]) == [f"{p.paper}, {p.where}" for p in rows]
    # table 6 has no plain nets; fig. 6 draws them as curves: the table says so rather than invent
    assert not any(n.startswith("plain-") for n in t["network"][:-1])
    assert "curves only" in t["note"].iloc[-1]


def test_the_ordering_table_is_computed_from_our_stored_runs():
    stored = load_stored()
    hyp = check_hypothesis(stored.table, chance_error())
    t = papers.ordering_table(hyp, stored.n_seeds)
    assert list(t["claim"]) == [h["claim"] for h in hyp]
    ours = t[f"our stored runs (mean of {stored.n_seeds} seeds)"]
    for h, cell in zip(hyp, ours):
        assert cell.startswith("not testable here" if not h.get("testable", True) else
                               "yes" if h["holds"] else "no")
        assert f"{h['a']} {h['a_train_error'] * 100:.1f} %" in cell and f"{h['b_train_error'] * 100:.1f} %" in cell
    # residual-56 vs residual-20: the paper's test errors come from the table-6 records
    row = t[t["claim"].str.startswith("residual-56 trains at least")].iloc[0]["He et al. 2015 (CIFAR-10)"]
    assert f"{papers.find('ResNet-56').value} % vs {papers.find('ResNet-20').value} %" in row
    testable = [h for h in hyp if h.get("testable", True)]
    held = sum(h["holds"] for h in testable)
    assert f"**{held} of {len(testable)}**" in papers.ordering_sentence(hyp)
    if len(testable) < len(hyp):
        assert f"{len(hyp) - len(testable)} of {len(hyp)} not testable here" in papers.ordering_sentence(hyp)


def test_an_untestable_claim_is_neither_yes_nor_no_and_not_counted():
    hyp = [{"claim": "plain-56 trains worse than plain-20 (degradation)", "a": "plain-56", "b": "plain-20",
            "a_train_error": 0.86, "b_train_error": 0.03, "holds": False, "seed_ranges_overlap": False,
            "testable": False, "untestable": ["plain-56"]},
           {"claim": "residual-56 trains at least as well as residual-20", "a": "residual-56", "b": "residual-20",
            "a_train_error": 0.001, "b_train_error": 0.001, "holds": True, "seed_ranges_overlap": True,
            "testable": True, "untestable": []}]
    cells = papers.ordering_table(hyp, 3).iloc[:, 2]
    assert cells.iloc[0].startswith("not testable here (plain-56 never left chance)")
    assert cells.iloc[1].startswith("yes")
    s = papers.ordering_sentence(hyp)
    assert "**1 of 1**" in s and "1 of 2 not testable here" in s


def test_the_ordering_table_says_no_when_ours_does_not_hold():
    hyp = [{"claim": "plain-14 trains worse than plain-8 (degradation)", "a": "plain-14", "b": "plain-8",
            "a_train_error": 0.10, "b_train_error": 0.20, "holds": False, "seed_ranges_overlap": True}]
    cell = papers.ordering_table(hyp, 1).iloc[0, 2]
    assert cell == "no: plain-14 10.0 % vs plain-8 20.0 % training error"
    assert "**0 of 1**" in papers.ordering_sentence(hyp)


def test_the_budgets_caption_reads_our_meta_and_the_papers_budget():
    meta = load_stored().meta
    cap = papers.budgets_caption(meta)
    assert f"width {meta['width']}, {meta['epochs']} epochs on {meta['n_train']} images" in cap
    assert papers.HE15_CIFAR_BUDGET.value in cap and "*test* error" in cap and "*training*" in cap


def test_veit_beside_ours_is_this_pairs_findings():
    long = pd.DataFrame({
        "arch": ["residual"] * 3 + ["plain"] * 3, "net": ["residual-8"] * 3 + ["plain-8"] * 3,
        "block": ["stage1.block0", "stage2.block0", "stage3.block0"] * 2, "position": [0, 1, 2] * 2,
        "downsampling": [False, True, True] * 2, "removable": [True, True, True, True, False, False],
        "status": ["ok"] * 6, "drop_pct": [1.0, 7.5, 2.0, 60.0, float("nan"), float("nan")],
        "y": [1.0, 7.5, 2.0, 60.0, 0, 0], "accuracy_pct": [89.0, 82.5, 88.0, 30.0, float("nan"), float("nan")],
        "base_accuracy_pct": [90.0] * 3 + [90.0] * 3, "residual_ratio": [0.1, 0.5, 0.2] + [float("nan")] * 3,
        "lesion": ["x"] * 6})
    f = lesion_charts.lesion_findings(long)
    t = papers.veit_beside_ours(f, 8, 0.1)
    res, plain = t.iloc[0]["this pair"], t.iloc[1]["this pair"]
    assert res.startswith("residual-8: median drop 2.0 points (leaves 88.0 % accuracy; chance 10 %)")
    assert "largest 7.5 at stage2.block0 (a downsampling block)" in res
    assert plain.startswith("plain-8: median drop 60.0 points (leaves 30.0 % accuracy")
    assert plain.endswith("; 2 cannot be deleted")
    assert list(t["Veit et al. 2016 (sec. 4.1)"]) == [papers.VEIT_RESIDUAL.value, papers.VEIT_VGG.value]


# ---- the Home page's "common claims, checked" ----------------------------------------------------
def test_claims_quote_the_measured_ratios_from_the_library():
    text = claims.markdown()
    for name in ("plain56", "resnet56", "mlp-sigmoid20-plain"):
        assert magnitude.judge_ratio(story.ACT_RATIOS[name]).markdown in text, name
    assert "explodes" in text.split("“ResNet was")[0]  # BN+ReLU plain-56: exploding, not vanishing


def test_claims_follow_the_library_not_typed_numbers(monkeypatch):
    """Change the pinned measurement and the claim changes with it: the sentence is not typed."""
    monkeypatch.setitem(story.ACT_RATIOS, "plain56", 3.3e5)
    monkeypatch.setitem(story.ACT_RATIOS, "resnet56", 7.0)
    first = claims.claims()[0].checked
    assert magnitude.judge_ratio(3.3e5).markdown in first and magnitude.judge_ratio(7.0).markdown in first
    assert magnitude.judge_ratio(1.21e4).markdown not in first


def test_claims_cited_numbers_are_the_records_and_computed_from_them():
    text = claims.markdown()
    t2 = {p.label: p.number for p in papers.HE15_TABLE2}
    assert f"{t2['plain-34'] - t2['plain-18']:.2f} points worse" in text
    assert f"{t2['ResNet-18'] - t2['ResNet-34']:.2f} points better" in text
    fl = {p.label: p.number for p in papers.HE15_FLOPS}
    assert f"{fl['ResNet-152'] / fl['VGG-19']:.0%} of VGG-19" in text
    for p in (papers.HE15_ENSEMBLE, papers.HE15_SINGLE_152, papers.find("ResNet-110"), *papers.HIGHWAY_CIFAR):
        assert f"{p.value} %" in text, p
    assert papers.HIGHWAY.value in text and papers.HE15_NOT_VANISHING.value in text
    for c in claims.claims():
        assert "cited:" in c.sources or "measured:" in c.sources


def test_claims_module_types_no_decimal_number():
    """Every decimal in the claims comes from a record or a measurement: the module's own string
    literals hold none (integers such as "18 to 34 layers" name networks, not results)."""
    tree = ast.parse(inspect.getsource(claims))
    skip = set()  # docstrings and f-string format specs (":.0%") are not text the page shows
    for n in ast.walk(tree):
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant):
            skip.add(id(n.value))
        if isinstance(n, ast.FormattedValue) and n.format_spec is not None:
            skip.update(id(m) for m in ast.walk(n.format_spec))
    literals = [n.value for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip]
    assert literals and not [s for s in literals if re.search(r"\d+\.\d+|\d\s*%", s)]


# ---- the Home page's "your notes vs the papers" (issue 27) ---------------------------------------
def test_every_note_error_quotes_its_records_figures():
    """Each row's paper column prints its records' values, every record is one of papers.ALL, and
    every decimal figure in it is a record's (none typed)."""
    rows = claims.note_errors()
    assert len(rows) == 7
    for e in rows:
        if not e.records:  # a bound or an equation, not a printed figure: the row says so
            assert "no paper figure" in e.paper or "no figure" in e.paper, e.note
            continue
        for r in e.records:
            assert r in papers.ALL and r.shown in e.paper, (e.note, r.label)
        figures = set(re.findall(r"\d+\.\d+", re.sub(r"(?i)sec\. \d+\.\d+", "", e.paper)))
        printed = {f for r in e.records for f in re.findall(r"\d+\.\d+", r.value)}
        assert figures <= printed, (e.note, figures - printed)
    md = claims.notes_markdown()
    assert md.count("\n") == len(rows) + 1  # header, rule, one row per error
    for e in rows:
        for r in e.records:
            assert r.cite in md and r.read_in in md


def test_note_errors_name_the_papers_numbers_and_ours():
    by = {e.note: e for e in claims.note_errors()}
    from resnet_explain.content import study_note as N

    assert f"{papers.find('ResNet-56').value} %" in by[N.CIFAR_TABLE].paper and "no plain rows" in by[N.CIFAR_TABLE].paper
    t5 = {p.label: p.value for p in papers.HE15_TABLE5}
    prev = by[N.PREVIOUS_BEST].paper
    assert all(f"{t5[k]} %" in prev for k in ("VGG (ILSVRC'14)", "GoogLeNet (ILSVRC'14)", "BN-inception"))
    assert "8 more blocks, 16 more layers" in by[N.SIXTEEN_BLOCKS].paper
    assert magnitude.fmt_ratio(story.ACT_RATIOS["mlp-sigmoid20-plain"], 2) in by[N.SIGMOID_BOUND].ours
    assert magnitude.judge_ratio(story.ACT_RATIOS["resnet56"]).phrase in by[N.RESNET_ONE].ours
