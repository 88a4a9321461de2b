"""Runs: inputs -> id, train once then load, LRU eviction under a cap, bit-identical reload."""

import json
from dataclasses import replace

import pytest
import torch

from resnet_explain.spec import NetSpec, SpecError, cifar_resnet
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import DataRecipe, RunError, RunRequest, RunStore, train_run


def tiny_request(skip=True, seed=0, epochs=2) -> RunRequest:
    spec = cifar_resnet(8, skip=skip, width=2, in_size=8)
    return RunRequest(spec=spec.to_query(), data=DataRecipe(n_train=64, n_test=32, size=8, difficulty=0.0),
                      config=TrainConfig(epochs=epochs, batch_size=16, lr=0.05, seed=seed, device="cpu"))


@pytest.fixture
def store(tmp_path):
    return RunStore(root=tmp_path / "runs", cap_bytes=10 * 2**20, shipped_root=tmp_path / "shipped")


def test_id_is_fixed_by_the_inputs_only():
    a, b = tiny_request(), tiny_request()
    assert a.run_id == b.run_id and len(a.run_id) == 16
    assert tiny_request(seed=1).run_id != a.run_id
    assert tiny_request(skip=False).run_id != a.run_id
    assert replace(a, data=replace(a.data, n_train=65)).run_id != a.run_id
    # The device is not part of the identity, the precision the trainer resolves for it is:
    # float32 and bf16 runs learn different numbers.
    off = replace(a, config=replace(a.config, amp="off", channels_last="off"))
    assert replace(off, config=replace(off.config, device="auto")).run_id == off.run_id
    assert replace(off, config=replace(off.config, amp="bf16")).run_id != off.run_id
    from resnet_explain.device import choose_device
    from resnet_explain.train.trainer import precision

    amp, cl = precision(a.config, choose_device("cpu").device)
    assert a.identity()["config"]["amp"] == ("bf16" if amp else "off")
    assert a.identity()["config"]["channels_last"] == ("on" if cl else "off")
    # The same network written two ways is one run (the spec is stored canonically).
    plain = tiny_request(skip=False)
    assert "net=b2!~b4/2!~b8/2!" in plain.spec
    old = RunRequest(spec=plain.spec.replace("net=b2!~b4/2!~b8/2!", "net=p2~p4/2~p8/2"),
                     data=plain.data, config=plain.config)
    assert old.spec == plain.spec and old.run_id == plain.run_id


def test_bad_inputs_are_refused_before_training():
    with pytest.raises(SpecError):
        RunRequest(spec="fam=cnn&net=x", data=DataRecipe())
    with pytest.raises(RunError):  # a 32x32 network on 16x16 data
        RunRequest(spec=cifar_resnet(8).to_query(), data=DataRecipe(size=16))


def test_twin_request_toggles_the_skips_only():
    a = tiny_request()
    t = a.twin()
    assert NetSpec.from_query(t.spec) == NetSpec.from_query(a.spec).twin()
    assert t.data == a.data and t.config == a.config and t.run_id != a.run_id


def test_train_once_then_load_without_training(store, monkeypatch):
    req = tiny_request()
    run, loaded = train_run(req, store)
    assert not loaded and run.run_id == req.run_id
    assert len(run.history) == 2 and run.history["train_loss"].iloc[-1] < run.history["train_loss"].iloc[0] * 1.5
    assert 0.0 <= run.meta["train_error"] <= 1.0 and run.meta["name"] == "residual-8" and run.name == "residual-8"
    from resnet_explain.train import trainer

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(trainer, "train", boom)
    again, loaded = train_run(req, store)
    assert loaded and again.run_id == run.run_id
    assert again.history.equals(run.history)


