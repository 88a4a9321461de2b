"""One error type for everything a user can cause.

Every library error that a bad request can raise (a spec that cannot be built, a training option
out of range, a dataset that cannot be had, an unknown checkpoint, an attribution or lesion that
cannot be made, a refused upload) is a :class:`UserError`. The CLI turns it into one line on stderr
and exit code 2; the pages show it as a message and keep running. Anything else is a bug.
"""

from __future__ import annotations


class UserError(ValueError):
    """A request that cannot be honoured, with a message that says why in one line."""


class Stopped(Exception):
    """A long job ended early because someone asked it to (a Stop button, a cancelled request):
    the one cancellation signal of the library. What was finished before it may be kept by the
    caller; nothing half-made is returned."""
