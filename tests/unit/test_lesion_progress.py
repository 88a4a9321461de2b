"""A lesion study as long work: its size is known before it starts, it reports every forward pass,
and it can be stopped (issue: depth 56 on 2000 images blocked the page for 96 s)."""

import pytest
import torch

from resnet_explain.content.lesion import live_status
from resnet_explain.errors import Stopped
from resnet_explain.experiments.lesion import (
    estimate_seconds,
    lesion_passes,
    lesion_study,
    study_twins,
)
from resnet_explain.model import build_model
from resnet_explain.spec import cifar_resnet


def data(n=24, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, side, side, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("skip", [True, False])
def test_passes_known_from_the_spec_equal_the_passes_made(skip):
    spec = cifar_resnet(14, width=4, in_size=8, skip=skip)
    model = build_model(spec, seed=0)
    ticks = []
    df = lesion_study(model, data(), progress=lambda done, total: ticks.append((done, total)))
    made = 1 + int(df["removable"].sum())  # the whole network once, then each deletable block
    assert lesion_passes(spec) == made
    assert ticks == [(i, made) for i in range(1, made + 1)]
    # a plain net's two downsampling blocks cannot be deleted: two passes fewer than residual
    assert lesion_passes(cifar_resnet(14, skip=False)) == lesion_passes(cifar_resnet(14, skip=True)) - 2


def test_should_stop_ends_the_study_and_leaves_no_hooks():
    model = build_model(cifar_resnet(14, width=4, in_size=8), seed=0)
    ticks = []
    with pytest.raises(Stopped):
        lesion_study(model, data(), progress=lambda d, t: ticks.append(d),
                     should_stop=lambda: len(ticks) >= 3)
    assert ticks == [1, 2, 3]  # stopped before the fourth pass
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    with pytest.raises(Stopped):  # stopped before it began: not a single pass
        lesion_study(model, data(), progress=lambda d, t: ticks.append(d), should_stop=lambda: True)
    assert ticks == [1, 2, 3]


def test_study_twins_counts_passes_across_both_networks():
    specs = {"plain": cifar_resnet(8, width=4, in_size=8, skip=False),
             "residual": cifar_resnet(8, width=4, in_size=8, skip=True)}
    x, y = data(16)
    twins = {k: ((lambda s=s: (build_model(s, seed=0), None)), (x, y)) for k, s in specs.items()}
    seen = []
    tables, ds_map, secs = study_twins(twins, progress=seen.append)
    total = sum(lesion_passes(s) for s in specs.values())
    assert seen == list(range(1, total + 1))
    assert set(tables) == set(secs) == {"plain", "residual"} and all(v >= 0 for v in secs.values())
    assert ds_map == {"stage1.block0": False, "stage2.block0": True, "stage3.block0": True}
    want = lesion_study(build_model(specs["residual"], seed=0), (x, y))
    assert tables["residual"]["accuracy"].tolist() == want["accuracy"].tolist()


def test_the_estimate_is_the_passes_times_one_forward_pass_at_the_host_speed():
    from resnet_explain.train.estimate import HostSpeed, Line

    speed = HostSpeed(("cpu", 1), Line(0.0, 1e-9), Line(1e-3, 1e-9), 0.0)
    spec = cifar_resnet(14, width=4, in_size=8)
    one = speed.forward_seconds(spec, 500, 500)
    assert estimate_seconds(spec, 500, speed) == pytest.approx(lesion_passes(spec) * one)
    assert estimate_seconds(spec, 1000, speed) > estimate_seconds(spec, 500, speed)


def test_live_status_says_what_is_left_and_how_it_ended():
    label, state, frac, text = live_status(10, 40, 5.0, 500, state="running")
    assert state == "running" and frac == 0.25
    assert text == "10 of 40 forward passes over 500 images · 5 s · about 15 s left"
    assert live_status(40, 40, 20.0, 500, state="done", finished=True)[:2] == ("Finished in 20 s", "complete")
    assert live_status(12, 40, 6.0, 500, state="done")[0] == "Stopped after 6 s"
    assert "nobody was watching" in live_status(12, 40, 6.0, 500, state="done", abandoned=True)[0]
    assert live_status(1, 40, 1.0, 500, state="running", stopping=True)[0].startswith("Stopping")
    assert live_status(0, 40, 1.0, 500, state="done", error="ServerBusy")[1] == "error"
