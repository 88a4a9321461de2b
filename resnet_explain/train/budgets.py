"""Training budgets: what a run trains on and for how long, by name, and this host's limits.

A :class:`Budget` is one data recipe and one training config. The pages train two kinds of things
under a budget: a visitor's network and its twin (:data:`BUDGETS`: quick, full, plus the host's
own from the environment, :func:`host_budgets`), and He et al.'s CIFAR nets at several depths and seeds
for the degradation experiment (:data:`EXPERIMENTS`: cpu-live, cpu-budget, gpu on the generated
shapes; cifar10-he2015 and cifar10-he2015-val, He et al. 2015 sec. 4.2's recipe on CIFAR-10 itself,
:func:`he2015_cifar`; those budgets also say the first-stage width, the depths and the seeds).
Every run of a budget is a :class:`~.runs.RunRequest` with the budget's data recipe and config,
so the same budget always names the same stored runs.

Settings (environment): ``RESNET_EXPLAIN_TRAIN_BUDGET`` adds a budget of the host's own (JSON,
inline or a file: ``{"name": ..., "data": {DataRecipe fields}, "config": {TrainConfig fields}}``),
chosen by default: a small host or a test can train a tiny recipe through the same pages; and
``RESNET_EXPLAIN_MAX_TRAIN_SECONDS`` caps the estimated seconds of one Start on a CPU host
(default 120 s; ``off`` for none; no cap when CUDA trains): :func:`cap_seconds`, THE cap rule of
every page that starts long work (training, sweeps, landscapes, lesions, probes); a refused Start
names one control that brings it under the cap (:func:`fix`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from pathlib import Path

from ..data.cifar import SPLITS, CifarRecipe
from ..data.text import TextRecipe
from ..errors import UserError
from ..spec import NetSpec
from .config import TrainConfig, TrainError
from .runs import DataRecipe, RunRequest

BUDGET_ENV = "RESNET_EXPLAIN_TRAIN_BUDGET"
CAP_ENV = "RESNET_EXPLAIN_MAX_TRAIN_SECONDS"
# One Start holds the server's one compute slot (ui/jobs.py); a visitor's cached computation waits
# for that slot up to RESNET_EXPLAIN_JOB_WAIT (default 120 s) before it gives up, so one Start is
# not allowed longer than that wait. The defaults of every long page are sized to fit it with
# margin on a 2-vCPU host (tests/app/test_default_not_refused.py).
CPU_CAP_SECONDS = 120.0


class BudgetError(UserError):
    """A host setting for the budgets or the cap that cannot be read."""


@dataclass(frozen=True)
class Budget:
    """One budget for every network trained under it: data recipe, training config, and (for the
    degradation experiment) the CIFAR nets' first-stage width, depths and seeds."""

    name: str
    label: str  # how results must be labelled ("CPU budget", ...)
    data: DataRecipe
    config: TrainConfig
    note: str = ""  # what the budget is not ("reduced for a 2-core CPU; ...")
    width: int = 8  # the degradation experiment's first-stage width (He et al.: 16)
    depths: tuple[int, ...] = (20, 56)  # the degradation experiment's depths (6n + 2)
    seeds: tuple[int, ...] = (0,)  # the degradation experiment's seeds
    warmup_depths: tuple[int, ...] = ()  # depths that keep config's constant warm-up (He et al.:
    # 110 only); the others start at config.lr. Empty = every depth keeps it.

    @property
    def n_train(self) -> int:
        return self.data.n_train

    @property
    def n_test(self) -> int:
        return self.data.n_test

    def request(self, spec: NetSpec, seed: int = 0, device: str = "auto") -> RunRequest:
        """The run of ``spec`` under this budget: the network at the budget's image size (the
        only change made to it), the seed for weights and batch order, the device to run on."""
        sized = spec if spec.family != "cnn" else spec.with_globals(in_size=self.data.size)
        data = self.data
        if isinstance(data, TextRecipe) and data.kind == "stdlib" and spec.family == "transformer":
            data = replace(data, context=int(spec.context))  # windows as long as the network reads
        return RunRequest(spec=sized.to_query(), data=data,
                          config=replace(self.config, seed=int(seed), device=device))

    def config_for(self, depth: int) -> TrainConfig:
        """The config the network of ``depth`` trains with: the budget's, less its constant
        warm-up where ``warmup_depths`` leaves ``depth`` out."""
        if self.config.warmup_lr and self.warmup_depths and depth not in self.warmup_depths:
            return replace(self.config, warmup_lr=0.0)
        return self.config

    def with_(self, **kw) -> Budget:
        """A copy with fields replaced; ``epochs``/``device`` go to the config, ``n_train``,
        ``n_test``, ``size``, ``difficulty`` and ``data_seed`` to the data recipe (None: kept)."""
        kw = {k: v for k, v in kw.items() if v is not None}
        train_kw = {k: kw.pop(k) for k in ("epochs", "device") if k in kw}
        data_kw = {k: kw.pop(k) for k in ("n_train", "n_test", "size", "difficulty") if k in kw}
        if "data_seed" in kw:
            data_kw["seed"] = kw.pop("data_seed")
        return replace(self, config=replace(self.config, **train_kw),
                       data=replace(self.data, **data_kw), **kw)


