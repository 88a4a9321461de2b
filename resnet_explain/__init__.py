"""resnet-explain: measure why residual connections let deep networks train.

    >>> from resnet_explain import preset, probe_spec
    >>> r = probe_spec(preset("plain56"), seed=0)
    >>> r.blocks[["block", "grad_norm"]]        # one row per block, input -> output

Around your own model and loop: ``probe(model, x, y)``, ``with watch(model, every=8) as w:``,
``report(model, x, y, "report.html")`` (see README, "Use it on your own model").

Importing this package does not import streamlit (only ``resnet_explain.ui`` does).
"""

from .model import build_model, make_batch
from .probe import ProbeResult, probe, probe_spec
from .report import report
from .spec import (
                   PRESETS,
                   BlockSpec,
                   Cost,
                   NetSpec,
                   SpecError,
                   check_budget,
                   cifar_resnet,
                   estimate_cost,
                   mlp,
                   preset,
)
from .watch import Watch, watch

__all__ = ["BlockSpec", "Cost", "NetSpec", "PRESETS", "ProbeResult", "SpecError", "build_model",
           "check_budget", "cifar_resnet", "estimate_cost", "make_batch", "mlp", "preset", "probe",
           "probe_spec", "report", "watch", "Watch"]
__version__ = "0.1.0"
