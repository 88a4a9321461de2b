"""The choices and hard caps of a NetSpec's fields (block kinds and combines: :mod:`.kinds`).

The caps bound what a request may even ask for; the cost budget (``estimate_cost``) bounds what it
may allocate, and both are checked before any tensor exists.
"""

from __future__ import annotations

FAMILIES = ("mlp", "cnn", "transformer")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")
NORMS = ("batch", "none", "pre", "post")
# What each family's ``norm`` may be: BatchNorm or none for mlp/cnn; for a transformer, LayerNorm
# before each sublayer (pre-LN), after each residual add (post-LN, the original Transformer) or none.
FAMILY_NORMS = {"mlp": ("batch", "none"), "cnn": ("batch", "none"), "transformer": ("pre", "post", "none")}
FAMILY_INITS = {"mlp": ("default", "kaiming", "xavier", "fixup"), "cnn": ("default", "kaiming", "xavier", "fixup"),
                "transformer": ("default", "xavier")}  # a transformer's default: GPT-2's (normal 0.02)
INITS = ("default", "kaiming", "xavier", "fixup")
# He et al. 2015, section 4.1 ("Identity vs. Projection Shortcuts").
SHORTCUTS = ("A", "B", "C")
SHORTCUT_LABELS = {
    "A": "pad: identity, zero-padded where the shape changes (He et al. 2015 option A)",
    "B": "projection (1x1 conv + norm) where the shape changes, identity elsewhere (option B)",
    "C": "projection on every block (option C)",
}
# A shortcut option in a narrow select box; SHORTCUT_LABELS says it in full.
SHORTCUT_SHORT = {"A": "A: zero-pad", "B": "B: 1×1 if needed", "C": "C: 1×1 always"}

MAX_BLOCKS = 1000  # ResNet-1202 has 600 blocks
MAX_WIDTH = 1024
MIN_WIDTH = 1
MAX_STRIDE = 2
MAX_CLASSES = 1000
MAX_IN_FEATURES = 4096
MAX_IN_CHANNELS = 16
MAX_IN_SIDE = 256
MIN_IN_SIDE = 4
MAX_PARAMS = 100_000_000
MAX_RES_SCALE = 10.0
MAX_GATE_BIAS = 20.0
MIN_SURVIVAL = 0.05
MAX_CARDINALITY = 64
MAX_HEADS = 64
MAX_CONTEXT = 4096
MAX_VOCAB = 65536
