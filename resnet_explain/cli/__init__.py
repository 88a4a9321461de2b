"""The command line, ``python -m resnet_explain COMMAND``: one parser, one error type.

Each module adds its subcommands (``add_parsers``) and sets ``func``; any
:class:`~resnet_explain.errors.UserError` (a bad flag value, a spec that cannot be built, an
unknown model, ...) becomes one line on stderr and exit code 2. Commands:

* :mod:`.probe` — ``probe``, ``presets``
* :mod:`.training` — ``degradation``, ``bench-train``, ``lr-sweep``
* :mod:`.runs` — ``train``, ``runs``, ``grad-history``
* :mod:`.attribution` — ``attribute``, ``attribution-scores``
* :mod:`.lesion` — ``lesion``
* :mod:`.landscape` — ``landscape``
* :mod:`.architectures` — ``architectures``
* :mod:`.transformers` — ``transformers``

:mod:`.run_flags` is how a command names a trained run (``--model`` / ``--run``); the ``--json``
tables go through :mod:`resnet_explain.jsonable` (a non-finite number becomes null).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError
from . import architectures, attribution, landscape, lesion, probe, runs, training, transformers

PROG = "python -m resnet_explain"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (exit code 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Measure gradient flow in plain and residual networks.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    for module in (probe, training, runs, attribution, lesion, landscape, architectures, transformers):
        module.add_parsers(sub)
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.func(a)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
