"""Choose and describe the device; time work honestly (synchronise before reading the clock)."""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def available_devices() -> list[str]:
    """Device kinds present on this machine, best first (always ends with cpu)."""
    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    if _mps_available():
        out.append("mps")
    out.append("cpu")
    return out


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    requested: str
    note: str  # empty, or why the request could not be honoured


def choose_device(requested: str = "auto") -> DeviceChoice:
    """auto = CUDA, then MPS, then CPU. An absent device falls back to the best present one and
    says so in ``note`` rather than raising."""
    req = (requested or "auto").strip().lower()
    present = available_devices()
    if req not in DEVICE_CHOICES:
        return DeviceChoice(torch.device(present[0]), req,
                            f"unknown device {requested[:20]!r}; using {present[0]}")
    if req == "auto":
        return DeviceChoice(torch.device(present[0]), req, "")
    if req in present:
        return DeviceChoice(torch.device(req), req, "")
    return DeviceChoice(torch.device(present[0]), req,
                        f"{req} is not available on this machine; using {present[0]}")


def describe(device: torch.device | str) -> dict:
    """A small dict for display: kind, model name, torch version."""
    dev = torch.device(device)
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        name = torch.cuda.get_device_name(idx)
        mem = torch.cuda.get_device_properties(idx).total_memory
        detail = f"{name}, {mem / 2**30:.0f} GiB"
    elif dev.type == "mps":
        name = "Apple GPU (MPS)"
        detail = name
    else:
        name = platform.processor() or platform.machine() or "CPU"
        n = torch.get_num_threads()
        detail = f"CPU only ({n} thread{'' if n == 1 else 's'})"
    return {"device": dev.type, "name": name, "detail": detail, "torch": torch.__version__}


def synchronize(device: torch.device | str) -> None:
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


@contextmanager
def timed(device: torch.device | str):
    """``with timed(dev) as t: ...`` then ``t.seconds``; synchronises before both clock reads."""

    class _T:
        seconds = float("nan")

    t = _T()
    synchronize(device)
    start = time.perf_counter()
    try:
        yield t
    finally:
        synchronize(device)
        t.seconds = time.perf_counter() - start
