"""The gradient probe behind every page that shows one: cached as DataFrames (models never leave
the cached function), bounded by a memory estimate made before anything is allocated, and errors
a visitor can cause shown as messages."""

from __future__ import annotations

import time

import streamlit as st
import torch

from ..probe import probe_spec
from ..spec import NetSpec, SpecError, check_budget
from .jobs import ServerBusy, compute_slot, queued_note
from .sidebar import Settings

MAX_PROBE_MEMORY = 2 * 2**30


PROBE_BATCH = 32


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def probe_cached(spec_query: str, seed: int, device: str, batch: int = PROBE_BATCH,
                 float64: bool = False):
    """Probe the spec (by its query string, the cache key) -> (blocks, params, meta)."""
    spec = NetSpec.from_query(spec_query)
    check_budget(spec, batch, MAX_PROBE_MEMORY)
    with compute_slot():
        res = probe_spec(spec, seed=seed, batch=batch, device=torch.device(device),
                         dtype=torch.float64 if float64 else None)
    return res.blocks, res.params, res.meta


def run_probe(spec: NetSpec, settings: Settings, batch: int = PROBE_BATCH, float64: bool = False):
    """Probe with a clear message instead of a traceback for anything the user can cause."""
    t0 = time.perf_counter()
    try:
        check_budget(spec, batch, MAX_PROBE_MEMORY)
        with queued_note("this probe"):
            blocks, params, meta = probe_cached(spec.to_query(), settings.seed,
                                                settings.device.type, batch, float64)
    except ServerBusy as exc:
        st.warning(str(exc).capitalize())
        return None
    except SpecError as exc:
        st.error(f"This network is over this server's limits — {exc}")
        return None
    except RuntimeError as exc:  # e.g. CUDA out of memory
        if "out of memory" in str(exc).lower():
            _free_device_memory()
            st.error("The device ran out of memory for this network. Use a smaller batch or fewer "
                     "blocks.")
            return None
        raise
    meta = dict(meta)
    meta["server_seconds"] = time.perf_counter() - t0
    return blocks, params, meta


def _free_device_memory():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
