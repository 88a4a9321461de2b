"""Seeds: every random thing in the project derives its own stable seed from the user's seed.

``sub_seed(seed, "stage1.block0")`` is a 63-bit seed fixed by (seed, names), so adding a block
leaves every other block's weights unchanged, and a dataset's chunks, labels and batch order are
each reproducible on their own.
"""

from __future__ import annotations

import zlib


def sub_seed(seed: int, *names) -> int:
    """A stable 63-bit seed derived from ``seed`` and a path of names."""
    s = int(seed)
    for name in names:
        s = (s * 1_000_003 + zlib.crc32(str(name).encode())) % (2**63 - 1)
    return s
