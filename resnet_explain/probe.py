"""The gradient probe: one forward + backward pass, measured per block, as tidy DataFrames.

For each block output x_l it records ||dL/dx_l||, the forward activation mean/std, and for a
residual block the split of the backward signal reaching x into its identity (shortcut) and
residual-branch terms (and, in a gated block, the share through the gate); per parameter tensor,
||dL/dW|| and ||W||. What is caught and how it becomes numbers (one host copy per probe, an
underflowed norm rescued by scaling) is :mod:`resnet_explain.measurement`, which the trainer's
gradient snapshots use too.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import probe_layout
from .device import timed
from .magnitude import log10
from .measurement import BlockHooks, Norms
from .model import build_model, make_batch
from .model.transformer import TransformerNet
from .residuals import CONCAT, IDENTITY, NONE, PROJECTION, Residual, find_residual
from .seeding import global_rng, sub_seed
from .spec.kinds import BLOCK_KINDS

CHART_VARIANT = "your model"  # the one line of a probe's chart


class ProbeResult:
    """A probe's two tables and its facts (``meta``): ``blocks``, one row per block, input ->
    output; ``params``, one row per parameter tensor. A probe hands its numbers over and the
    tables are built on first access (pandas takes as long as a launch-bound step's whole probe
    overhead, and many callers read only :attr:`ratio` or ``meta``); each is built once."""

    def __init__(self, blocks: pd.DataFrame | None = None, params: pd.DataFrame | None = None,
                 meta: dict | None = None, *, tables=None, grad_norms: np.ndarray | None = None):
        self._blocks, self._params = blocks, params
        self.meta = {} if meta is None else meta
        self._tables = tables  # () -> (blocks, params), where they are not given
        self._grad_norms = grad_norms  # blocks' grad_norm column, for the ratios before a table

    def _build(self) -> None:
        if self._tables is not None:
            self._blocks, self._params = self._tables()
            self._tables = None

    @property
    def blocks(self) -> pd.DataFrame:
        if self._blocks is None:
            self._build()
        return self._blocks

    @blocks.setter
    def blocks(self, value: pd.DataFrame) -> None:
        self._build()
        self._blocks = value

    @property
    def params(self) -> pd.DataFrame:
        if self._params is None:
            self._build()
        return self._params

    @params.setter
    def params(self, value: pd.DataFrame) -> None:
        self._build()
        self._params = value

    def __getstate__(self) -> dict:  # pickled with its tables, never with their builder
        return {"blocks": self.blocks, "params": self.params, "meta": self.meta}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["blocks"], state["params"], state["meta"])

    def __eq__(self, other) -> bool:
        return (isinstance(other, ProbeResult) and self.blocks.equals(other.blocks)
                and self.params.equals(other.params) and self.meta == other.meta)

    __hash__ = None  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return f"ProbeResult(blocks={self.blocks!r}, params={self.params!r}, meta={self.meta!r})"

    def _g(self) -> np.ndarray:
        """The blocks' gradient norms: the table's column, or before the table is built the same
        numbers (a caller asking only for a ratio never waits for pandas)."""
        if self._blocks is None and self._grad_norms is not None:
            return self._grad_norms
        return self.blocks["grad_norm"].to_numpy()

    @property
    def ratio(self) -> float:
        """||dL/dx_first|| / ||dL/dx_last||: <1 means gradients shrink toward the input."""
        return ratio_of(self._g())

    @property
    def log10_ratio(self) -> float:
        g = self._g()
        if len(g) == 0 or not (g[0] > 0 and g[-1] > 0) or not np.isfinite(g[[0, -1]]).all():
            return float("nan")
        return float(np.log10(g[0]) - np.log10(g[-1]))

    def chart(self):
        """The app's per-block chart of ‖∂L/∂x‖ (log10, input → output) and, where blocks have a
        skip, their identity / residual split below it (:mod:`resnet_explain.charts.gradflow`)."""
        from .charts import gradflow  # altair: imported only when a chart is asked for

        c = gradflow.grad_norm_chart(gradflow.gradflow_long({CHART_VARIANT: self.blocks}))
        split = gradflow.split_long(self.blocks) if len(self.blocks) else []
        return c & gradflow.split_chart(split) if len(split) else c

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter shows a probe as its chart."""
        if not len(self.blocks):
            return {"text/plain": repr(self)}
        return self.chart()._repr_mimebundle_(include=include, exclude=exclude)


def ratio_of(grad_norms) -> float:
    g = np.asarray(grad_norms, dtype=np.float64)
    if len(g) == 0 or g[-1] == 0 or not np.isfinite(g[-1]):
        return float("nan")
    return float(g[0] / g[-1])


