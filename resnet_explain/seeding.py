"""Seeds: every random thing in the project derives its own stable seed from the user's seed.

``sub_seed(seed, "stage1.block0")`` is a 63-bit seed fixed by (seed, names), so adding a block
leaves every other block's weights unchanged, and a dataset's chunks, labels and batch order are
each reproducible on their own.

``global_rng()`` is where code that must seed torch's *global* generator does it (a module's own
constructor draws its default init from it: there is no per-call generator to pass). That
generator is one per process, shared by every thread, and ``torch.random.fork_rng`` saves and
restores it without any lock; on a Streamlit server every session's script, the warm-up's headless
session and the host-speed measurement run in threads of one process. Measured
(tests/unit/test_seeding_threads.py): plain-56's first/last gradient ratio at seed 0 read
12,741 / 11,831 / 12,350 instead of 12,060, and its twin's 17.9 instead of 18.8, while another
thread built a ResNet-20 — the "1.0 × 10⁴-fold / 18-fold" a browser once showed for workshop act 3.
"""

from __future__ import annotations

import threading
import zlib
from contextlib import contextmanager

# One holder at a time of torch's global generator: a thread that seeds it and draws from it
# (a model's construction, a probe's training-mode pass, the host-speed measurement) holds this,
# so no other thread reseeds it, draws from it or restores it in between. Re-entrant: a probe
# builds its model while holding it.
_GLOBAL_RNG = threading.RLock()


def sub_seed(seed: int, *names) -> int:
    """A stable 63-bit seed derived from ``seed`` and a path of names."""
    s = int(seed)
    for name in names:
        s = (s * 1_000_003 + zlib.crc32(str(name).encode())) % (2**63 - 1)
    return s


@contextmanager
def global_rng(devices=()):
    """``torch.random.fork_rng(devices)`` held by one thread at a time (:data:`_GLOBAL_RNG`): the
    global generator is this thread's inside, and left as it was on the way out. Keep the work
    inside short (a build, one pass): every other thread that seeds the generator waits."""
    import torch  # lazily: the app shell imports sub_seed and nothing of torch

    with _GLOBAL_RNG, torch.random.fork_rng(devices=list(devices)):
        yield
