"""The study note this app teaches from (the project's seed, "Day 3: ResNet Theory"), its claims
quoted as it prints them, so the Home page's "Your notes vs the papers" box can set each beside the
paper's figure (:func:`.claims.note_errors`). Quotations, not results: every figure here is the
note's, never a paper's or ours."""

from __future__ import annotations

# Section "Experimental Evidence", "Training on CIFAR-10" (its table: training / test error).
CIFAR_TABLE = ("A CIFAR-10 table from “the ResNet paper”: plain-20 8.75 % / 8.15 %, plain-56 10.75 % / "
               "9.45 %, ResNet-20 8.45 % / 7.89 %, ResNet-56 6.34 % / 6.18 % (training / test error)")
# Section "ImageNet Results (2015)".
PREVIOUS_BEST = "“Previous best (VGG-19): 7.3% top-5 error”"
ENSEMBLE = "“ResNet-152: 3.57% top-5 error (won ILSVRC 2015)”"
# Section "The Identity Hypothesis".
SIXTEEN_BLOCKS = "“Deeper model: 34 layers with last 16 blocks learning ≈ identity”"
IDENTITY_QUOTE = ("its quotation of He et al.: “If the added layers can be constructed as identity "
                  "mappings, a deeper model should produce no higher training error than its shallower "
                  "counterpart.”")
# Section "The Vanishing Gradient Problem", and the "Visualization" block.
SIGMOID_BOUND = "20-layer sigmoid network: “gradient = 0.25 × … × 0.25 (20 times) ≈ 9 × 10⁻¹³”"
RESNET_ONE = "ResNet (20 blocks): “gradient ≈ 1.0²⁰ = 1.0”"
