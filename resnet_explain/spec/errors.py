"""SpecError: a network description that cannot be built (a UserError naming the bad field)."""

from __future__ import annotations

from ..errors import UserError


class SpecError(UserError):
    """A network description that cannot be built. ``field`` names the offending field."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")