def probe(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
          loss_fn=None, train: bool = True, blocks=None,
          dtype: torch.dtype | None = None) -> ProbeResult:
    """Run one forward + backward pass and measure every block.

    ``blocks`` chooses the block boundaries (:func:`resnet_explain.block_select.select_blocks`):
    None for :func:`~resnet_explain.model.find_blocks` (our models, and ``*Block`` modules of
    others), a module type or tuple of types, a name glob (``"layer*.*"``) or ``"re:"`` regex, a
    nesting depth (int), a predicate, or a list of ``(name, module)`` pairs. A selection that
    matches nothing raises :class:`~resnet_explain.block_select.NoBlocksFound` (a UserError).

    ``train=True`` uses batch statistics in BatchNorm, as during training (running statistics are
    updated, as a training step would). Parameter ``.grad`` is reset first and left filled.
    ``dtype=torch.float64`` runs a float64 copy of the model (the original is untouched).
    ``loss_fn`` defaults to cross-entropy: per example for a classifier, per next token for our
    Transformer (``inputs`` are then token ids [B, T], ``targets`` the next tokens [B, T]).
    """
    if dtype is not None:
        model = copy.deepcopy(model).to(dtype=dtype)
        inputs = inputs.to(dtype) if inputs.is_floating_point() else inputs
    device = next(model.parameters()).device
    inputs, targets = inputs.to(device), targets.to(device)
    lay, chosen, walked = probe_layout.layout(model, blocks, connections)
    # The probe owns its backward, so it asks autograd for everything at once (capture); an
    # input that requires grad gets its .grad from loss.backward(), as it always did.
    hooks = BlockHooks(chosen, split=True, activations=True, capture=not inputs.requires_grad)
    params = walked.params
    values, seconds = _measure(model, inputs, targets, loss_fn or default_loss(model), train, hooks,
                               params, walked.mode_differs(train))
    dt = inputs.dtype if inputs.is_floating_point() else params[0].dtype  # tokens: the model's
    meta = {"device": device.type, "dtype": str(dt).replace("torch.", ""),
            "seconds": seconds, "loss": values["loss"], "batch": int(inputs.shape[0]),
            "n_params": lay.n_params, "train_mode": train}
    counts = hooks.counts

    def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
        stats = BlockHooks.stats_of(values, counts)
        return _block_table(lay, values, stats), _param_table(lay, values)

    nan = float("nan")
    return ProbeResult(meta=meta, tables=tables, grad_norms=np.array(
        [values.get(("grad", n), nan) for n in lay.block_names], dtype=np.float64))


def default_loss(model: nn.Module):
    """The loss a probe takes unless told: next-token cross-entropy for our Transformer
    (:meth:`TransformerNet.loss`), cross-entropy of (logits, classes) otherwise."""
    return model.loss if isinstance(model, TransformerNet) else F.cross_entropy


def connections(model: nn.Module, blocks: list[tuple[str, nn.Module]]) -> dict[str, Residual]:
    """How each block joins its input back: our blocks say so themselves (their shortcut and
    kind); any other block is traced (:func:`resnet_explain.residuals.find_residual`)."""
    return {n: _own_connection(m) or find_residual(m, n, model, blocks) for n, m in blocks}


def _own_connection(mod: nn.Module) -> Residual | None:
    """One of our blocks (it has a ``spec`` and a ``shortcut`` attribute): its join, read from
    the registry of kinds; None for any other module."""
    spec = getattr(mod, "spec", None)
    if spec is None or not hasattr(mod, "shortcut"):
        return None
    if mod.shortcut is None:
        return Residual(NONE)
    kind = BLOCK_KINDS.get(getattr(spec, "kind", None))
    if kind is not None and kind.join == "concat":
        return Residual(CONCAT)
    return Residual(IDENTITY if isinstance(mod.shortcut, nn.Identity) else PROJECTION, 1)


def _measure(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn, train: bool,
             hooks: BlockHooks, params: list[nn.Parameter], switch: bool) -> tuple[dict, float]:
    """One forward and backward with ``hooks`` installed, and one read of every number: the
    loss, what the hooks caught, and per parameter i its gradient's and its own norm (keys
    ``("pgrad", i)``, ``("pnorm", i)``; a parameter without a gradient has no ``pgrad``). The
    model's train/eval mode is restored; returns the values and the seconds it all took.
    ``switch``: whether a module's mode differs from ``train`` (model.train() walks every
    module: only then, for the same end state)."""
    was_training = model.training
    if switch:
        model.train(train)
    device = inputs.device
    try:
        with timed(device) as t:
            with hooks:
                loss = loss_fn(model(inputs), targets)
            # zero_grad(set_to_none=True) + loss.backward(), catching what the hooks asked for
            hooks.backward(loss, params)
            norms = Norms()
            norms.scalar("loss", loss.detach())
            hooks.add_to(norms)
            norms.norms((("pgrad", i), p.grad) for i, p in enumerate(params) if p.grad is not None)
            norms.norms((("pnorm", i), p) for i, p in enumerate(params))  # under no_grad: no detach
            values = norms.read()
    finally:
        if switch or was_training != train:
            model.train(was_training)
    return values, t.seconds


