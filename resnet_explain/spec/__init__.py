"""The network description: one frozen, hashable NetSpec, its URL grammar, presets and cost.

* :mod:`.netspec` — NetSpec / BlockSpec, validation, edits (insert, remove, move, set stage, ...)
* :mod:`.grammar` — the URL query string that is a spec's serialisation (``net=b16*3~b32/2,...``)
* :mod:`.presets` — He et al.'s CIFAR ResNets, their plain twins, the theory pages' MLPs
* :mod:`.zoo`     — the family around ResNet at one depth (variants for the Architectures page)
* :mod:`.cost`    — parameters, FLOPs and memory from the spec alone, before any allocation
"""

from .cost import Cost, check_budget, estimate_cost
from .grammar import NON_SPEC_KEYS, SPEC_KEYS, params_from_query, spec_from_params
from .netspec import (
                      ACTIVATIONS,
                      BLOCK_KINDS,
                      COMBINE_LABELS,
                      COMBINE_SHORT,
                      COMBINES,
                      FAMILIES,
                      INITS,
                      KIND_LABELS,
                      MAX_PARAMS,
                      NORMS,
                      SHORTCUT_LABELS,
                      SHORTCUTS,
                      BlockSpec,
                      NetSpec,
                      SpecError,
                      block_name,
                      parse_block_name,
)
from .presets import PRESETS, cifar_resnet, mlp, preset

__all__ = ["ACTIVATIONS", "BLOCK_KINDS", "BlockSpec", "COMBINES", "COMBINE_LABELS", "COMBINE_SHORT", "Cost", "FAMILIES", "INITS", "KIND_LABELS",
           "MAX_PARAMS", "NON_SPEC_KEYS", "NORMS", "NetSpec", "PRESETS", "SHORTCUTS",
           "SHORTCUT_LABELS", "SPEC_KEYS", "SpecError", "block_name", "check_budget", "cifar_resnet",
           "estimate_cost", "mlp", "params_from_query", "parse_block_name", "preset",
           "spec_from_params"]