def named(name: str, table: Mapping[str, Budget], error: type[TrainError] = TrainError) -> Budget:
    """``table[name]``, or ``error`` (a TrainError) that lists the known names."""
    if name not in table:
        raise error(f"unknown budget {str(name)[:30]!r}; known: {', '.join(table)}")
    return table[name]


HE2015_DEPTHS = (20, 32, 44, 56, 110)  # He et al. 2015 fig. 6 / table 6
# The gpu experiment's recipe, chosen by the
# calibration in assets/calibration/README.md: a harder task than the first gpu budget's
# (difficulty 0.3, 20,000 images, 6 epochs, on which every net that trained reached about 0 %).
# Recipe C4 (difficulty 1.0): no recipe met any of the four checks at the calibration's small CPU
# budget, and the rule fixed beforehand breaks a tie by taking the hardest task.
GPU_DATA = DataRecipe(n_train=30000, n_test=5000, size=32, difficulty=1.0)
GPU_CONFIG = TrainConfig(epochs=30, batch_size=128, lr=0.1)
GPU_SCALED = ("He et al.'s recipe scaled to a GPU budget: generated shapes (difficulty 1.0) for "
              "CIFAR-10, 30,000 images, 30 epochs (7,020 iterations, not 64,000), no pad-crop-flip, "
              "one-cycle (a linear warm-up from lr/10, then linear decay) for the step schedule and "
              "the 110-layer net's constant warm-up (the seeds train together there, which has none)")


BUDGETS: dict[str, Budget] = {
    # About a minute for a ResNet-20 of width 8 and its twin on one CPU thread (cpu-live's data,
    # with a smaller test split).
    "quick": Budget("quick", "quick (CPU): 16×16 images, 1,500 training images, 8 epochs",
                    DataRecipe(n_train=1500, n_test=500, size=16, difficulty=0.05),
                    TrainConfig(epochs=8, batch_size=32, lr=0.05)),
    # He et al.'s CIFAR image size; seconds on a GPU (a network and its twin in ~31 s on an H200,
    # issue #23). Not the gpu experiment's harder recipe: a visitor's pair would take minutes there.
    "full": Budget("full", "full (GPU): 32×32 images, 20,000 training images, 6 epochs",
                   DataRecipe(n_train=20000, n_test=5000, size=32, difficulty=0.3),
                   TrainConfig(epochs=6, batch_size=128, lr=0.1)),
}

EXPERIMENTS: dict[str, Budget] = {
    # Small enough for the live page on a 2-vCPU box (about a minute for one seed of 20 vs 56).
    "cpu-live": Budget(
        "cpu-live", "CPU live (small: 16x16 images, width 8)",
        DataRecipe(n_train=1500, n_test=1000, size=16, difficulty=0.05),
        TrainConfig(epochs=8, batch_size=32, lr=0.05, device="cpu"),
        note="reduced for a 2-core CPU; not He et al.'s setting", width=8, depths=(20, 56), seeds=(0,)),
    # What the stored assets were made with when no GPU was available (~25 min on 2 cores).
    "cpu-budget": Budget(
        "cpu-budget", "CPU budget (16x16 images, width 8)",
        DataRecipe(n_train=5000, n_test=2000, size=16, difficulty=0.1),
        TrainConfig(epochs=12, batch_size=64, lr=0.1, device="cpu"),
        note=("reduced for a 2-core CPU; not He et al.'s setting; depths 20 and 56 only (32, 44 "
              "and 110: the gpu experiment)"), width=8, depths=(20, 56), seeds=(0, 1, 2)),
    # He et al.'s depths and width at their image size, on the harder generated task; 3 seeds.
    "gpu": Budget(
        "gpu", "GPU (32x32 images, width 16, as He et al.'s CIFAR nets)", GPU_DATA,
        replace(GPU_CONFIG, device="auto"), note=GPU_SCALED, width=16,
        depths=HE2015_DEPTHS, seeds=(0, 1, 2)),
}


