"""The Misconceptions page's computed sentences: each one reads its own numbers from the
experiment's tables (resnet_explain.experiments.misconceptions)."""

from __future__ import annotations

import pandas as pd

from ..magnitude import fmt_ratio

SMALL_LOSS_GAP = 0.1  # a final-loss difference below this is "little difference"


def depth_sentence(summary: pd.DataFrame, shallow: int, deep: int) -> str:
    """Plain vs residual final loss at a shallow and a deep depth, from ``train_compare``'s
    summary (columns depth, variant, final_loss, accuracy)."""
    sm = summary.set_index(["depth", "variant"])
    d_sh = sm.loc[(shallow, "plain"), "final_loss"] - sm.loc[(shallow, "residual"), "final_loss"]
    d_dp = sm.loc[(deep, "plain"), "final_loss"] - sm.loc[(deep, "residual"), "final_loss"]
    return (
        f"At depth **{shallow}** (one block) plain and residual end at loss "
        f"{sm.loc[(shallow, 'plain'), 'final_loss']:.3f} and {sm.loc[(shallow, 'residual'), 'final_loss']:.3f} "
        f"(difference {d_sh:+.3f}): the skip makes "
        + ("little difference" if abs(d_sh) < SMALL_LOSS_GAP else "a difference")
        + f". At depth **{deep}**: plain {sm.loc[(deep, 'plain'), 'final_loss']:.3f} "
        f"(accuracy {sm.loc[(deep, 'plain'), 'accuracy']:.0%}), residual "
        f"{sm.loc[(deep, 'residual'), 'final_loss']:.3f} (accuracy {sm.loc[(deep, 'residual'), 'accuracy']:.0%}), "
        f"difference {d_dp:+.3f}. Skips matter when the network is deep enough for depth to hurt; in a "
        "shallow net there is little to fix (He et al. 2015, table 2: the 18-layer plain and residual "
        "ImageNet nets reach similar error, the 34-layer ones do not)."
    )


def _moved(v: float) -> str:
    return ("**exactly 0** (its updates were too small to change a float32 weight at all)" if v == 0
            else f"**{fmt_ratio(v, digits=2)}** of its size")


def weight_change_sentence(change: pd.DataFrame, deep: int) -> str:
    """How far the first and the last block's weights moved, plain vs residual, from
    ``train_compare``'s weight-change table (depth, variant, layer, rel_change; layer 0 = stem)."""
    ch = change[change["depth"] == deep]
    first = ch[ch["layer"] == 1].set_index("variant")["rel_change"]
    last = ch[ch["layer"] == ch["layer"].max() - 1].set_index("variant")["rel_change"]
    return (
        f"The first block's first weight matrix moved by {_moved(first['plain'])} in the plain "
        f"net and by {_moved(first['residual'])} in the residual net; the last block's by "
        f"{fmt_ratio(last['plain'], digits=2)} and {fmt_ratio(last['residual'], digits=2)}. The identity "
        "path learns nothing itself, but it carries the gradient that lets every earlier layer learn (Veit et al. 2016, "
        "arXiv 1605.06431, see a ResNet as an ensemble of paths of many lengths, most of its gradient "
        "coming through the short ones)."
    )
