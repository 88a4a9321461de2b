"""Which modules of *any* ``nn.Module`` are its blocks: the one place where a selection is read.

The probe measures ‖∂L/∂x‖ at each selected module's output. A selection (``by``) is one of:

* ``None`` — :func:`resnet_explain.model.find_blocks`, THE discovery for our own models (and its
  ``*Block`` / ``Bottleneck`` / top-level-children fallback for others);
* a module type or a tuple of types — every module that is an instance, e.g.
  ``torchvision.models.resnet.BasicBlock`` or ``(nn.ReLU, nn.GELU)``;
* a name pattern on ``named_modules()`` names: a glob in which ``*`` and ``?`` stay inside one
  dotted part and ``**`` crosses dots (``"layer*.*"`` is ``layer1.0`` … ``layer4.1``, not
  ``layer1.0.conv1``), or a regular expression prefixed ``re:`` (full match, ``"re:layer\\d\\.\\d+"``);
* an ``int`` k — the modules at nesting depth k (1 = the model's children, 2 = theirs, ...);
* a predicate ``f(name, module) -> bool``;
* an explicit list of ``(name, module)`` pairs, used as given.

Blocks come in ``named_modules()`` order (registration order: input to output for sequential
models); the model itself is never one of its blocks. A selection that matches nothing raises
:class:`NoBlocksFound` (a :class:`~resnet_explain.errors.UserError`) naming what was tried and a
few of the names and types that are there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from torch import nn

from .errors import UserError
from .model import find_blocks

Blocks = list[tuple[str, nn.Module]]


class NoBlocksFound(UserError):
    """A block selection that matched no module of the model."""


def glob_regex(pattern: str) -> re.Pattern:
    """A dotted-name glob as a compiled regex: ``*`` / ``?`` within one part, ``**`` across
    parts, ``[...]`` a character set; everything else literal."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append(r"[^.]*")
        elif c == "?":
            out.append(r"[^.]")
        elif c == "[" and pattern.find("]", i + 2) != -1:
            j = pattern.find("]", i + 2)  # a "]" right after "[" (or "[!") is part of the set
            body = pattern[i + 1:j]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", r"\\") + "]")
            i = j + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _is_types(by) -> bool:
    return isinstance(by, type) or (isinstance(by, tuple) and len(by) > 0
                                    and all(isinstance(t, type) for t in by))


def _describe(by) -> str:
    if _is_types(by):
        types = by if isinstance(by, tuple) else (by,)
        return "modules of type " + " or ".join(t.__name__ for t in types)
    if isinstance(by, str):
        return (f"names matching the regular expression {by[3:]!r}" if by.startswith("re:")
                else f"names matching the glob {by!r}")
    if isinstance(by, int):
        return f"modules at nesting depth {by}"
    return f"modules for which {getattr(by, '__name__', repr(by))}(name, module) is true"


def _available(model: nn.Module, n_names: int = 8, n_types: int = 8) -> str:
    named = [(n, m) for n, m in model.named_modules() if n]
    if not named:
        return f"{type(model).__name__} has no submodules"
    shallow = sorted(named, key=lambda nm: nm[0].count("."))[:n_names]
    types = Counter(type(m).__name__ for _, m in named).most_common(n_types)
    more = len(named) - len(shallow)
    return ("names: " + ", ".join(n for n, _ in shallow) + (f", … ({more} more)" if more else "")
            + "; types: " + ", ".join(f"{t} ×{c}" for t, c in types))


def select_blocks(model: nn.Module, by=None) -> Blocks:
    """The ``(name, module)`` pairs that ``by`` selects in ``model`` (see the module docstring)."""
    if by is None:
        return find_blocks(model)
    if isinstance(by, list):
        return by
    if _is_types(by):
        def keep(_name, m):
            return isinstance(m, by)
    elif isinstance(by, str):
        if not by.strip():
            raise UserError("a block name pattern must not be empty")
        try:
            rx = re.compile(by[3:]) if by.startswith("re:") else glob_regex(by)
        except re.error as exc:
            raise UserError(f"cannot read the block name pattern {by!r}: {exc}") from None

        def keep(name, _m):
            return rx.fullmatch(name) is not None
    elif isinstance(by, int) and not isinstance(by, bool):
        if by < 1:
            raise UserError(f"block depth must be 1 or more (1 = the model's children), not {by}")

        def keep(name, _m):
            return name.count(".") + 1 == by
    elif isinstance(by, Callable):
        keep = by
    else:
        raise UserError(f"cannot select blocks by {type(by).__name__}: give a module type, a name "
                        "pattern, a depth (int), a predicate or a list of (name, module) pairs")
    found = [(n, m) for n, m in model.named_modules() if n and keep(n, m)]
    if not found:
        raise NoBlocksFound(f"no blocks in {type(model).__name__}: no {_describe(by)}. Available "
                            f"{_available(model)}")
    return found
