"""Where a block adds its input back, in *any* ``nn.Module``: its residual connections, found by
tracing the block with ``torch.fx`` (the block's own code, not its class name or attributes).

A **residual add** is an ``add`` (``a + b``, ``a += b``, ``torch.add``, ``.add``) of which one
operand is on the block's *stream* — the block input itself, the input through one shortcut
module or function (torchvision's ``downsample``), or the output of an earlier residual add of the
same block — and the other operand, the *branch*, is computed from the input too. So:

* torchvision's ResNet / ResNeXt / Wide ResNet blocks: one add, of the input (``identity``) or of
  ``downsample(x)`` (``projection``);
* ConvNeXt's ``CNBlock``: one add of the input to a *layer-scaled* branch
  (``layer_scale * block(x)``, ``layer_scaled`` true);
* a ViT ``EncoderBlock``: two adds (attention, then MLP), the second on the first one's output;
* VGG's layers: no add (``none``);
* DenseNet's ``_DenseLayer``: no add inside; its caller (``_DenseBlock``) concatenates the layer's
  output with the layer's inputs, found by tracing the parent with the blocks kept whole:
  ``concat``, which is not a skip-add;
* a block ``torch.fx`` cannot trace (data-dependent control flow, say): ``untraceable``, with the
  tracer's reason — never a guess.

:func:`split_graph` returns the block's traced graph with the two paths back to the input
separated (:mod:`resnet_explain.measurement` measures the identity / residual split with it).
Traces are cached per module and train/eval mode (a trace bakes ``self.training`` in).
"""

from __future__ import annotations

import operator
import threading
import weakref
from dataclasses import dataclass

import torch
from torch import fx, nn

IDENTITY, PROJECTION, CONCAT, NONE, UNTRACEABLE = "identity", "projection", "concat", "none", "untraceable"
CONNECTIONS = (IDENTITY, PROJECTION, CONCAT, NONE, UNTRACEABLE)
_ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
_ADD_METHODS = ("add", "add_")
_CAT_FUNCTIONS = (torch.cat, torch.concat, torch.concatenate)


@dataclass(frozen=True)
class Residual:
    """How one block's input reaches its output besides its branch."""

    connection: str  # one of CONNECTIONS
    adds: int = 0  # residual adds inside the block (a ViT encoder block has 2)
    layer_scaled: bool = False  # the (first) branch is scaled by a learned parameter (ConvNeXt)
    shortcut: str = ""  # the shortcut module's name inside the block ("downsample"), if any
    reason: str = ""  # why the block could not be traced (connection == UNTRACEABLE)

    @property
    def skip(self) -> bool:
        """A skip-add: the input (or its projection) is added to the branch."""
        return self.connection in (IDENTITY, PROJECTION)


@dataclass
class _Add:
    node: fx.Node
    stream: fx.Node  # the stream node the add reads (the input, or an earlier residual add)
    shortcut: fx.Node | None  # the shortcut's first op on ``stream`` (None: added as it is)
    branch: fx.Node  # the other operand


class _OwnThreadTracer(fx.Tracer):
    """torch.fx's tracer, safe beside other threads. While it traces, fx patches
    ``nn.Module.__call__`` and ``__getattr__`` for the whole process: another thread's forward
    pass (a page's probe on a server, a training job) would reach this tracer and fail ("module is
    not installed as a submodule"). Calls from any other thread go straight to the module; traces
    take one lock, so no two patch at once (tests/unit/test_residuals.py runs forwards beside a
    trace)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._thread = threading.get_ident()

    def call_module(self, m, forward, args, kwargs):
        if threading.get_ident() != self._thread:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if threading.get_ident() != self._thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def trace(self, root, concrete_args=None):
        with _TRACE_LOCK:
            self._thread = threading.get_ident()
            return super().trace(root, concrete_args)


_TRACE_LOCK = threading.RLock()


def symbolic_trace(mod: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace`` through :class:`_OwnThreadTracer`."""
    tracer = _OwnThreadTracer()
    graph = tracer.trace(mod)
    name = mod.__class__.__name__ if isinstance(mod, nn.Module) else mod.__name__
    return fx.GraphModule(tracer.root, graph, name)


