"""Fixtures the page tests share."""

import pytest

from .hostspeed import target
from .jobs import train_tiny_pair


@pytest.fixture(autouse=True)
def target_host_speed(monkeypatch):
    """Every page test runs at the target host's speed (one host measurement, installed), not at
    this machine's present load; a test may install another."""
    from resnet_explain.train import estimate as E

    monkeypatch.setitem(E._SPEEDS, E.host_key("cpu"), target())


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(yours, twin): the tiny trained pair, in a run cache the pages read for the module's tests."""
    cache = tmp_path_factory.getbasetemp() / "tiny-pair-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_EXPLAIN_CACHE", str(cache))  # the pages find the pair in this cache
        yield train_tiny_pair(cache)
