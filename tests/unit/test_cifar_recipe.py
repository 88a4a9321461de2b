"""He et al. 2015 sec. 4.2's CIFAR-10 recipe: milestones in iterations, a stop at an iteration
count, the constant warm-up, the 45k/5k split, and the whole recipe end to end (milestones scaled)
on a small archive in CIFAR's format (the loader test's, tests/unit/test_data.py)."""

import json

import pytest

from resnet_explain import cli
from resnet_explain.data import DataError, cifar
from resnet_explain.experiments import cifar_he2015
from resnet_explain.spec import cifar_resnet
from resnet_explain.train import budgets
from resnet_explain.train.config import TrainConfig, TrainError, lr_at
from resnet_explain.train.runs import DataRecipe, RunRequest
from resnet_explain.train.trainer import train
from tests.unit.test_data import _build_archive


@pytest.fixture
def archive(tmp_path):
    """A data folder holding a CIFAR-format archive: 5 x 40 training images, 40 test images."""
    _build_archive(tmp_path / cifar.ARCHIVE, n=40)
    return tmp_path


def test_milestones_divide_the_lr_at_those_iterations():
    cfg = TrainConfig(schedule="step", lr=0.1, milestones=(32_000, 48_000))
    lrs = [lr_at(cfg, s, 64_000) for s in (0, 31_999, 32_000, 47_999, 48_000, 63_999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    with pytest.raises(TrainError):
        TrainConfig(milestones=(48_000, 32_000)).validate()


def test_new_fields_at_their_defaults_keep_every_run_id():
    req = RunRequest(cifar_resnet(8, width=2, in_size=8).to_query(), DataRecipe(size=8), TrainConfig())
    ident = req.identity()["config"]
    assert not {"milestones", "max_steps", "warmup_lr", "warmup_until"} & set(ident)
    other = RunRequest(req.spec, req.data, TrainConfig(max_steps=5))
    assert other.run_id != req.run_id and other.identity()["config"]["max_steps"] == 5


def _tiny():
    tr, te = DataRecipe(n_train=64, n_test=16, size=8, difficulty=0.0).load()
    return cifar_resnet(8, width=2, in_size=8), tr, te


def test_max_steps_stops_mid_epoch_and_records_the_partial_epoch():
    spec, tr, te = _tiny()
    res = train(spec, tr, te, TrainConfig(epochs=5, batch_size=16, max_steps=6, device="cpu"))
    assert res.meta["steps"] == 6 and list(res.history["epoch"]) == [1, 2]  # 4 steps, then 2


@pytest.mark.parametrize("until, warm_steps", [(1.0, 20), (0.001, 24)])
def test_constant_warmup_lasts_until_the_running_error_is_below_the_threshold(until, warm_steps):
    """Checked every 20 steps: below 100 % ends it at the first check; below 0.1 % never here."""
    spec, tr, te = _tiny()
    cfg = TrainConfig(epochs=6, batch_size=16, lr=0.1, warmup_lr=0.01, warmup_until=until, device="cpu")
    res = train(spec, tr, te, cfg)
    assert res.meta["warmup_steps"] == warm_steps
    assert res.history["lr"].iloc[0] == pytest.approx(0.01)
    assert (res.history["lr"].iloc[-1] == pytest.approx(0.01)) == (until < 0.5)


def test_the_named_recipe_is_he_et_al_sec_4_2():
    b = budgets.EXPERIMENTS["cifar10-he2015"]
    c = b.config
    assert (c.batch_size, c.lr, c.weight_decay, c.momentum, c.schedule, c.augment) == (128, 0.1, 1e-4, 0.9,
                                                                                       "step", True)
    assert (c.milestones, c.max_steps, c.epochs) == ((32_000, 48_000), 64_000, 165)  # 390 steps an epoch
    assert b.depths == (20, 32, 44, 56, 110) and b.width == 16 and b.data.size == 32
    assert b.config_for(110).warmup_lr == 0.01 and b.config_for(56).warmup_lr == 0.0
    val = budgets.EXPERIMENTS["cifar10-he2015-val"]
    assert (val.data.n_train, val.data.n_test, val.data.split, val.config.epochs) == (45_000, 5_000, "45k/5k",
                                                                                      183)


def test_the_45k_5k_split_holds_out_the_last_tenth_of_the_training_set(archive):
    tr, te = cifar.CifarRecipe(split="45k/5k", root=str(archive), download=False).load()
    full, _ = cifar.read_cifar_archive(archive / cifar.ARCHIVE)
    assert (len(tr), len(te)) == (180, 20)
    assert (te.x == full.x[180:]).all() and te.meta["split"] == "5k"
    tr, te = cifar.CifarRecipe(root=str(archive), download=False).load()
    assert (len(tr), len(te)) == (200, 40)


def test_an_extracted_folder_reads_as_the_archive(archive):
    import tarfile

    with tarfile.open(archive / cifar.ARCHIVE) as tar:
        tar.extractall(archive / "x", filter="data")
    a, b = cifar.read_cifar_archive(archive / cifar.ARCHIVE), cifar.load_cifar10(archive / "x")
    assert (a[0].x == b[0].x).all() and (a[1].y == b[1].y).all()


def test_absent_files_say_what_is_missing_and_how_to_get_them(tmp_path):
    text = cifar_he2015.missing(tmp_path)
    assert cifar.ARCHIVE in text and cifar.CIFAR10_URL in text and cifar.DATA_ENV in text
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        cifar.CifarRecipe(root=str(tmp_path), download=False).load()


def test_the_recipe_runs_end_to_end_on_the_small_archive(archive):
    res = cifar_he2015.reproduce(str(archive), iterations=3, n_train=200, depths=(20,), device="cpu")
    assert res.meta["dataset"] == "cifar10" and res.meta["train_config"]["milestones"] == (1, 2)
    assert list(res.table["arch"]) == ["plain", "residual"] and (res.runs["depth"] == 20).all()
    lrs = res.curves[res.curves["arch"] == "plain"]["lr"].tolist()  # 1 step an epoch (200 // 128)
    assert lrs == pytest.approx([0.1, 0.01, 0.001])
    side = cifar_he2015.beside_paper(res.table)
    assert side.set_index("arch").loc["residual", "paper_test_error"] == 8.75


def test_one_command_runs_it_and_offline_says_what_is_missing(archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(budgets.EXPERIMENTS, "cifar10-he2015", budgets.he2015_cifar(iterations=2,
                                                                                   root=str(archive)))
    argv = ["degradation", "--experiment", "cifar10-he2015", "--run", "--depths", "20", "--device", "cpu",
            "--json"]
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["meta"]["experiment"] == "cifar10-he2015" and len(out["runs"]) == 2

    def offline(*a, **kw):
        raise DataError("cannot download (offline?)")

    monkeypatch.setattr(cifar, "download", offline)
    empty = tmp_path / "empty"
    monkeypatch.setitem(budgets.EXPERIMENTS, "cifar10-he2015", budgets.he2015_cifar(root=str(empty)))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "offline" in err and cifar.CIFAR10_URL in err


def test_papers_numbers_beside_ours():
    assert cifar_he2015.paper_test_error("residual", 56)[0] == 6.97
    assert cifar_he2015.paper_test_error("residual", 110)[0] == 6.43
    value, where = cifar_he2015.paper_test_error("plain", 110)
    assert value is None and "over 60" in where
    assert cifar_he2015.paper_test_error("plain", 20)[0] is None
    import pandas as pd

    side = cifar_he2015.beside_paper(pd.DataFrame({"arch": ["plain", "residual"], "depth": [56, 56]}))
    assert json.loads(json.dumps(side.to_dict("records"), allow_nan=False))[0]["paper_test_error"] is None


def test_train_your_network_offers_the_depths_within_the_cap_and_names_those_that_need_a_gpu():
    from resnet_explain.content.your_network import depth_offer as sentence
    from resnet_explain.experiments.your_network import depth_offer

    quick = budgets.BUDGETS["quick"]
    o = depth_offer(quick, cap=120.0)
    assert list(o.seconds) == [20, 32, 44, 56, 110]
    assert all(a < b for a, b in zip(o.seconds.values(), list(o.seconds.values())[1:]))  # deeper costs more
    assert o.fits + o.need_gpu == [20, 32, 44, 56, 110] and all(o.seconds[d] <= 120 for d in o.fits)
    text = sentence(o)
    assert f"ResNet-{o.need_gpu[0]}" in text or f"-{o.need_gpu[0]}" in text and "need a GPU" in text
    assert depth_offer(quick, cap=None).need_gpu == []
    assert "every depth" in sentence(depth_offer(quick, cap=None))
    tiny = depth_offer(quick, cap=0.001)
    assert tiny.fits == [] and "every depth needs a GPU" in sentence(tiny)
