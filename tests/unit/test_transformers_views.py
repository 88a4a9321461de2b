"""The Transformers page's sentences and charts: computed from the numbers they are given."""

from __future__ import annotations

import pandas as pd

from resnet_explain.charts import transformers as charts
from resnet_explain.content import transformers as text


def _fl(post: float, pre: float) -> pd.DataFrame:
    return pd.DataFrame({"variant": ["pre-LN", "post-LN"], "depth": 6, "init": "default",
                         "matrix": "mlp output projection", "first": [pre, post], "last": 1.0,
                         "first_over_last": [pre, post]})


def test_xiong_sentence_says_agree_or_not_from_the_ratios():
    yes = text.xiong_sentence(_fl(post=0.5, pre=1.0), 6)
    assert "post-LN's grow toward the output, as predicted" in yes and "pre-LN's stay level, as predicted" in yes
    no = text.xiong_sentence(_fl(post=1.0, pre=3.0), 6)
    assert "do **not** grow toward the output" in no and "pre-LN's are **not** level: larger toward the input" in no
    assert "**pre-LN** 3×" in no


def _finals(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["variant", "lr", "warmup_steps", "val_loss", "diverged"]).assign(
        train_loss=lambda d: d["val_loss"], run_id="x")


def test_grid_sentences_count_where_warmup_helped_and_what_diverged():
    f = _finals([("post-LN", 1e-2, 0, float("nan"), True), ("post-LN", 1e-2, 60, 2.5, False),
                 ("post-LN", 1e-3, 0, 2.6, False), ("post-LN", 1e-3, 60, 2.58, False),
                 ("pre-LN", 1e-2, 0, 2.4, False), ("pre-LN", 1e-2, 60, 2.41, False),
                 ("no skips", 1e-2, 15, 3.1, False)])
    lines = text.grid_sentences(f, unigram=3.08)
    post = next(s for s in lines if s.startswith("**post-LN**"))
    assert "at 1 of 2 learning rates (0.01)" in post and "diverged at 0.01" in post
    assert "every cell beat the byte-frequency model (3.080)" in post
    pre = next(s for s in lines if s.startswith("**pre-LN**"))
    assert "at 0 of 1 learning rates (none)" in pre and "diverged at none" in pre
    ns = next(s for s in lines if s.startswith("**No skips**"))
    assert "1 of 1 of its cells ended within" in ns


def test_lesion_sentence_names_networks_that_learnt_nothing():
    les = pd.DataFrame({"unit": ["none", "layer", "layer", "none", "layer", "layer"],
                        "removed": ["none", "layer0", "layer1"] * 2, "layer": [-1, 0, 1] * 2,
                        "val_loss": [2.4, 3.2, 2.41, 3.09, 3.09, 3.09], "delta": [0, 0.8, 0.01, 0, 0, 0],
                        "variant": ["pre-LN"] * 3 + ["post-LN"] * 3})
    s = text.lesion_sentence(les, unigram=3.075)
    assert "**pre-LN** median +0.405, largest +0.800 (layer0)" in s
    assert "**post-LN learnt no more than byte frequencies**" in s


def test_stream_sentence_reads_the_direction_from_the_numbers():
    d = pd.DataFrame({"variant": "pre-LN", "depth": 6, "init": "default", "position": [0, 1],
                      "stream_norm": [1.0, 3.0], "branch_share": [0.5, 0.1]})
    s = text.stream_sentence(d, 6)
    assert "pre-LN's stream grows (×3)" in s and "last sublayer's share is smaller" in s
    flat = text.stream_sentence(d.assign(stream_norm=[1.0, 1.0], branch_share=[0.1, 0.3]), 6)
    assert "does not grow" in flat and "is not smaller" in flat


def test_charts_draw_the_rows_of_their_view():
    streams = pd.DataFrame({"variant": ["pre-LN", "pre-LN", "post-LN"], "depth": [6, 12, 6],
                            "init": "default", "position": [0, 0, 0], "block": "layer0.attn",
                            "grad_norm": [0.1, 0.2, 0.0], "stream_norm": 1.0, "branch_share": 0.1})
    c = charts.grad_stream_chart(streams, 6)
    drawn = c.data
    assert len(drawn) == 2 and drawn["log10_grad"].isna().tolist() == [False, True]  # 0: a gap, not a number
    assert charts.stream_chart(streams, 12).to_dict()  # builds
    f = _finals([("pre-LN", 1e-3, 0, 2.4, False), ("post-LN", 1e-3, 0, float("nan"), True)])
    g = charts.grid_long(f)
    assert g["label"].tolist() == ["2.40", "diverged"]
    assert charts.grid_chart(f).to_dict()


def _sort(pre, post, ns) -> pd.DataFrame:
    rows = []
    for v, accs in (("pre-LN", pre), ("post-LN", post), ("no skips", ns)):
        for d, (tok, ex) in zip((2, 6, 12), accs):
            rows.append({"variant": v, "depth": d, "token_acc": tok, "exact_acc": ex})
    return pd.DataFrame(rows)