class _KeepWhole(_OwnThreadTracer):
    """A tracer that keeps the given modules as single calls (the parent's view of its blocks)."""

    def __init__(self, whole: set[int]):
        super().__init__()
        self._whole = whole

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return id(m) in self._whole or super().is_leaf_module(m, qualname)


_TRACES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # module -> {training: result}


def _trace(mod: nn.Module):
    """(GraphModule, None) or (None, the tracer's reason), cached per module and mode."""
    per_mode = _TRACES.setdefault(mod, {})
    if mod.training not in per_mode:
        try:
            per_mode[mod.training] = (symbolic_trace(mod), None)
        except Exception as exc:  # any failure to trace is reported, whatever raised it
            per_mode[mod.training] = (None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return per_mode[mod.training]


def _is_add(n: fx.Node) -> bool:
    return ((n.op == "call_function" and n.target in _ADD_FUNCTIONS)
            or (n.op == "call_method" and n.target in _ADD_METHODS)) and len(n.args) >= 2


def _tensor_inputs(n: fx.Node) -> list[fx.Node]:
    return [a for a in n.all_input_nodes if a.op != "get_attr"]


def _ancestors(n: fx.Node) -> set[fx.Node]:
    seen, todo = set(), [n]
    while todo:
        for a in todo.pop().all_input_nodes:
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return seen


def _stream_of(op: fx.Node, stream: set[fx.Node]) -> tuple[fx.Node, fx.Node | None] | None:
    """(the stream node, the shortcut op) when ``op`` is on the stream, else None."""
    if op in stream:
        return op, None
    if op.op in ("call_module", "call_function", "call_method"):
        ins = _tensor_inputs(op)
        if len(ins) == 1 and ins[0] in stream:
            return ins[0], op
        if op.op == "call_module" and len(ins) == 1:  # a shortcut of several modules (conv, BN)
            inner = _stream_of(ins[0], stream)
            if inner is not None and inner[1] is not None and inner[1].op == "call_module":
                return inner[0], inner[1]
    return None


def _residual_adds(graph: fx.Graph) -> list[_Add]:
    """The residual adds of a traced block, input to output."""
    inputs = [n for n in graph.nodes if n.op == "placeholder"][:1]
    stream, found = set(inputs), []
    for n in graph.nodes:
        if not _is_add(n):
            continue
        a, b = n.args[0], n.args[1]
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            continue
        for s_op, branch in ((b, a), (a, b)):
            on = _stream_of(s_op, stream)
            if on is not None and branch not in stream and on[0] in _ancestors(branch):
                found.append(_Add(n, on[0], on[1], branch))
                stream.add(n)
                break
    return found


def _layer_scaled(add: _Add) -> bool:
    """Whether the add's branch operand is (through shape-keeping ops) a product with a parameter."""
    todo, seen = [add.branch], set()
    while todo:
        n = todo.pop()
        if n in seen or not isinstance(n, fx.Node):
            continue
        seen.add(n)
        if n.op == "call_function" and n.target in (operator.mul, torch.mul):
            if any(isinstance(a, fx.Node) and a.op == "get_attr" for a in n.args):
                return True
        if n.op == "call_function" and len(_tensor_inputs(n)) == 1:  # drop-path, permute, ...
            todo.extend(_tensor_inputs(n))
    return False


def _module_name(n: fx.Node | None) -> str:
    if n is None or n.op != "call_module":
        return ""
    return str(n.target).split(".")[0]


def find_residual(block: nn.Module, name: str = "", model: nn.Module | None = None,
                  blocks: list[tuple[str, nn.Module]] | None = None) -> Residual:
    """How ``block``'s input is joined back. With ``model`` and the chosen ``blocks``, a block
    without an add of its own is looked for in its parent's code: a concatenation of its output
    with its inputs there (DenseNet) is ``concat``."""
    gm, reason = _trace(block)
    if gm is None:
        return Residual(UNTRACEABLE, reason=reason)
    adds = _residual_adds(gm.graph)
    if adds:
        first = adds[0]
        kind = IDENTITY if first.shortcut is None else PROJECTION
        return Residual(kind, len(adds), _layer_scaled(first), _module_name(first.shortcut))
    if model is not None and name and _parent_concatenates(model, name, blocks or [(name, block)]):
        return Residual(CONCAT)
    return Residual(NONE)


def _parent_concatenates(model: nn.Module, name: str, blocks: list[tuple[str, nn.Module]]) -> bool:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    try:
        graph = _KeepWhole({id(m) for _, m in blocks}).trace(parent)
    except Exception:  # an untraceable parent: no concatenation found (the block says "none")
        return False
    for n in graph.nodes:
        if n.op != "call_module" or n.target != child:
            continue
        ins = set(n.all_input_nodes)
        for user in n.users:
            if user.op == "call_function" and user.target in _CAT_FUNCTIONS and ins & set(user.all_input_nodes):
                return True
    return False


def find_residuals(model: nn.Module, blocks: list[tuple[str, nn.Module]]) -> dict[str, Residual]:
    """:func:`find_residual` of every chosen block, by name."""
    return {n: find_residual(m, n, model, blocks) for n, m in blocks}


class Tap(nn.Module):
    """Gives a path its own alias of the tensor it reads, and hands the alias to ``on_alias``
    (which registers a gradient hook on it): the gradient caught is that path's share only."""

    def __init__(self):
        super().__init__()
        self.on_alias = None

    def forward(self, x):
        if self.on_alias is None or not (isinstance(x, torch.Tensor) and x.requires_grad):
            return x
        alias = x.view_as(x)
        self.on_alias(alias)
        return alias


def split_graph(block: nn.Module) -> tuple[fx.GraphModule, Tap, Tap] | None:
    """The block's traced graph with its first residual add's two paths back to the input apart:
    the shortcut's use of the input reads it through an ``identity`` tap, every other use through a
    ``residual`` tap; its residual adds made out of place (the same values; nothing writes into a
    tensor a tap aliases). It computes what the block computes with the block's own submodules and
    parameters. None where the block has no residual add (or cannot be traced). Cached."""
    gm, _ = _trace(block)
    if gm is None:
        return None
    cache = _TRACES[block]
    key = ("split", block.training)
    if key not in cache:
        cache[key] = _taps_on(fx.GraphModule(gm, _copy_graph(gm.graph)))
    return cache[key]


def _copy_graph(graph: fx.Graph) -> fx.Graph:
    new = fx.Graph()
    out = new.graph_copy(graph, {})
    new.output(out)
    return new


def _taps_on(gm: fx.GraphModule):
    adds = _residual_adds(gm.graph)
    if not adds:
        return None
    x = adds[0].stream
    shortcut_use = adds[0].shortcut or adds[0].node
    identity, residual = Tap(), Tap()
    gm.add_submodule("_residuals_identity_tap", identity)
    gm.add_submodule("_residuals_residual_tap", residual)
    with gm.graph.inserting_after(x):
        r_node = gm.graph.call_module("_residuals_residual_tap", (x,))
    with gm.graph.inserting_after(r_node):
        i_node = gm.graph.call_module("_residuals_identity_tap", (x,))
    for user in list(x.users):
        if user in (r_node, i_node):
            continue
        user.replace_input_with(x, i_node if user is shortcut_use else r_node)
    for a in adds:
        if a.node.op == "call_function" and a.node.target is operator.iadd:
            a.node.target = operator.add
        elif a.node.op == "call_method" and a.node.target == "add_":
            a.node.target = "add"
    gm.graph.lint()
    gm.recompile()
    return gm, identity, residual
