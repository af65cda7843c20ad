"""`RunObserver`: what the runner tells whoever watches a run (a progress bar, a log), as it happens."""

from __future__ import annotations

from collections.abc import Sequence

from harness.cell import Cell
from harness.results.record import Record


class RunObserver:
    """Hears a run's events in order; every method does nothing by default, so an observer overrides only
    what it shows.

    For each worker: `worker_starting` (a fresh process, loading its framework), `cell_started` for each
    cell as the worker begins it (the first one also means the framework has loaded), `round_finished` as
    each ends; `record_kept` whenever a cell's record is judged and saved; `message` for lines to show.
    """

    def message(self, text: str) -> None:
        """A line for the user (a worker starting, a cell still running, a backend unavailable)."""

    def backend_skipped(self, backend: str) -> None:
        """``backend`` runs nothing (unavailable where the cells run)."""

    def worker_starting(self, backend: str, cells: Sequence[Cell]) -> None:
        """A fresh worker process starts for one round of each of ``cells``."""

    def cell_started(self, backend: str, cell: Cell) -> None:
        """The worker has begun ``cell`` (its round set)."""

    def round_finished(self, backend: str, cell: Cell, seconds: float) -> None:
        """One round of ``cell`` ended after ``seconds`` in the worker (an error ends it too)."""

    def record_kept(self, record: Record) -> None:
        """A cell's record was judged and appended to the run."""
