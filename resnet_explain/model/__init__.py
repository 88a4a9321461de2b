"""The network itself: blocks and shortcuts (:mod:`.blocks`) and ``build_model`` (:mod:`.build`).

One block class with a skip switch; stable module names (``stem``, ``stage1.block0``, ``head``).
"""

from .blocks import Block, find_blocks
from .build import Net, build_model, make_batch

__all__ = ["Block", "Net", "build_model", "find_blocks", "make_batch"]