def _block_table(lay: probe_layout.Layout, values: dict,
                 stats: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """One row per block: its gradient norm and flags, its join (``skip``: ours have a shortcut,
    or another model's block adds its input back; ``connection``, ``adds``; from the layout), the
    split and the activation stats. Built column by column (a DataFrame from a list of row dicts
    costs milliseconds: as much as a small network's whole step)."""
    names = lay.block_names
    if not names:
        return pd.DataFrame([])
    nan = float("nan")
    g = np.array([values.get(("grad", n), nan) for n in names], dtype=np.float64)
    mean_std = np.array([stats.get(n, (nan, nan)) for n in names], dtype=np.float64).reshape(-1, 2)
    split = {w: np.array([values.get((w, n), nan) for n in names], dtype=np.float64)
             for w in ("identity", "residual", "gate")}
    last = g[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = g / last if last else np.full(len(g), np.nan)
    return pd.DataFrame({
        **lay.blocks,
        "grad_norm": g, "log10_grad_norm": _log10s(g), "underflow": g == 0.0,
        "has_nan": np.isnan(g) & np.array([("grad", n) in values for n in names]),
        "has_inf": np.isinf(g),
        "identity_norm": split["identity"], "residual_norm": split["residual"],
        "gate_norm": split["gate"], "act_mean": mean_std[:, 0], "act_std": mean_std[:, 1],
        "grad_rel_last": rel, "log10_identity_norm": _log10s(split["identity"]),
        "log10_residual_norm": _log10s(split["residual"]),
    })


def _log10s(values) -> np.ndarray:
    """:func:`~resnet_explain.magnitude.log10` of each value (math.log10, as one value's)."""
    return np.array([log10(v) for v in values.tolist()], dtype=np.float64)


def _param_table(lay: probe_layout.Layout, values: dict) -> pd.DataFrame:
    """One row per parameter tensor: its gradient norm (0 without a gradient) and weight norm."""
    n = len(lay.params["param"])
    if not n:
        return pd.DataFrame([])
    gv = np.array([values.get(("pgrad", i), 0.0) for i in range(n)], dtype=np.float64)
    return pd.DataFrame({
        **lay.params, "grad_norm": gv, "log10_grad_norm": _log10s(gv),
        "weight_norm": np.array([values[("pnorm", i)] for i in range(n)], dtype=np.float64),
        "underflow": gv == 0.0, "has_nan": np.isnan(gv), "has_inf": np.isinf(gv)})


def first_nonfinite(result: ProbeResult | pd.DataFrame) -> str | None:
    """Name of the first block (from the input) whose output gradient is NaN or Inf. Takes a
    ProbeResult or its blocks table."""
    blocks = result.blocks if isinstance(result, ProbeResult) else result
    bad = blocks[blocks["has_nan"] | blocks["has_inf"]]
    return None if bad.empty else str(bad["block"].iloc[0])


def probe_spec(spec, seed: int = 0, batch: int = 32, device=None, dtype=None,
               train: bool = True, batch_fn=None) -> ProbeResult:
    """Build ``spec`` with ``seed``, make a seeded batch and probe it (the CLI's and pages' path).
    ``batch_fn(spec, batch, seed) -> (inputs, targets)`` supplies the batch (e.g. windows of a
    text corpus for a Transformer); default :func:`~resnet_explain.model.make_batch` (random
    inputs; for a Transformer random tokens)."""
    model = build_model(spec, seed=seed, device=device, dtype=dtype)
    if batch_fn is None:
        x, y = make_batch(spec, batch=batch, seed=seed, device=device, dtype=dtype)
    else:
        x, y = batch_fn(spec, batch, seed)
        x, y = x.to(next(model.parameters()).device), y.to(next(model.parameters()).device)
    # Stochastic depth and a dropout shortcut draw masks in a training step: from a generator
    # seeded here, so the same spec and seed give the same numbers (the caller's RNG is restored;
    # no other thread reseeds the global generator meanwhile: seeding.global_rng).
    dev = x.device
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with global_rng(cuda):
        torch.manual_seed(sub_seed(seed, "probe"))
        res = probe(model, x, y, train=train)
    res.meta["seed"] = seed
    res.meta["spec"] = spec.to_query()
    return res


def output_weight_grads(result: ProbeResult) -> pd.DataFrame:
    """A Transformer probe's parameter gradients per sublayer, input to output: ‖∂L/∂W‖ of its
    output projection (``layer{i}.attn.body.out.weight``, ``layer{i}.mlp.body.out.weight``), the
    weights Xiong et al. 2020 (arXiv 2002.04745, fig. 3) compare across layers for pre- and post-LN."""
    p = result.params
    rows = p[p["param"].str.endswith(".body.out.weight")]
    out = pd.DataFrame({"block": rows["block"].to_numpy(), "grad_norm": rows["grad_norm"].to_numpy(),
                        "weight_norm": rows["weight_norm"].to_numpy()})
    out["layer"] = [int(b.split(".")[0].removeprefix("layer")) for b in out["block"]]
    out["kind"] = [b.split(".")[-1] for b in out["block"]]
    out["log10_grad_norm"] = out["grad_norm"].map(log10)
    return out
