"""Pure chart/table functions of the Training and Lesion pages."""

import math

import numpy as np
import pandas as pd

from resnet_explain.charts import training as ct
from resnet_explain.charts import lesion as cl
from resnet_explain.train.degradation import check_hypothesis, summarise


def _curves():
    rows = []
    for arch, base in (("plain", 0.8), ("residual", 0.3)):
        for depth in (20, 56):
            for seed in (0, 1, 2):
                for epoch in (1, 2):
                    rows.append({"arch": arch, "depth": depth, "seed": seed, "epoch": epoch,
                                 "train_error": base / epoch + 0.01 * seed,
                                 "test_error": base / epoch + 0.02 * seed})
    return pd.DataFrame(rows)


def _runs(errs: dict, seeds=(0, 1, 2)):
    rows = []
    for (arch, depth), e in errs.items():
        for s in seeds:
            rows.append({"arch": arch, "depth": depth, "seed": s, "train_error": e + 0.001 * s,
                         "test_error": e + 0.01, "seconds": 1.0, "params": 1000 * depth})
    return pd.DataFrame(rows)


def test_curves_long_mean_and_spread_over_seeds_in_percent():
    long = ct.curves_long(_curves())
    assert len(long) == 4 * 2 * 2  # nets x epochs x metrics
    sel = (long["net"] == "plain-56") & (long["epoch"] == 2) & (long["metric"] == "training error")
    r = long[sel].iloc[0]
    vals = np.array([0.4, 0.41, 0.42]) * 100
    assert math.isclose(r["mean"], vals.mean()) and r["lo"] == vals.min()
    assert math.isclose(r["hi"], vals.max())
    assert r["seeds"] == 3
    assert ct.curves_long(pd.DataFrame()).empty


def test_curves_long_skips_missing_test_error():
    c = _curves()
    c["test_error"] = np.nan
    long = ct.curves_long(c)
    assert set(long["metric"]) == {"training error"}


def test_error_curves_chart_band_only_with_several_seeds():
    long = ct.curves_long(_curves())
    spec = ct.error_curves_chart(long, "training error", chance=0.9).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]
    assert marks[:3] == ["rule", "area", "line"]  # chance, seed band, mean
    one = ct.curves_long(_curves()[lambda d: d["seed"] == 0])
    marks1 = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
              for layer in ct.error_curves_chart(one, "test error").to_dict()["layer"]]
    assert "area" not in marks1


def test_he_table_formats_mean_and_std_in_percent():
    table = summarise(_runs({("plain", 20): 0.03, ("plain", 56): 0.86, ("residual", 20): 0.001,
                             ("residual", 56): 0.001}))
    he = ct.he_table(table, "stored")
    assert list(he.columns) == ["source", "architecture", "depth", "training error (%)",
                                "test error (%)", "seeds", "parameters"]
    v = np.array([0.86, 0.861, 0.862]) * 100
    assert he.iloc[1]["training error (%)"] == f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"
    single = ct.he_table(summarise(_runs({("plain", 20): 0.5}, seeds=(0,))))
    assert single.iloc[0]["training error (%)"] == "50.00" and single.iloc[0]["seeds"] == 1


def test_verdicts_follow_the_numbers():
    # residual-56 behind residual-20: claim 2 must not hold; ties within spread say so.
    table = summarise(_runs({("plain", 20): 0.6, ("plain", 56): 0.89, ("residual", 20): 0.05,
                             ("residual", 56): 0.58}, seeds=(0,)))
    vs = ct.verdicts(check_hypothesis(table), 1)
    assert [v["holds"] for v in vs] == [True, False, True]
    assert vs[1]["verdict"] == "does not hold"
    assert "residual-56: 58.00 % vs residual-20: 5.00 %" in vs[1]["measured"]
    assert "support **2 of the 3**" in ct.hypothesis_sentence(vs)
    tied = summarise(_runs({("residual", 20): 0.0012, ("residual", 56): 0.0012}))
    v2 = ct.verdicts(check_hypothesis(tied), 3)
    assert v2[0]["verdict"] == "holds, but within the seed-to-seed spread"
    assert "2 could not be tested" in ct.hypothesis_sentence(ct.verdicts(check_hypothesis(
        summarise(_runs({("plain", 20): 0.1, ("plain", 56): 0.2, ("residual", 20): 0.1}))), 3))
    assert ct.hypothesis_sentence([]).startswith("Not enough")


def _lesion_frames():
    blocks = ["stage1.block0", "stage2.block0", "stage2.block1"]
    plain = pd.DataFrame({"block": blocks, "position": [0, 1, 2], "removable": [True, False, True],
                          "accuracy_drop": [0.7, np.nan, 0.8], "accuracy": [0.2, np.nan, 0.1],
                          "base_accuracy": 0.9, "residual_ratio": np.nan, "lesion": "x"})
    res = pd.DataFrame({"block": blocks, "position": [0, 1, 2], "removable": True,
                        "accuracy_drop": [0.5, 0.08, 0.01], "accuracy": [0.45, 0.87, 0.94],
                        "base_accuracy": 0.95, "residual_ratio": [1.2, 0.5, 0.2], "lesion": "y"})
    return {"plain": plain, "residual": res}, {"stage1.block0": False, "stage2.block0": True,
                                               "stage2.block1": False}


def test_lesion_long_keeps_not_removable_rows():
    frames, ds = _lesion_frames()
    long = cl.lesion_long(frames, ds, 20)
    assert len(long) == 6
    bad = long[~long["removable"]]
    assert list(bad["block"]) == ["stage2.block0"] and bad["status"].iloc[0] == "not removable"
    assert bad["y"].iloc[0] == 0.0 and math.isnan(bad["drop_pct"].iloc[0])
    assert long.loc[long["arch"] == "residual", "drop_pct"].tolist() == [50.0, 8.0, 1.0]
    assert set(long["net"]) == {"plain-20", "residual-20"}


def test_lesion_findings_numbers():
    frames, ds = _lesion_frames()
    f = cl.lesion_findings(cl.lesion_long(frames, ds, 20), big_drop=5.0)
    assert f["plain"]["removable"] == 2 and f["plain"]["not_removable_blocks"] == ["stage2.block0"]
    assert math.isclose(f["plain"]["median_drop"], 75.0)
    r = f["residual"]
    assert math.isclose(r["median_drop"], 8.0) and r["worst_block"] == "stage1.block0"
    assert r["big_blocks"] == ["stage1.block0", "stage2.block0"] and r["big_downsampling"] == 1
    assert r["n_small"] == 1 and not r["worst_is_downsampling"]
    assert math.isclose(r["spearman_ratio_drop"], 1.0)
    assert "spearman_ratio_drop" not in f["plain"]


def test_lesion_charts_encode_what_they_say():
    frames, ds = _lesion_frames()
    long = cl.lesion_long(frames, ds, 20)
    spec = cl.lesion_drop_chart(long).to_dict()
    kinds = [layer["mark"]["type"] for layer in spec["layer"]]
    assert kinds == ["bar", "bar", "point", "text"]  # downsampling band, drops, ✕ not removable, label
    assert spec["layer"][1]["encoding"]["xOffset"]["field"] == "arch"
    ratio = cl.residual_ratio_chart(long).to_dict()
    assert ratio["encoding"]["y"]["field"] == "residual_ratio"
    data = ratio["datasets"]
    assert all(r["arch"] == "residual" for rows in data.values() for r in rows)
