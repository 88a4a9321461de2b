"""Device choice (auto = CUDA, then MPS, then CPU; absent devices fall back with a note) and
timing that synchronises."""

from __future__ import annotations

import math
import time

import pytest
import torch

from resnet_explain.device import (
    DEVICE_CHOICES,
    available_devices,
    choose_device,
    describe,
    synchronize,
    timed,
)

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def test_available_devices_ends_with_cpu():
    devs = available_devices()
    assert devs[-1] == "cpu" and len(devs) == len(set(devs))
    assert ("cuda" in devs) == HAS_CUDA


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="an accelerator is present")
def test_auto_is_cpu_here():
    c = choose_device("auto")
    assert c.device == torch.device("cpu") and c.note == "" and c.requested == "auto"
    for req in (None, "", "  AUTO "):
        assert choose_device(req).device.type == "cpu"
    assert choose_device("cpu").note == ""


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is present")
def test_cuda_falls_back_to_cpu_with_note():
    c = choose_device("cuda")
    assert c.device.type == available_devices()[0] and c.requested == "cuda"
    assert c.note and "cuda" in c.note and "not available" in c.note


@pytest.mark.skipif(HAS_MPS, reason="MPS is present")
def test_mps_falls_back_with_note():
    c = choose_device("mps")
    assert c.device.type == available_devices()[0] and c.note


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:0", "<script>", "x" * 100])
def test_unknown_device_falls_back_with_note(name):
    c = choose_device(name)
    assert c.device.type == available_devices()[0]
    assert c.note and "unknown device" in c.note
    assert len(c.note) < 100  # the request is cut short in the note


def test_choices_are_all_understood():
    # Every choice the UI offers is a known device: it may fall back, but never as "unknown".
    assert DEVICE_CHOICES[0] == "auto" and "cpu" in DEVICE_CHOICES
    for name in DEVICE_CHOICES:
        c = choose_device(name)
        assert c.requested == name and "unknown" not in c.note
        assert c.device.type in available_devices()


def test_timed():
    with timed("cpu") as t:
        time.sleep(0.01)
    assert 0.005 <= t.seconds < 5 and math.isfinite(t.seconds)  # seconds, not ms or a timestamp
    with timed(torch.device("cpu")) as t:
        pass
    assert t.seconds < 0.5
    # The time is recorded even when the block raises.
    with pytest.raises(ZeroDivisionError):
        with timed("cpu") as t:
            time.sleep(0.01)
            1 / 0
    assert 0.005 <= t.seconds < 5
    synchronize("cpu")  # a no-op on CPU, must not fail


def test_describe_cpu():
    d = describe("cpu")
    assert set(d) >= {"device", "name", "detail", "torch"}
    assert d["device"] == "cpu" and d["torch"] == torch.__version__
    assert d["name"] and "CPU" in d["detail"]


@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_describe_cuda():  # pragma: no cover - runs on the GPU machine only
    d = describe("cuda")
    assert d["device"] == "cuda" and "GiB" in d["detail"]
    assert choose_device("auto").device.type == "cuda"
