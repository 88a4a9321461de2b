"""Pure chart/table functions of the Training and Lesion pages (and the stored results they show)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from resnet_explain.chance import chance_error
from resnet_explain.charts import lesion as cl
from resnet_explain.charts import training as ct
from resnet_explain.content import training as words
from resnet_explain.experiments.degradation import (
    STORED_DIR,
    check_hypothesis,
    load_stored,
    summarise,
)
from resnet_explain.train.budgets import EXPERIMENTS


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
    assert marks[:4] == ["rule", "text", "area", "line"]  # chance, its name, seed band, mean
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
    table = summarise(_runs({("plain", 20): 0.6, ("plain", 56): 0.7, ("residual", 20): 0.05,
                             ("residual", 56): 0.58}, seeds=(0,)))
    vs = words.verdicts(check_hypothesis(table), 1)
    assert [v["holds"] for v in vs] == [True, False, True]
    assert vs[1]["verdict"] == "does not hold"
    assert "residual-56: 58.00 % vs residual-20: 5.00 %" in vs[1]["measured"]
    assert "support **2 of the 3**" in words.hypothesis_sentence(vs)
    tied = summarise(_runs({("residual", 20): 0.0012, ("residual", 56): 0.0012}))
    v2 = words.verdicts(check_hypothesis(tied), 3)
    assert v2[0]["verdict"] == "holds, but within the seed-to-seed spread"
    assert "2 could not be tested" in words.hypothesis_sentence(words.verdicts(check_hypothesis(
        summarise(_runs({("plain", 20): 0.1, ("plain", 56): 0.2, ("residual", 20): 0.1}))), 3))
    assert words.hypothesis_sentence([]).startswith("Not enough")


def test_a_claim_on_a_network_that_never_left_chance_is_not_testable_and_not_counted():
    # plain-56 at 89 % training error (chance 90 %) never left chance: the two claims resting on
    # it are "not testable here", never "holds", and the count is of the testable one only.
    table = summarise(_runs({("plain", 20): 0.03, ("plain", 56): 0.89, ("residual", 20): 0.001,
                             ("residual", 56): 0.001}))
    hyp = check_hypothesis(table, chance=0.9)
    assert [h["testable"] for h in hyp] == [False, True, False]
    assert [h["holds"] for h in hyp] == [False, True, False]
    assert hyp[0]["untestable"] == ["plain-56"]
    vs = words.verdicts(hyp, 3)
    assert vs[0]["verdict"] == "not testable here: plain-56 never left chance"
    assert words.verdict_line(vs[0]).startswith(":material/help:")
    sentence = words.hypothesis_sentence(vs)
    assert "support **1 of the 1** claims" in sentence and "2 not testable here: they rest on a network" in sentence
    none = summarise(_runs({("plain", 20): 0.89, ("plain", 56): 0.89}))
    assert words.hypothesis_sentence(words.verdicts(check_hypothesis(none), 3)).startswith(
        "None of the 1 claims is testable")


def test_convergence_display_says_never_and_the_seed_range():
    from resnet_explain.experiments.convergence import convergence_table

    curves = _curves()  # plain: 0.8/epoch, residual 0.3/epoch, +0.01 per seed
    curves.loc[(curves["arch"] == "plain") & (curves["depth"] == 56), "train_error"] = 0.9
    table = ct.convergence_display(convergence_table(curves, spe=10, thresholds=(0.5, 0.2)))
    assert list(table.columns) == ["architecture", "depth", "steps to 50%", "steps to 20%",
                                   "mean training error over the run (%)", "seeds"]
    row = table[(table["architecture"] == "plain") & (table["depth"] == 56)].iloc[0]
    assert row["steps to 50%"] == "never" and row["mean training error over the run (%)"].startswith("90.0")
    res = table[(table["architecture"] == "residual") & (table["depth"] == 20)].iloc[0]
    assert res["steps to 20%"] == "20"  # 0.15-0.17 at epoch 2 for every seed


def test_load_stored_reads_the_three_files_and_summarises_the_runs():
    stored = load_stored()
    runs = pd.read_csv(STORED_DIR / "runs.csv")
    assert len(stored.runs) == len(runs) == 12 and len(stored.curves) == 12 * 12  # 12 runs x 12 epochs
    assert stored.meta == json.loads((STORED_DIR / "results.json").read_text())["meta"]
    assert stored.n_seeds == 3
    p56 = runs[(runs["arch"] == "plain") & (runs["depth"] == 56)]["train_error"]
    row = stored.table[(stored.table["arch"] == "plain") & (stored.table["depth"] == 56)].iloc[0]
    assert math.isclose(row["train_error"], p56.mean()) and math.isclose(row["train_error_std"], p56.std())


def test_load_stored_from_another_folder(tmp_path: Path):
    _curves().to_csv(tmp_path / "curves.csv", index=False)
    _runs({("plain", 20): 0.5}, seeds=(0, 1)).to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "results.json").write_text(json.dumps({"meta": {"seeds": [0, 1]}, "rows": []}))
    stored = load_stored(tmp_path)
    assert stored.n_seeds == 2 and list(stored.table["seeds"].iloc[0]) == [0, 1]


def test_chance_error_is_one_minus_one_over_the_classes_of_the_data():
    train, _ = EXPERIMENTS["cpu-live"].with_(n_train=20, n_test=10).data.load()
    assert math.isclose(chance_error(), 1 - 1 / len(train.classes)) and math.isclose(chance_error(), 0.9)
    assert chance_error(2) == 0.5


def test_near_chance_names_the_networks_that_did_not_learn():
    # The one rule: accuracy less than 10 % of the way from chance (10 %) to 100 %, i.e. a
    # training error above 0.81 with 10 classes.
    table = summarise(_runs({("plain", 20): 0.03, ("plain", 56): 0.86, ("residual", 56): 0.80}))
    assert ct.near_chance(table, 0.9) == ["plain-56"]  # 0.861 > 0.81; residual-56 at 0.801 is not
    worse = summarise(_runs({("plain", 56): 0.86, ("residual", 56): 0.82}))
    assert ct.near_chance(worse, 0.9) == ["plain-56", "residual-56"]
    warning = words.chance_warning(table, 0.9)
    assert warning.startswith("Never left chance (90% error; less than 10% of the way")
    assert "at the end: plain-56." in warning
    assert words.chance_warning(table, 0.99) is None and ct.near_chance(pd.DataFrame(), 0.9) == []


def test_verdict_line_marks_and_quotes_the_numbers():
    table = summarise(_runs({("plain", 20): 0.6, ("plain", 56): 0.7}, seeds=(0,)))
    v = words.verdicts(check_hypothesis(table), 1)[0]
    assert words.verdict_line(v) == (":material/check_circle: *plain-56 trains worse than plain-20 "
                                  "(degradation)* — **holds**: plain-56: 70.00 % vs plain-20: 60.00 %.")
    assert words.verdict_line({**v, "holds": False}).startswith(":material/cancel:")


def test_he_tables_stacks_labelled_sources():
    a = summarise(_runs({("plain", 20): 0.1, ("residual", 20): 0.05}))
    b = summarise(_runs({("plain", 8): 0.2}, seeds=(0,)))
    both = ct.he_tables([(a, "stored"), (b, "live #1")])
    assert list(both["source"]) == ["stored", "stored", "live #1"]
    assert list(both["depth"]) == [20, 20, 8] and list(both["seeds"]) == [3, 3, 1]


def test_captions_say_the_budget_from_the_numbers():
    stored = load_stored()
    cap = words.stored_caption(stored.meta)
    assert "5,000 training / 2,000 test images, 16×16 px" in cap and "seeds 0, 1, 2" in cap
    assert "in 777 s" in cap and "scripts/make_assets.py" in cap
    assert "dotted: chance (90% error, 10 classes)" in words.curves_caption(3, 0.9)
    pre = words.preset_caption(EXPERIMENTS["cpu-live"], 7)
    assert pre.startswith("Default budget: the **`cpu-live` preset**") and "one seed, 7 from the sidebar" in pre
    assert "one-cycle learning rate" in pre and "onecycle" not in pre  # the schedule explained
    assert "1,500 training / 1,000 test images" in pre and "8 epochs, batch 32" in pre
    plan = words.plan_caption(4, 96, 2, "CPU only (2 threads)", 12.4)
    assert plan.startswith("4 networks × 96 images × 2 epochs on **CPU only (2 threads)**.")
    assert "Rough estimate on a CPU: 12 s" in plan
    assert "under 1 s" in words.plan_caption(1, 32, 1, "x", 0.3)
    assert words.plan_caption(1, 32, 1, "an H100").startswith("1 network ×")
    assert "estimate" not in words.plan_caption(1, 32, 1, "an H100")
    meta = {"label": "CPU live", "n_train": 1500, "n_test": 1000, "epochs": 8, "seeds": [3],
            "detail": "CPU only", "torch": "2.13", "threads": 2, "wall_seconds": 61.26}
    assert words.live_caption(meta) == ("CPU live with this budget: 1,500 training / 1,000 test images, "
                                     "8 epochs, seed 3, on CPU only, 2 CPU threads, torch 2.13: 61.3 s wall.")
    one = words.live_caption({**meta, "detail": "CPU only (1 thread)", "threads": 1})
    assert "CPU only (1 thread), torch 2.13" in one and "threads" not in one
    assert words.live_caption({**meta, "stopped": True}).endswith("only finished networks are in the table.")


def _rec(run, arch, depth, epoch):
    return {"arch": arch, "depth": depth, "run": run, "runs": 4, "epoch": epoch, "train_error": 0.5,
            "test_error": 0.625, "images_per_s": 812.4}


def test_live_progress_follows_the_run():
    recs = [_rec(1, "plain", 8, 1), _rec(1, "plain", 8, 2), _rec(2, "residual", 8, 1)]
    p = words.live_progress(recs, 8, 2, 12.3, state="running")
    assert p.label == "Training residual-8 (network 2 of 4): epoch 1 of 2 done · 12 s"
    assert p.state == "running" and p.fraction == 3 / 8 and p.text == "3 / 8 epochs"
    assert words.live_progress([], 8, 2, 0.4, state="running").label == "Training the first network… 0 s"
    assert words.live_progress([], 8, 2, 0.4, state="queued").label == "Queued: waiting for the server…"
    assert words.live_progress(recs, 8, 2, 5, state="running", stopping=True).label.startswith("Stopping")
    done = words.live_progress(recs * 2 + recs[:2], 8, 2, 30.2, state="done", finished=4)
    assert (done.label, done.state, done.fraction) == ("Finished: 4 networks, 8 epochs in 30 s", "complete", 1.0)
    stopped = words.live_progress(recs, 8, 2, 9.6, state="done", stopped=True, finished=1)
    assert stopped.label == "Stopped after 3 of 8 epochs, 10 s: 1 network finished"
    gone = words.live_progress(recs, 8, 2, 70, state="done", stopped=True, abandoned=True)
    assert gone.label.startswith("Stopped (nobody was watching) after 3 of 8") and "0 networks" in gone.label
    failed = words.live_progress(recs, 8, 2, 1, state="done", error="RuntimeError: out of memory")
    assert (failed.label, failed.state) == ("Failed: RuntimeError: out of memory", "error")
    assert words.live_progress(recs, 0, 2, 1, state="running").fraction == 1.0  # never over 1
    assert words.epoch_line(recs[0]) == ("plain-8 epoch 1: training error 50.0%, test error 62.5%, "
                                      "812 images/s")


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
