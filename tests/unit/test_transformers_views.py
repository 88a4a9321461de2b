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
