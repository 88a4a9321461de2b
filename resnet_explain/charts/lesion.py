"""Lesion-study charts (Veit et al. 2016): accuracy lost per deleted block, and ‖F(x)‖/‖x‖."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..content.lesion import BIG_DROP
from .axes import VARIANT_COLORS, W, block_order, legend, name_tooltips, with_readable, xblock
from .palette import OCHRE, RESIDUAL_COLOR
from .training import net_label

LESION_LONG_COLUMNS = ["arch", "net", "block", "position", "downsampling", "removable", "status",
                       "drop_pct", "y", "accuracy_pct", "base_accuracy_pct", "residual_ratio",
                       "lesion"]


def lesion_long(frames: dict[str, pd.DataFrame], downsampling: dict[str, bool] | None = None,
                depth: int | None = None) -> pd.DataFrame:
    """Stack per-arch ``lesion.lesion_study`` tables. Blocks that cannot be deleted keep their
    row (status "not removable", plotted at 0 and marked); drops in percentage points."""
    downsampling = downsampling or {}
    parts = []
    for arch, df in frames.items():
        d = pd.DataFrame({
            "arch": arch, "net": net_label(arch, depth) if depth else arch,
            "block": df["block"], "position": df["position"],
            "downsampling": [bool(downsampling.get(b, False)) for b in df["block"]],
            "removable": df["removable"].astype(bool),
            "drop_pct": df["accuracy_drop"].astype(float) * 100.0,
            "accuracy_pct": df["accuracy"].astype(float) * 100.0,
            "base_accuracy_pct": df["base_accuracy"].astype(float) * 100.0,
            "residual_ratio": df["residual_ratio"].astype(float), "lesion": df["lesion"]})
        d["status"] = np.where(d["removable"], "deleted", "not removable")
        d["y"] = np.where(d["removable"], d["drop_pct"], 0.0)
        parts.append(d)
    if not parts:
        return pd.DataFrame(columns=LESION_LONG_COLUMNS)
    return pd.concat(parts, ignore_index=True)[LESION_LONG_COLUMNS]


def _downsampling_bands(long: pd.DataFrame, order, top: float, title: str) -> list:
    """A light grey band behind each downsampling block (the whole category, both twins)."""
    ds = with_readable(long[long["downsampling"]].drop_duplicates("block")[["block"]].assign(top=top))
    if not len(ds):
        return []
    return [alt.Chart(ds).mark_bar(color="#888", opacity=0.12).encode(
        x=xblock(order, title), y="top:Q",
        tooltip=name_tooltips(ds, title="downsampling block"))]


def lesion_drop_chart(long: pd.DataFrame, height: int = 340) -> alt.Chart:
    """Accuracy drop (points) when each block alone is deleted, plain vs residual side by side.
    Grey bands mark downsampling blocks; ✕ marks a block that cannot be deleted."""
    order, long = block_order(long), with_readable(long)
    x = xblock(order, "block deleted (input → output)")
    color = alt.Color("arch:N", scale=VARIANT_COLORS, title=None, legend=legend(symbolOpacity=1))
    tooltip = ["net:N", *name_tooltips(long), "status:N",
               alt.Tooltip("drop_pct:Q", title="accuracy drop (points)", format=".1f"),
               alt.Tooltip("accuracy_pct:Q", title="accuracy with it deleted (%)", format=".1f"),
               alt.Tooltip("base_accuracy_pct:Q", title="accuracy, whole net (%)", format=".1f"),
               "downsampling:N", "lesion:N"]
    ok = long[long["removable"]]
    bad = long[~long["removable"]]
    top = max(100.0, float(np.nanmax(long["y"])) if len(long) else 100.0)
    layers = _downsampling_bands(long, order, top, "block deleted (input → output)")
    layers.append(alt.Chart(ok).mark_bar().encode(
        x=x, xOffset=alt.XOffset("arch:N", scale=alt.Scale(domain=["plain", "residual"])),
        y=alt.Y("y:Q", title="accuracy drop (percentage points)"), color=color, tooltip=tooltip))
    if len(bad):
        layers.append(alt.Chart(bad).mark_point(shape="cross", size=160, filled=True, angle=45).encode(
            x=x, xOffset=alt.XOffset("arch:N", scale=alt.Scale(domain=["plain", "residual"])),
            y="y:Q", color=color, tooltip=tooltip))
        layers.append(alt.Chart(bad).mark_text(angle=270, align="left", dx=10, fontSize=12).encode(
            x=x, xOffset=alt.XOffset("arch:N", scale=alt.Scale(domain=["plain", "residual"])),
            y="y:Q", text=alt.value("not removable"), color=color))
    return alt.layer(*layers).properties(height=height, width=W)


def residual_ratio_chart(long: pd.DataFrame, height: int = 260) -> alt.Chart:
    """‖F(x)‖/‖x‖ per residual block: how much each branch adds to what flows past it (0 = the
    block is the identity)."""
    d = with_readable(long[(long["arch"] == "residual") & np.isfinite(long["residual_ratio"])])
    d["shortcut"] = np.where(d["downsampling"], "downsampling block",
                             "identity shortcut")
    order = block_order(long)
    return alt.Chart(d).mark_bar().encode(
        x=xblock(order, "residual block (input → output)"),
        y=alt.Y("residual_ratio:Q", title="‖F(x)‖ / ‖x‖"),
        color=alt.Color("shortcut:N", title=None, legend=legend(),
                        scale=alt.Scale(domain=["identity shortcut",
                                                "downsampling block"],
                                        range=[RESIDUAL_COLOR, OCHRE])),  # light/dark blue read as one on a wall
        tooltip=[*name_tooltips(d), alt.Tooltip("residual_ratio:Q", title="‖F(x)‖/‖x‖", format=".3f"),
                 alt.Tooltip("drop_pct:Q", title="accuracy drop when deleted (points)", format=".1f"),
                 "shortcut:N"],
    ).properties(height=height, width=W)


def lesion_findings(long: pd.DataFrame, big_drop: float = BIG_DROP) -> dict:
    """Numbers for the page's sentence, per arch: base accuracy, removable count, median/mean/max
    drop (points), the blocks that cost more than ``big_drop`` points and how many of them are
    downsampling blocks; for residual nets the Spearman correlation of ‖F(x)‖/‖x‖ with the drop."""
    out = {}
    for arch, d in long.groupby("arch", sort=False):
        r = d[d["removable"]]
        f = {"base_accuracy_pct": float(d["base_accuracy_pct"].iloc[0]), "blocks": int(len(d)),
             "removable": int(len(r)), "not_removable": int((~d["removable"]).sum()),
             "not_removable_blocks": list(d.loc[~d["removable"], "block"])}
        if len(r):
            worst = r.loc[r["drop_pct"].idxmax()]
            big = r[r["drop_pct"] > big_drop].sort_values("drop_pct", ascending=False)
            f.update({"median_drop": float(r["drop_pct"].median()), "mean_drop": float(r["drop_pct"].mean()),
                      "max_drop": float(worst["drop_pct"]), "worst_block": str(worst["block"]),
                      "worst_is_downsampling": bool(worst["downsampling"]),
                      "n_small": int((r["drop_pct"] <= big_drop).sum()),
                      "big_blocks": list(big["block"]), "big_drops": [float(v) for v in big["drop_pct"]],
                      "big_downsampling": int(big["downsampling"].sum())})
        rr = r[np.isfinite(r["residual_ratio"])]
        if len(rr) >= 3 and rr["residual_ratio"].nunique() > 1 and rr["drop_pct"].nunique() > 1:
            f["spearman_ratio_drop"] = float(rr["residual_ratio"].rank().corr(rr["drop_pct"].rank()))
        out[arch] = f
    return out


def lm_lesion_chart(long: pd.DataFrame, unit: str = "layer", height: int = 300) -> alt.Chart:
    """Validation loss added (nats per byte) when one layer or sublayer of a Transformer is
    deleted, the net without skips and the residual one side by side (from
    :func:`~resnet_explain.experiments.lm_lesion.lesion_long`)."""
    d = long[long["unit"] == unit]
    order = list(dict.fromkeys(d.sort_values(["layer", "removed"])["removed"]))
    offset = alt.XOffset("arch:N", scale=alt.Scale(domain=["plain", "residual"]))
    return alt.Chart(d).mark_bar().encode(
        x=alt.X("removed:N", sort=order, title=f"{unit} deleted (input → output)",
                axis=alt.Axis(labelAngle=-45 if unit == "sublayer" else 0)),
        xOffset=offset, y=alt.Y("delta:Q", title="validation loss added (nats per byte)"),
        color=alt.Color("net:N", title=None, legend=legend(symbolOpacity=1), scale=alt.Scale(
            domain=list(dict.fromkeys(d.sort_values("arch")["net"])),
            range=[dict(zip(VARIANT_COLORS.domain, VARIANT_COLORS.range))[a]
                   for a in dict.fromkeys(d.sort_values("arch")["arch"])])),
        tooltip=["net:N", "removed:N", alt.Tooltip("val_loss:Q", title="loss with it deleted", format=".3f"),
                 alt.Tooltip("delta:Q", title="added", format="+.3f"),
                 alt.Tooltip("base_loss:Q", title="whole network", format=".3f")],
    ).properties(height=height, width=W)
