"""Keep the collector off the imported libraries: what made a cached visit cost 0.2–0.5 CPU-s.

Streamlit runs a full ``gc.collect(2)`` after every script run (its ``runner.postScriptGC``, on by
default, so cyclic garbage of a run does not pile up). A full collection walks every object the
process tracks; with torch, pandas, Altair (and its Vega-Lite schema), jsonschema and this
library imported that is ~340,000 objects and 0.1–0.25 CPU-s on a 2-vCPU box — a profile of a
cached visit of Home (py-spy, the server) found 91 % of the script thread's time in that one call.

Almost all of those objects are the modules themselves (functions, classes, schemas, constants):
they live as long as the process, so walking them never frees anything. ``gc.freeze()`` moves
every tracked object to a permanent generation the collector skips (Python's documented use:
after start-up, gc docs; Instagram's "dismissing the garbage collector"). After a run that
imported new modules we collect once (garbage is freed, not frozen) and freeze what is left;
later collections, Streamlit's included, walk only what visits allocate since. What a run still
holds at that moment is frozen too, once per newly imported set of modules (a few times per
server, never per visit): a one-off, bounded amount that is never freed if it forms a cycle.
"""

from __future__ import annotations

import gc
import sys
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_frozen_at = 0  # len(sys.modules) when we last froze


def freeze_new_modules() -> bool:
    """Collect and freeze if modules were imported since the last freeze; True if it froze."""
    global _frozen_at
    if len(sys.modules) == _frozen_at:
        return False
    with _lock:
        if len(sys.modules) == _frozen_at:
            return False
        gc.collect()
        gc.freeze()
        _frozen_at = len(sys.modules)
    return True


@contextmanager
def frozen_imports():
    """Around a script run: afterwards (also after st.stop or a rerun), freeze what new imports
    brought."""
    try:
        yield
    finally:
        freeze_new_modules()