BASE = pd.DataFrame({"baseline": ["chance", "position only", "position + previous token"],
                     "token_acc": [0.125, 0.41, 0.51], "exact_acc": [6e-8, 0.002, 0.002]})


def test_sort_sentences_read_depth_and_the_baselines_from_the_numbers():
    f = _sort(pre=[(0.7, 0.1), (0.9, 0.5), (0.99, 0.96)], post=[(0.8, 0.3), (0.81, 0.32), (0.5, 0.0)],
              ns=[(0.52, 0.0), (0.41, 0.0), (0.412, 0.0)])
    head, pre, post, ns, base = text.sort_sentences(f, BASE)
    assert "exactly: pre-LN 12, post-LN none, no skips none (of 2, 6 and 12)." in head
    assert "pre-LN gained 86 points" in head and "added after" not in head and "post-LN lost 30 points" in head
    assert "no skips changed by less than 5 points" in head
    assert pre.startswith("**pre-LN**: exact sequences 10.0 % → 50.0 % → 96.0 %, tokens 70.0 % → 90.0 % → 99.0 %")
    assert "input-blind rule per token at 2, 6 and 12." in pre
    assert "at 2 and 6." in post and "at no depth; per token equal to \"position only\" (41.0 %) at 6 and 12 " \
        "layers: there it never read the input" in ns
    assert "Without skips the same recipe sorts at no depth tried." in head and "hurts" not in head
    good = _sort(pre=[(1, 1)] * 3, post=[(1, 0.99)] * 3, ns=[(1, 1), (0.41, 0), (0.12, 0)])
    reading = text.sort_sentences(good, BASE)[0]
    assert "With skips, depth does not matter on this task: pre-LN and post-LN sort at every depth tried, " \
        "2 layers included. Without skips the same recipe fails at 6 and 12 layers and sorts at 2: on this task " \
        "depth hurts only the stack without skips." in reading
    assert "chance 12.5 % a token" in base and "position + previous token 51.0 % a token, 0.2 %" in base
    assert "near 51.0 % (position + previous token)" in base
    later = text.sort_sentences(f.assign(planned=f["depth"] > 2), BASE)[0]
    assert "Depth 2 was added after the planned depths' results were seen" in later


def _seeds(losses) -> pd.DataFrame:
    return pd.DataFrame([{"variant": "post-LN", "lr": 1e-3, "warmup_steps": w, "seed": s, "val_loss": x,
                          "run_id": "r"} for (w, s), x in losses.items()])


def test_seeds_sentence_says_whether_the_seeds_agree():
    agree = _seeds({(0, 0): 2.5, (0, 1): 2.5, (15, 0): 3.08, (15, 1): 3.081, (60, 0): 2.49, (60, 1): 2.6})
    s = text.seeds_sentence(agree, 3.075)
    assert "15 warm-up steps 3.080, 3.081 (seeds 0 and 1)" in s
    assert "Every seed agrees: still at the byte-frequency loss (3.075) with 15 warm-up steps, past it with 0 and 60" in s
    assert "by step 150" in text.seeds_sentence(agree.assign(steps=150), 3.075)
    mixed = _seeds({(0, 0): 2.5, (0, 1): 3.08, (15, 0): 3.08, (15, 1): 2.5})
    m = text.seeds_sentence(mixed, 3.075)
    assert "The seed decides: with 0 and 15 warm-up steps" in m and "(2 of 4 runs stuck in all)" in m
    assert "Every run trained" in text.seeds_sentence(_seeds({(0, 1): 2.5, (15, 1): 2.4}), 3.075)


def test_sort_and_seed_charts_draw_their_rows():
    f = _sort(pre=[(0.7, 0.1)] * 3, post=[(0.8, 0.3)] * 3, ns=[(0.5, 0.0)] * 3)
    long = charts.sort_long(f, BASE)
    assert len(long) == 2 * 9 + 2 * 3 and set(long["metric"]) == {"per token", "exact sequence"}
    assert long.loc[long["baseline"] == "chance", "accuracy"].tolist() == [0.125, 6e-8]
    assert charts.sort_chart(f, BASE).to_dict()
    curves = pd.DataFrame({"variant": "pre-LN", "depth": [2, 12], "step": [0, 0], "val_loss": [5.5, 5.6]})
    assert charts.sort_curves_chart(curves).to_dict()
    assert charts.seeds_chart(_seeds({(0, 0): 2.5, (15, 1): 3.08}), 3.075).to_dict()


def test_sort_intro_says_the_recipe():
    from resnet_explain.experiments import transformers_sort as tfs
    s = text.sort_intro(tfs.SORT_DATA, tfs.SORT_BUDGET.label)
    assert s.startswith("Each sequence is 8 symbols drawn from 8") and "512 held-out sequences" in s
    assert tfs.SORT_BUDGET.label in s
