"""The add-on interface: a context manager around one round of a timing cell that writes figures into
the record (as pyperf's hooks do).

In the worker, `TimedSuite` enters every registered add-on (a fresh instance per round) around building
the model and timing its step, then stores ``addon.figures()`` under the add-on's name in that round's
measurement; the record keeps them per round (``rounds[i]["addons"][name]``). Add-ons must not disturb
the timed code: read counters at the edges (``__enter__``/``__exit__``) rather than run a busy thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, ClassVar


class CellAddon(ABC):
    """Measures something around one round of one timing cell, inside the backend's worker.

    Subclasses set `name` (unique; the key of their figures in the record), implement `start`, `stop`
    and `figures`, and are registered (the class itself, constructed with no arguments) by a plugin's
    ``bench_register_addons(register)``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def start(self) -> None:
        """Called just before the cell builds its model."""

    @abstractmethod
    def stop(self) -> None:
        """Called just after the cell's last timed step."""

    @abstractmethod
    def figures(self) -> dict[str, Any]:
        """What to write into the record: JSON-ready values, names with units (``peak_rss_bytes``)."""

    def __enter__(self) -> CellAddon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running(addons: Sequence[CellAddon]) -> Iterator[Sequence[CellAddon]]:
    """Enter every add-on in order, leave them in reverse, even when the cell raises."""
    with ExitStack() as stack:
        for addon in addons:
            stack.enter_context(addon)
        yield addons


def collect_figures(addons: Sequence[CellAddon]) -> dict[str, dict[str, Any]]:
    """Each add-on's figures by its name; an add-on whose figures fail says so instead of losing the round."""
    collected = {}
    for addon in addons:
        try:
            collected[addon.name] = dict(addon.figures())
        except Exception as error:  # noqa: BLE001 - a broken add-on must not lose the measurement
            collected[addon.name] = {"error": f"{type(error).__name__}: {error}"}
    return collected
