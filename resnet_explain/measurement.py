"""One gradient measurement: the hooks that catch ∂L/∂x at block outputs during a forward and its
backward, and the numerics that turn what they caught into norms on the host. The probe
(:func:`resnet_explain.probe.probe`, at initialisation) and the trainer's snapshots
(:class:`resnet_explain.train.snapshots.GradSnapshots`, while training) both measure with it: the
same hooks, the same numbers.

**Hooks** (:class:`BlockHooks`, installed for one forward; the tensor hooks they put on that
forward's outputs fire in its backward, or with ``capture`` one autograd call returns what they
would catch). Our own blocks are tapped, not hooked: for that forward their ``forward`` is one that
hands each path its input (:meth:`~resnet_explain.model.blocks.Block.forward_paths`), so no module
takes torch's slow hooked call path; any other block gets module hooks. Per block output x_l: the
gradient ∂L/∂x_l and, optionally, the forward activation's sum and 2-norm (for its mean and std,
taken after the backward with the other numbers). With ``split``, for a
residual block y = act(s), s = F(x) + S(x) (S the shortcut, identity or projection), the split of
the backward signal reaching x:

    dL/dx = S'(x)^T g  +  J_F(x)^T g,     g = dL/ds
            identity term   residual-branch term

In a gated block, s = (1 - g(x)) S(x) + g(x) F(x) (Highway's carry and transform), the identity
term is the carry path's share, the residual term the transform path's, and the gate term the share
that flows back through the gate g(x) itself. In a dense block (s = concat(x, F(x))) the identity
term is the gradient the concatenation hands straight to x. Each path gets its own alias of x (a
``view_as``), so the gradient caught there is that path's share only.

**Numbers** (:class:`~resnet_explain.norms.Norms`, in :mod:`resnet_explain.norms`): every norm
reduced on the device, copied to the host once, an underflowed one rescued by scaling (on a CPU,
small tensors summed in float64 on the host, where nothing underflows).

Nothing here knows about a training loop: install the hooks around any forward, put what they
caught (and any parameter tensors) into a :class:`Norms` after the backward, and read it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Norms and its helpers live in .norms; imported here too, where the hooks' users find them.
from . import norms as _norms
from .norms import _HOST_MAX_MOMENTS, Norms, _safe_norms, _vector, norm_now, safe_norm  # noqa: F401
from .residuals import split_graph

# On a CPU, a gradient of more entries than this is reduced as it arrives (a tensor hook; its rescue
# too, a CPU's numbers being on the host), not kept to the end of the backward: kept, it holds its
# memory and makes autograd add the paths' gradients into a new tensor (ResNet-20 at batch 32,
# 32x32: +13 % on the step, against ~1 % reduced at once). Smaller ones cost less kept (a tensor
# hook is a Python call) and on a GPU every one is kept (no Python in its backward).
REDUCE_AT_ONCE = 1 << 15


class BlockHooks:
    """Hooks on blocks for one forward and its backward; a context manager (installed on enter,
    removed on exit), or :meth:`install` / :meth:`remove`.

    ``caught`` maps ``(which, block name)`` to a tensor caught in the backward: ``"grad"``, the
    gradient at the block's output; with ``split``, ``"identity"``, ``"residual"`` and ``"gate"``,
    the shares of dL/dx that come back through a block's ``shortcut``, ``body`` and ``gate``
    modules (where it has them; see the module docstring), or, in any other block with a
    residual add (:mod:`resnet_explain.residuals`), through its shortcut and its branch. With
    ``activations``, ``acts`` maps a block name to its forward output (detached), whose sum and
    2-norm :meth:`add_to` asks for (for its mean and std: :meth:`activation_stats`)."""

    PATHS = (("residual", "body"), ("identity", "shortcut"), ("gate", "gate"))

    def __init__(self, blocks: list[tuple[str, nn.Module]], *, split: bool = True,
                 activations: bool = True, capture: bool = False):
        self.blocks = list(blocks)
        self.split, self.activations, self.capture = split, activations, capture
        self.caught: dict[tuple[str, str], torch.Tensor] = {}
        self.reduced: dict[tuple[str, str], float] = {}  # big CPU gradients' norms (REDUCE_AT_ONCE)
        # with ``activations``: a block's output (detached), or a big one's (sum, 2-norm)
        self.acts: dict[str, torch.Tensor | tuple[torch.Tensor, torch.Tensor]] = {}
        self.counts: dict[str, int] = {}  # entries of each block's output
        self._targets: list[tuple[tuple[str, str], torch.Tensor]] = []  # with ``capture``
        self._handles: list = []
        self._swapped: list = []  # (block, its own instance forward or None, its two taps or None)

    def __enter__(self) -> BlockHooks:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()

    def install(self) -> BlockHooks:
        """Hook the blocks for the next forward (what an earlier one caught is forgotten)."""
        self.caught, self.reduced, self.acts, self.counts, self._targets = {}, {}, {}, {}, []
        for name, mod in self.blocks:
            if callable(getattr(mod, "forward_paths", None)) and "forward" not in mod.__dict__:
                self._tap_block(name, mod)
                continue
            self._handles.append(mod.register_forward_hook(self._on_output(name)))
            if self.split:
                self._hook_paths(name, mod)
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for mod, forward, identity, residual in self._swapped:
            if forward is None:
                mod.__dict__.pop("forward", None)
            else:
                mod.forward = forward
            if identity is not None:
                identity.on_alias = residual.on_alias = None
        self._swapped = []

    def _tap_block(self, name: str, mod: nn.Module) -> None:
        """One of our blocks (:meth:`~resnet_explain.model.blocks.Block.forward_paths`): for this
        forward its ``forward`` is one that hands each path its own alias of x and records the
        output. The same catches as the module hooks of any other block, without them: a module
        with a hook takes torch's slow call path, and each hook is a Python call (host time per
        block, which on a GPU is launch time lost)."""
        record = self._on_output(name)
        children = mod._modules  # (not getattr: a module's __getattr__ is slow)
        split = self.split and children.get("shortcut") is not None
        paths = [w for w, attr in self.PATHS if children.get(attr) is not None] if split else []

        def forward(x: torch.Tensor) -> torch.Tensor:
            if paths and x.requires_grad:
                alias = {w: self._alias(x, (w, name)) for w in paths}
                out = mod.forward_paths(alias["residual"], alias["identity"], alias.get("gate", x))
            else:
                out = mod.forward_paths(x, x, x)
            record(mod, (x,), out)
            return out

        self._swapped.append((mod, None, None, None))
        mod.__dict__["forward"] = forward  # a plain attribute: Module.__setattr__'s checks skipped

    def _alias(self, x: torch.Tensor, key: tuple[str, str]) -> torch.Tensor:
        """A path's own alias of x (a view), watched: its gradient is this path's share only."""
        alias = x.view_as(x)
        self._watch(key, alias)
        return alias

    def _catch(self, key: tuple[str, str]):
        def hook(g: torch.Tensor) -> None:
            self.caught[key] = g.detach()  # reduced after the backward, all at once
        return hook

    def _watch(self, key: tuple[str, str], t: torch.Tensor) -> None:
        """Catch the gradient at ``t`` in the backward: a tensor hook, or with ``capture`` a
        target of :meth:`backward`'s one autograd call; a big one on a CPU is reduced as it
        arrives (REDUCE_AT_ONCE)."""
        if t.numel() > REDUCE_AT_ONCE and _norms.on_host(t.device):
            t.register_hook(self._reduce(key))
        elif self.capture:
            self._targets.append((key, t))
        else:
            t.register_hook(self._catch(key))

    def _reduce(self, key: tuple[str, str]):
        def hook(g: torch.Tensor) -> None:
            self.reduced[key] = norm_now(g)
        return hook

    def backward(self, loss: torch.Tensor, params: list[torch.Tensor]) -> None:
        """``zero_grad(set_to_none=True); loss.backward()`` for a caller that owns the backward
        (the probe). With ``capture``, one ``torch.autograd.grad`` call returns every caught
        gradient and the parameters' gradients at once, so no Python hook runs inside the
        backward (each is a call into Python, on CUDA from the autograd engine's own thread). They
        are the gradients tensor hooks would catch: the engine captures a tensor's gradient where
        a hook on it would fire. Each parameter's ``.grad`` becomes its gradient (None where it got
        none); no other leaf gets a ``.grad`` (an input that requires grad: use hooks there)."""
        if not self.capture:  # the tensor hooks catch, in a plain backward
            for p in params:
                p.grad = None
            loss.backward()
            return
        targets, self._targets = self._targets, []
        wanted = [p for p in params if p.requires_grad]
        if targets or wanted:
            grads = torch.autograd.grad(loss, [t for _, t in targets] + wanted, allow_unused=True)
        else:  # nothing to catch: autograd.grad would refuse; backward still runs (or raises)
            loss.backward()
            grads = ()
        self.caught = {k: g for (k, _), g in zip(targets, grads) if g is not None}
        if len(wanted) == len(params) and grads:  # every parameter asked for, in order
            for p, g in zip(params, grads[len(targets):]):
                p.grad = g
            return
        got = dict(zip(map(id, wanted), grads[len(targets):]))
        for p in params:
            p.grad = got.get(id(p))

    def _on_output(self, name: str):
        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor):
                if self.activations:
                    a, n = out.detach(), out.numel()
                    self.counts[name] = n
                    # A small output is kept and reduced after the backward with the rest
                    # (add_to); a big one now, while it is in cache, rather than held through
                    # the backward (its memory), in two reductions in its dtype (a float64 sum
                    # casts: slow on CPU; std_mean is ~40x slower there).
                    self.acts[name] = a if n <= _HOST_MAX_MOMENTS else (
                        a.sum(), torch.linalg.vector_norm(a))
                if out.requires_grad:
                    self._watch(("grad", name), out)
        return hook

    def _hook_paths(self, name: str, mod: nn.Module) -> None:
        if not (isinstance(getattr(mod, "body", None), nn.Module)
                and isinstance(getattr(mod, "shortcut", None), nn.Module)):
            self._hook_traced_paths(name, mod)
            return
        for which, attr in self.PATHS:  # a gated block's third path back to x: through g(x)
            path = getattr(mod, attr, None)
            if isinstance(path, nn.Module):
                self._handles.append(path.register_forward_pre_hook(self._on_path_input(name, which)))

    def _hook_traced_paths(self, name: str, mod: nn.Module) -> None:
        """A block of any other model: for this forward it runs as its traced graph, in which the
        shortcut and the branch read the input through taps (:func:`residuals.split_graph`: the
        same computation, the block's own modules). Nothing is changed where it has no add."""
        split = split_graph(mod)
        if split is None:
            return
        gm, identity, residual = split
        identity.on_alias = self._on_alias(("identity", name))
        residual.on_alias = self._on_alias(("residual", name))
        self._swapped.append((mod, mod.__dict__.get("forward"), identity, residual))
        mod.forward = gm.forward

    def _on_alias(self, key: tuple[str, str]):
        def on_alias(alias: torch.Tensor) -> None:
            self._watch(key, alias)
        return on_alias

    def _on_path_input(self, name: str, which: str):
        # Give this path its own alias of x, so its gradient is this path's share only.
        def hook(_mod, args):
            x = args[0]
            if not (isinstance(x, torch.Tensor) and x.requires_grad):
                return None
            return (self._alias(x, (which, name)),) + tuple(args[1:])
        return hook

    def add_to(self, norms: Norms) -> None:
        """Put what was caught into ``norms``: the norms of the gradients under their keys, and
        each block's activation sum and norm as scalars ``("act_sum", name)``, ``("act_norm", name)``."""
        norms.norms(self.caught.items())
        for key, v in self.reduced.items():
            norms.value(key, v)
        for name, a in self.acts.items():
            if isinstance(a, tuple):
                norms.scalar(("act_sum", name), a[0])
                norms.scalar(("act_norm", name), a[1])
            else:
                norms.moments(("act_sum", name), ("act_norm", name), a)

    def activation_stats(self, values: dict) -> dict[str, tuple[float, float]]:
        """Per block with an activation: its (mean, unbiased std), in float64 from ``values``
        (a :meth:`Norms.read` of :meth:`add_to`)."""
        return self.stats_of(values, self.counts)

    @staticmethod
    def stats_of(values: dict, counts: dict[str, int]) -> dict[str, tuple[float, float]]:
        """:meth:`activation_stats` from the values and each block's number of entries."""
        names = list(counts)
        if not names:
            return {}
        sums = np.array([values[("act_sum", n)] for n in names])
        norms = np.array([values[("act_norm", n)] for n in names])
        count = np.array([counts[n] for n in names], dtype=np.float64)
        mean = sums / count
        var = np.clip(norms * norms - count * mean * mean, 0, None) / np.maximum(count - 1, 1)
        return dict(zip(names, zip(mean.tolist(), np.sqrt(var).tolist())))
