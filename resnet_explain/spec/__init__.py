"""The network description: one frozen, hashable NetSpec, its URL grammar, presets and cost.

* :mod:`.kinds`    — THE registry of block kinds and combines (one entry each: code, labels,
  layers, join, constraints, body recipe, diagram text)
* :mod:`.block`    — BlockSpec (one block) and block names (``stage1.block0``)
* :mod:`.netspec`  — NetSpec and its edits (insert, remove, move, set stage, ...)
* :mod:`.validate` — what a NetSpec must satisfy (field caps and choices: :mod:`.limits`)
* :mod:`.grammar`  — the URL query string that is a spec's serialisation (``net=b16*3~b32/2,...``)
* :mod:`.layouts`  — He et al.'s CIFAR ResNet (6n+2) and the theory pages' MLP
* :mod:`.presets`  — named networks: ResNets, their plain twins, the MLPs, the zoo at depth 20
* :mod:`.zoo`      — the family around ResNet at one depth (variants for the Architectures page)
* :mod:`.cost`     — parameters, FLOPs and memory from the spec alone, before any allocation
"""

from .block import BlockSpec, block_label, block_name, parse_block_name
from .cost import Cost, check_budget, estimate_cost
from .errors import SpecError
from .grammar import SPEC_KEYS, params_from_query
from .kinds import BLOCK_KINDS, COMBINES, Combine, Kind, register_combine, register_kind
from .layouts import cifar_resnet, mlp
from .limits import (
                     ACTIVATIONS,
                     FAMILIES,
                     INITS,
                     MAX_PARAMS,
                     NORMS,
                     SHORTCUT_LABELS,
                     SHORTCUT_SHORT,
                     SHORTCUTS,
)
from .netspec import NetSpec
from .presets import PRESETS, preset

__all__ = ["ACTIVATIONS", "BLOCK_KINDS", "BlockSpec", "COMBINES", "Combine", "Cost", "FAMILIES", "INITS",
           "Kind", "MAX_PARAMS", "NORMS", "NetSpec", "PRESETS", "SHORTCUTS", "SHORTCUT_LABELS",
           "SHORTCUT_SHORT", "SPEC_KEYS", "SpecError", "block_label", "block_name", "check_budget", "cifar_resnet",
           "estimate_cost", "mlp", "params_from_query", "parse_block_name", "preset", "register_combine",
           "register_kind"]
