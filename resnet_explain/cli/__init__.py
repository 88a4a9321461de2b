"""The command line, ``python -m resnet_explain COMMAND``: one parser, one error type.

Each module adds its subcommands (``add_parsers``) and sets ``func``; any
:class:`~resnet_explain.errors.UserError` (a bad flag value, a spec that cannot be built, an
unknown model, ...) becomes one line on stderr and exit code 2. Commands:

* :mod:`.probe` — ``probe``, ``presets``
* :mod:`.training` — ``degradation``, ``bench-train``
* :mod:`.runs` — ``train``, ``runs``, ``grad-history``
* :mod:`.attribution` — ``attribute``, ``attribution-scores``
* :mod:`.lesion` — ``lesion``
* :mod:`.landscape` — ``landscape``
* :mod:`.architectures` — ``architectures``
"""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import UserError

PROG = "python -m resnet_explain"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (exit code 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import architectures, attribution, landscape, lesion, probe, runs, training

    p = _Parser(prog=PROG, description="Measure gradient flow in plain and residual networks.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    for module in (probe, training, runs, attribution, lesion, landscape, architectures):
        module.add_parsers(sub)
    return p


def json_value(v):
    """A value for ``--json``: a non-finite float (NaN, inf) becomes null (JSON has no NaN)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def json_rows(df) -> list[dict]:
    """A DataFrame's rows for ``--json``, with :func:`json_value` applied to every cell."""
    return [{k: json_value(v) for k, v in r.items()} for r in df.to_dict("records")]


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.func(a)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