def test_reload_is_bit_identical(store):
    run, _ = train_run(tiny_request(), store)
    m1 = run.load_model()[0]
    m2 = store.get(run.run_id).load_model()[0]
    for (n1, t1), (n2, t2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2 and torch.equal(t1, t2)
    assert m1 is not m2  # every caller gets its own copy


def test_request_round_trips_through_the_stored_json(store):
    req = tiny_request()
    run, _ = train_run(req, store)
    back = RunRequest.from_identity(json.loads((run.path / "request.json").read_text()))
    assert back.run_id == req.run_id


def test_eviction_keeps_the_cap_least_recently_used_first(tmp_path):
    store = RunStore(root=tmp_path / "runs", cap_bytes=10**9, shipped_root=tmp_path / "none")
    runs = [train_run(tiny_request(seed=s, epochs=1), store)[0] for s in range(3)]
    size = sum(r["bytes"] for _, r in store.list().iterrows())
    store.get(runs[0].run_id)  # used last: must survive
    import os
    import time

    os.utime(runs[1].path, (time.time() - 100, time.time() - 100))
    store.cap_bytes = int(size * 0.7)
    gone = store.evict()
    assert gone == [runs[1].run_id] or runs[1].run_id in gone
    assert store.has(runs[0].run_id)
    assert sum(r["bytes"] for _, r in store.list().iterrows()) <= store.cap_bytes


def test_unknown_or_malformed_ids_are_refused_never_used_as_paths(store):
    for bad in ("0" * 16, "../../etc/passwd", "", "ABCDEF0123456789", "x" * 200):
        assert not store.has(bad)
        with pytest.raises(RunError):
            store.get(bad)


def test_a_stopped_run_is_not_stored(store):
    from resnet_explain.errors import Stopped

    with pytest.raises(Stopped):
        train_run(tiny_request(), store, should_stop=lambda: True)
    assert store.list().empty


def test_budget_requests_resize_the_network_only():
    from resnet_explain.train.budgets import BUDGETS

    spec = cifar_resnet(20)
    req = BUDGETS["quick"].request(spec, seed=3, device="cpu")
    got = NetSpec.from_query(req.spec)
    assert got.in_size == 16 and got.stages == spec.stages and req.config.seed == 3
    assert req.twin().run_id == BUDGETS["quick"].request(spec.twin(), seed=3).run_id
    assert BUDGETS["full"].request(spec).data.size == 32


def test_one_budget_type_for_the_pages_and_the_degradation_experiment():
    from resnet_explain.experiments.degradation import network, requests
    from resnet_explain.train.budgets import BUDGETS, EXPERIMENTS, named
    from resnet_explain.train.config import TrainError

    live = EXPERIMENTS["cpu-live"]
    b = live.with_(n_train=100, n_test=40, data_seed=3, epochs=2, device="cpu", depths=(8,), seeds=(1, 2))
    assert (b.n_train, b.n_test, b.data.seed, b.data.size) == (100, 40, 3, live.data.size)
    assert (b.config.epochs, b.config.device, b.depths, b.seeds) == (2, "cpu", (8,), (1, 2))
    assert b.with_(n_train=None, epochs=None) == b
    reqs = requests(b, ("plain", "residual"))
    assert [(q.netspec.arch, q.config.seed) for q in reqs] == [("plain", 1), ("plain", 2),
                                                              ("residual", 1), ("residual", 2)]
    assert reqs[2] == b.request(network(b, "residual", 8), seed=1, device="cpu")
    # The pages' full budget stays the quick GPU pair it was (its stored run ids unchanged); the
    # gpu experiment has its own, harder recipe.
    spec = network(EXPERIMENTS["gpu"], "residual", 20)
    assert EXPERIMENTS["gpu"].request(spec).run_id != BUDGETS["full"].request(spec).run_id
    assert (BUDGETS["full"].data.n_train, BUDGETS["full"].config.epochs) == (20000, 6)
    with pytest.raises(TrainError, match="unknown budget 'huge'; known: quick, full"):
        named("huge", BUDGETS)


def test_every_shipped_run_is_found_by_its_own_inputs():
    """The folder name is the id of the stored request (float32: how the twins were trained), so
    asking for exactly those inputs loads the shipped run instead of training again."""
    from resnet_explain.train import shipped
    from resnet_explain.train.runs import SHIPPED_DIR

    folders = [p for p in SHIPPED_DIR.iterdir() if (p / "model.pt").is_file()]
    assert len(folders) == 4
    for p in folders:
        req = RunRequest.from_identity(json.loads((p / "request.json").read_text()))
        assert req.run_id == p.name and req.config.amp == "off"
    assert shipped.run("plain20").request.twin().run_id == shipped.run("residual20").run_id


def test_snapshots_and_the_step_curve_leave_a_shipped_run_its_id():
    """The shipped runs were trained again with snapshots and the per-step curve on
    (scripts/make_shipped_records.py); neither is part of a run's identity, so the same inputs
    name the same run whatever those settings are, and each shipped run carries both."""
    from dataclasses import replace

    from resnet_explain.train import shipped

    for name in shipped.shipped():
        run = shipped.run(name)
        for every, curve in ((0, 0), (24, 8), (1, 1), (8, 0)):
            again = replace(run.request, config=replace(run.request.config, snapshot_every=every,
                                                        curve_every=curve))
            assert again.run_id == run.run_id
        assert len(run.grads) and len(run.steps), f"{name} carries no snapshots or per-step curve"
        every = run.meta["records"]["snapshot_every"]
        assert sorted(run.grads["step"].unique())[:2] == [0, every]
        # the curve's windows add up to the stored per-epoch history
        per_epoch = run.steps.groupby("epoch")["steps"].sum()
        assert len(per_epoch) == len(run.history) and per_epoch.nunique() == 1


def test_a_runs_snapshots_and_curve_are_read_when_asked_for(monkeypatch):
    """RunStore.get reads the request, history and meta; the snapshots (grads.csv, ~85 KB for a
    shipped run) and the per-step curve only when a caller asks for them: a page that lists or
    names runs on every visit reads neither."""
    import pandas as pd

    from resnet_explain.train import shipped

    read = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda f, *a, **k: read.append(str(f)) or real(f, *a, **k))
    run = shipped.run("plain20")
    assert not [f for f in read if f.endswith(("grads.csv", "steps.csv"))]
    grads = run.grads
    assert [f for f in read if f.endswith("grads.csv")] and len(grads) > 0
    pd.testing.assert_frame_equal(grads, real(run.path / "grads.csv"))
    assert run.grads is grads  # read once
    pd.testing.assert_frame_equal(run.steps, real(run.path / "steps.csv"))


def test_a_run_is_read_once_while_its_files_are_unchanged(store, monkeypatch):
    """RunStore.get parses a run's request, history and meta once per process (pages name the same
    six runs on every visit); each caller gets its own copies, and a rewritten file is read again."""
    import os

    import pandas as pd

    run, _ = train_run(tiny_request(), store)
    first = store.get(run.run_id)
    read = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda f, *a, **k: read.append(str(f)) or real(f, *a, **k))
    again = store.get(run.run_id)
    assert not read and again.history.equals(first.history) and again.meta == first.meta
    again.history.loc[0, "train_loss"] = -1.0  # a caller's edits stay its own
    again.meta["name"] = "changed"
    third = store.get(run.run_id)
    assert third.history.equals(first.history) and third.meta["name"] == first.meta["name"]
    meta = run.path / "meta.json"
    stat = meta.stat()
    meta.write_text(json.dumps({**first.meta, "name": "renamed"}))
    os.utime(meta, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert store.get(run.run_id).meta["name"] == "renamed"
