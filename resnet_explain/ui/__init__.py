"""The only streamlit-aware code: the sidebar and its typed settings (:mod:`.sidebar`), the network
in the URL (:mod:`.url_state`), compute slots and background jobs (:mod:`.jobs`), the one long-job
lifecycle every long page uses (:mod:`.long_job`), the cached probe (:mod:`.probing`), charts
drawn from a spec cached per input (:mod:`.cached_chart`), the pair of trained runs a page studies
(:mod:`.run_picker`) and output helpers (:mod:`.widgets`). Pages use ``from resnet_explain import
ui``; the run picker's names are imported on first use (it loads the training modules, which most
pages never need).

Results are cached as DataFrames (copied per session by st.cache_data); models are built inside
the cached function and never shared between sessions.
"""

import importlib

from .cached_chart import cached_chart, cached_view
from .jobs import ServerBusy, compute_slot, queued_note, show_job
from .long_job import LongJob, host_cap, host_speed, over_cap, refuse
from .probing import MAX_PROBE_MEMORY, PROBE_BATCH, probe_cached, run_probe
from .sidebar import Settings, remember_settings, settings, sidebar
from .stage import aside, chart_height, columns, controls, on_stage
from .url_state import DEFAULT_PRESET, apply_edit, current_spec, edit_error, editor_version, set_spec
from .widgets import (chart_with_export, cost_metrics, diagram, image_picker, lazy_expander, next_step_footer,
                      show_code)

# The run picker reads trained runs (resnet_explain.train: trainer, checkpoints, runs); only the
# pages that study trained twins need it, so it is imported on first use, not with every page.
_LAZY = {name: "run_picker" for name in ("describe_run", "pick_pair", "private_model", "remember_pair",
                                         "run_test_images", "run_title", "run_variant", "shared_model")}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = ["apply_edit", "aside", "cached_chart", "cached_view", "chart_height", "chart_with_export", "columns",
           "controls", "on_stage", "compute_slot", "cost_metrics", "current_spec", "diagram",
           "DEFAULT_PRESET", "describe_run", "edit_error", "editor_version", "host_cap", "host_speed", "image_picker",
           "lazy_expander",
           "LongJob", "MAX_PROBE_MEMORY", "next_step_footer", "over_cap", "pick_pair", "private_model",
           "PROBE_BATCH", "probe_cached", "queued_note", "refuse", "remember_pair", "remember_settings",
           "run_probe", "run_test_images", "run_title", "run_variant", "ServerBusy", "set_spec",
           "settings", "Settings", "shared_model", "show_code", "show_job", "sidebar"]
