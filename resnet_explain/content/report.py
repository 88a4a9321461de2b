"""The sentences of the shareable HTML report (:mod:`resnet_explain.report`)."""

from __future__ import annotations


def verdict_sentence(markdown: str, n_blocks: int) -> str:
    """A probe's verdict (:func:`resnet_explain.content.verdict.judge_blocks`'s markdown) as one
    sentence: "Over 8 blocks, the gradient grows **2.1-fold** toward the input."."""
    return f"Over {n_blocks} blocks, the gradient {markdown}."
