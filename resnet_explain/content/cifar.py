"""What the Training page says about runs made elsewhere: He et al.'s own experiment on CIFAR-10
(here, missing and how to get it, or its numbers beside the paper's) and the ``gpu`` experiment
(labelled with the machine that ran it and how long it took)."""

from __future__ import annotations

import pandas as pd

from .papers import HE15_CIFAR_BUDGET

REPRODUCE = "python -m resnet_explain degradation --experiment cifar10-he2015 --run"
STORE = "python scripts/make_assets.py --experiment cifar10-he2015"
GPU_CHECK = "OUT=/tmp/gpu bash scripts/gpu_check.sh"
_BUDGET = f"{HE15_CIFAR_BUDGET.shown}, {HE15_CIFAR_BUDGET.cite}"


def cifar_missing(missing: str) -> str:
    """The data folder lacks CIFAR-10: what is missing, how to get it, and what then runs."""
    return (f"**He et al.'s own experiment, on CIFAR-10.** {missing} With the files there, "
            f"`{REPRODUCE}` reproduces fig. 6 with their recipe ({_BUDGET}: a GPU's job), and "
            f"`{STORE}` stores it for this page.")


def cifar_not_run(root: str) -> str:
    """CIFAR-10 is here, but no stored run of the recipe."""
    return (f"**He et al.'s own experiment, on CIFAR-10.** The files are in the data folder {root}; "
            f"no run of their recipe is stored yet. `{REPRODUCE}` reproduces fig. 6 "
            f"({_BUDGET}: a GPU's job); `{STORE}` stores it for this page.")


def machine_label(meta: dict) -> str:
    """Which machine ran a stored experiment, how long it took, when and how it was made."""
    where = meta.get("name") or meta.get("device", "an unnamed device")
    detail = f", {meta['detail']}" if meta.get("detail") else ""
    wall = meta.get("wall_seconds", meta.get("script_seconds"))
    took = f"{wall:,.0f} s wall for the whole experiment" if wall is not None else "wall time not recorded"
    made = f", {meta['made_at']}" if meta.get("made_at") else ""
    by = f", by `{meta['made_by']}`" if meta.get("made_by") else ""
    return (f"Measured on **{where}** (device {meta.get('device', '?')}{detail}, torch "
            f"{meta.get('torch', '?')}): {took}{made}{by}. Budget: {meta.get('label', '?')}; "
            f"depths {', '.join(map(str, meta.get('depths', [])))}; seeds "
            f"{', '.join(map(str, meta.get('seeds', [])))}; {meta.get('epochs', '?')} epochs.")


def gpu_missing() -> str:
    return (f"No run of the `gpu` experiment (32×32 images, width 16, three seeds) is stored yet. "
            f"`{GPU_CHECK}` on a GPU makes one, with the benchmarks of issue #23; copy its "
            "`assets/degradation-gpu/` folder into `assets/` and it shows here, labelled with the "
            "machine and the time it took.")


def beside_paper_display(rows: pd.DataFrame) -> pd.DataFrame:
    """A :func:`~resnet_explain.experiments.cifar_he2015.beside_paper` table for reading:
    network, our training and test error (%, mean over seeds), He et al.'s test error and where
    it is printed."""
    paper = [("—" if v is None or v != v else f"{float(v):.2f}") for v in rows["paper_test_error"]]
    return pd.DataFrame({
        "network": [f"{a}-{int(d)}" for a, d in zip(rows["arch"], rows["depth"])],
        "training error (%)": [f"{100 * v:.2f}" for v in rows["train_error"]],
        "test error (%)": [f"{100 * v:.2f}" for v in rows["test_error"]],
        "He et al.'s test error (%)": paper,
        "where He et al. print it": list(rows["paper_source"]),
    })