def he2015_cifar(split: str = "50k/10k", iterations: int = 64_000, n_train: int | None = None,
                 n_test: int | None = None, root: str = "") -> Budget:
    """He et al. 2015 sec. 4.2 on CIFAR-10: batch 128, lr 0.1 divided by 10 at 50 % and 75 % of
    ``iterations`` (32k and 48k of 64k), stopped at ``iterations``, weight decay 1e-4, momentum
    0.9, 4-pixel pad + random 32×32 crop + flip, width 16, option-A shortcuts, the 110-layer net
    warmed up at 0.01 until its training error is below 80 %. ``split``: "50k/10k" (fig. 6) or
    "45k/5k" (their validation split); fewer ``iterations`` or images scale it down (tests)."""
    if split not in SPLITS:
        raise TrainError(f"split must be one of {', '.join(SPLITS)}, got {str(split)[:20]!r}")
    full_train, full_test = (50_000, 10_000) if split == "50k/10k" else (45_000, 5_000)
    data = CifarRecipe(n_train=n_train or full_train, n_test=n_test or full_test, split=split,
                       root=root)
    steps_per_epoch = max(1, data.n_train // 128)
    config = TrainConfig(epochs=-(-iterations // steps_per_epoch), batch_size=128, lr=0.1,
                         momentum=0.9, weight_decay=1e-4, schedule="step",
                         milestones=(iterations // 2, iterations * 3 // 4), max_steps=iterations,
                         augment=True, warmup_lr=0.01, warmup_until=0.8, device="auto")
    scaled = "" if iterations == 64_000 else f"; scaled to {iterations:,} iterations"
    return Budget(f"cifar10-he2015{'' if split == '50k/10k' else '-val'}",
                  f"CIFAR-10, He et al. 2015 sec. 4.2 ({split}{scaled})", data, config,
                  note=("a GPU's job: hours on one; per-channel normalisation, not per-pixel mean "
                        "subtraction; bf16 on CUDA"), width=16, depths=HE2015_DEPTHS, seeds=(0,),
                  warmup_depths=(110,))


EXPERIMENTS["cifar10-he2015"] = he2015_cifar("50k/10k")
EXPERIMENTS["cifar10-he2015-val"] = he2015_cifar("45k/5k")

# Language models (the transformer family): next-byte prediction on the Python standard library's
# own source (data/text.py), at the figure sizes (context 64, batch 16), with AdamW, a linear
# warm-up (the LR x warm-up grid varies lr and warmup_steps), cosine decay to lr/10, clipping at 1
# (GPT-2 / nanoGPT), float32 everywhere (amp off: a bf16 CPU would otherwise train other numbers).
LM_DATA = TextRecipe(context=64, n_val=256, seed=0)
LM_CONFIG = TrainConfig(epochs=10, batch_size=16, lr=1e-3, optimizer="adamw", weight_decay=0.01,
                        schedule="cosine", warmup_steps=15, grad_clip=1.0, max_steps=150,
                        eval_every=25, amp="off", channels_last="off")
LM_BUDGETS: dict[str, Budget] = {
    "lm-quick": Budget("lm-quick", "quick (CPU): bytes of Python's own source, context 64, batch 16, "
                       "150 AdamW steps (154k tokens)", LM_DATA, LM_CONFIG,
                       note="a few minutes of a 2-core CPU: far from converged; the grid compares "
                            "settings at this budget, not final models"),
    # A GPU's budget: 4x the batch and 10x the steps of lm-quick (41x its tokens), the same schedule
    # shape (warm-up 10 % of the steps, as lm-quick's 15 of 150), as nanoGPT's character models
    # train (batch 64, lr 1e-3). Refused on a CPU host by the one cap (minutes of one core).
    "lm-full": Budget("lm-full", "full (GPU): bytes of Python's own source, context 64, batch 64, "
                      "1,500 AdamW steps (6.1M tokens)", LM_DATA,
                      replace(LM_CONFIG, batch_size=64, max_steps=1500, warmup_steps=150,
                              eval_every=100, epochs=100),
                      note="still short of convergence; for a GPU"),
}
# Train Your Network's budgets for a Transformer, under the names of the image networks' (quick,
# full): the page's budget control and its links say the same words for both families.
LM_PAGE_BUDGETS = {"quick": "lm-quick", "full": "lm-full"}
LM_BUDGET_ENV = "RESNET_EXPLAIN_LM_BUDGET"  # a host's own language-model budget (JSON), as BUDGET_ENV


# ---------------------------------------------------------------------------------------------
# This host: its own budget, its cap
# ---------------------------------------------------------------------------------------------
def host_budgets(env: Mapping[str, str] | None = None, family: str = "cnn") -> dict[str, Budget]:
    """quick and full (:data:`BUDGETS`; for the transformer family :data:`LM_PAGE_BUDGETS`), plus
    the host's own budget from ``RESNET_EXPLAIN_TRAIN_BUDGET`` (a Transformer's:
    ``RESNET_EXPLAIN_LM_BUDGET``, its data a text recipe) when it is set (listed first)."""
    lm = family == "transformer"
    var = LM_BUDGET_ENV if lm else BUDGET_ENV
    table = {k: LM_BUDGETS[v] for k, v in LM_PAGE_BUDGETS.items()} if lm else dict(BUDGETS)
    raw = (os.environ if env is None else env).get(var, "").strip()
    if not raw:
        return table
    try:
        d = json.loads(raw if raw.startswith("{") else Path(raw).read_text())
        name = str(d.get("name", "host"))
        # a language model's budget starts from lm-quick's recipe and config (AdamW, warm-up, ...)
        data = replace(LM_DATA, **d.get("data", {})) if lm else DataRecipe(**d.get("data", {}))
        cfg = (replace(LM_CONFIG, **d.get("config", {})) if lm else
               TrainConfig(**d.get("config", {}))).validate()
    except (OSError, ValueError, TypeError, AttributeError, UserError) as exc:
        raise BudgetError(f"{var} cannot be read ({exc}); expected JSON like "
                          '{"name": "tiny", "data": {"n_train": 64}, "config": {"epochs": 2}}') from None
    label = d.get("label") or (f"{name} (set by this host): " + (
        f"context {data.context}, batch {cfg.batch_size}, {cfg.max_steps} steps" if lm else
        f"{data.size}×{data.size} images, {data.n_train:,} training images, {cfg.epochs} epochs"))
    return {name: Budget(name, str(label), data, cfg), **table}


def default_budget(names, device_type: str) -> str:
    """The host's own budget when there is one, else full on CUDA and quick elsewhere."""
    extra = [n for n in names if n not in BUDGETS]
    return extra[0] if extra else ("full" if device_type == "cuda" else "quick")


def cap_seconds(device_type: str, env: Mapping[str, str] | None = None) -> float | None:
    """The most estimated seconds this host trains for one Start: none when CUDA trains; on a
    CPU ``RESNET_EXPLAIN_MAX_TRAIN_SECONDS`` (``off`` = none), default 120 s."""
    if device_type == "cuda":
        return None
    raw = (os.environ if env is None else env).get(CAP_ENV, "").strip().lower()
    if raw in ("off", "none"):
        return None
    try:
        cap = float(raw) if raw else CPU_CAP_SECONDS
    except ValueError:
        raise BudgetError(f"{CAP_ENV} must be a number of seconds or 'off', got {raw[:20]!r}") from None
    if not (math.isfinite(cap) and cap > 0):
        raise BudgetError(f"{CAP_ENV} must be positive, got {raw[:20]!r}")
    return cap


def over_cap(estimate: float, cap: float | None) -> bool:
    """THE refusal rule: an estimate over the cap (no cap: never refused)."""
    return cap is not None and estimate > cap


@dataclass(frozen=True)
class Control:
    """A control on a page that changes a long job's estimate: its visible label, the values to
    try (from the one next to the current value outward: the smallest change first), the
    estimate with each, and how the page shows a value."""

    label: str
    values: Sequence[Any]
    seconds: Callable[[Any], float]
    show: Callable[[Any], str] = str


@dataclass(frozen=True)
class Fix:
    """The one control that brings a refused Start under the cap, set to ``value``."""

    label: str
    value: Any
    shown: str  # the value as the page shows it
    seconds: float  # the estimate with it


def fix(cap: float, controls: Sequence[Control]) -> Fix | None:
    """THE remedy of a refusal: for each control, its first value (the smallest change) whose
    estimate fits ``cap``; of those, the one that keeps the most work (the largest estimate; the
    first control on a tie). None when no single control brings the estimate under the cap."""
    best: Fix | None = None
    for c in controls:
        for v in c.values:
            secs = float(c.seconds(v))
            if secs <= cap:
                if best is None or secs > best.seconds:
                    best = Fix(c.label, v, c.show(v), secs)
                break
    return best


def nearest(controls: Sequence[Control]) -> Fix | None:
    """When no single control fits (:func:`fix` is None): the control whose furthest value does
    the most (the smallest estimate) — the first step to name."""
    ends = [Fix(c.label, c.values[-1], c.show(c.values[-1]), float(c.seconds(c.values[-1])))
            for c in controls if len(c.values)]
    return min(ends, key=lambda f: f.seconds, default=None)
