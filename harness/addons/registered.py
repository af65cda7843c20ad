"""The add-ons every timing cell runs with: those plugins registered, discovered once per worker process."""

from __future__ import annotations

from functools import cache

from harness.addons.base import CellAddon


@cache
def registered_addons() -> tuple[type[CellAddon], ...]:
    """Every registered add-on class, in registration order."""
    from harness.plugins.discovery import discover

    return tuple(discover().addons.values())
