"""How long the rest of a run will take: from the cells' budgets at first, then from what the run has
measured (each backend's worker start-up, each cell's earlier rounds). Feeds the progress bar's ETA.

A run is a sequence of worker jobs (`WorkerJob`: one backend, one round, its cells), in the runner's order.
Before anything is measured a job is estimated at `STARTUP_GUESS_SECONDS` for the worker to load its
framework, plus per timing cell its budget (`TimingBudget`: warm-up and the middle of its min/max time,
plus a first step) and per check cell `CHECK_GUESS_SECONDS`. Once a backend's worker has started, its
start-up is known; once a cell has run a round, its other rounds are estimated at that round's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median

from harness.cell import Cell

STARTUP_GUESS_SECONDS = 5.0
"""A worker's start-up before any was measured (NumPy: about 1 s; PyTorch 2-3 s; TensorFlow about 8 s; a
CUDA context adds about 6 s)."""
CHECK_GUESS_SECONDS = 2.0
"""A check cell before any of its suite was measured for the backend."""
FIRST_STEP_GUESS_SECONDS = 0.5


@dataclass(frozen=True)
class WorkerJob:
    """One worker's work: one round of each of ``cells`` for ``backend``; ``timed[i]``: cell i measures time."""

    backend: str
    cells: tuple[Cell, ...]
    timed: tuple[bool, ...]


@dataclass
class RunEstimate:
    """The remaining seconds of a run, updated as its events arrive (see the module docstring)."""

    jobs: list[WorkerJob]
    clock: Callable[[], float] = time.monotonic
    startups: dict[str, list[float]] = field(default_factory=dict)
    cell_seconds: dict[tuple, float] = field(default_factory=dict)
    check_seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _done: int = field(default=0, init=False, repr=False)
    _active: WorkerJob | None = field(default=None, init=False, repr=False)
    _active_started: float | None = field(default=None, init=False, repr=False)
    _ready: bool = field(default=False, init=False, repr=False)
    _cells_done: int = field(default=0, init=False, repr=False)
    _cell_started: float | None = field(default=None, init=False, repr=False)
    _skipped: set[str] = field(default_factory=set, init=False, repr=False)
    _timed: dict[tuple, bool] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._timed = {cell.key(job.backend): timed for job in self.jobs for cell, timed in zip(job.cells, job.timed)}

    def timed(self, backend: str, cell: Cell) -> bool:
        """Whether ``cell`` measures time (is measured in rounds)."""
        return self._timed.get(cell.key(backend), False)

    def worker_starting(self, backend: str, cells: Sequence[Cell]) -> None:
        """A worker starts: the next planned job of ``backend`` (replaced by ``cells`` where the run has
        changed its plan, e.g. a cell that needs no further round)."""
        job = WorkerJob(backend, tuple(cells), tuple(self._timed.get(cell.key(backend), False) for cell in cells))
        index = next((index for index in range(self._done, len(self.jobs)) if self.jobs[index].backend == backend), None)
        if index is None:
            self.jobs.append(job)
            index = len(self.jobs) - 1
        self.jobs[index] = job
        self._done = index
        self._active, self._active_started, self._ready, self._cells_done = job, self.clock(), False, 0
        self._cell_started = None

    def cell_started(self, backend: str, cell: Cell) -> None:
        now = self.clock()
        if not self._ready and self._active_started is not None:
            self.startups.setdefault(backend, []).append(now - self._active_started)
            self._ready = True
        self._cell_started = now

    def round_finished(self, backend: str, cell: Cell, seconds: float) -> None:
        if self._timed.get(cell.key(backend), False):
            self.cell_seconds[cell.key(backend)] = seconds
        else:
            self.check_seconds.setdefault((backend, cell.suite), []).append(seconds)
        self._cells_done += 1
        self._cell_started = None
        if self._active is not None and self._cells_done >= len(self._active.cells):
            self._done += 1
            self._active = None

    def backend_skipped(self, backend: str) -> None:
        self._skipped.add(backend)

    def remaining_seconds(self) -> float:
        """The estimated seconds until the run ends."""
        total = 0.0
        active = self._active
        if active is not None:
            elapsed_start = self.clock() - self._active_started if self._active_started is not None else 0.0
            if not self._ready:
                total += max(self.startup(active.backend) - elapsed_start, 0.0)
            for index in range(self._cells_done, len(active.cells)):
                estimate = self.cell(active.backend, active.cells[index], active.timed[index])
                if index == self._cells_done and self._cell_started is not None:
                    estimate = max(estimate - (self.clock() - self._cell_started), 0.0)
                total += estimate
        first_pending = self._done + (1 if active is not None else 0)
        for job in self.jobs[first_pending:]:
            if job.backend in self._skipped:
                continue
            total += self.startup(job.backend) + sum(self.cell(job.backend, cell, timed)
                                                     for cell, timed in zip(job.cells, job.timed))
        return total

    def startup(self, backend: str) -> float:
        seen = self.startups.get(backend)
        return median(seen) if seen else STARTUP_GUESS_SECONDS

    def cell(self, backend: str, cell: Cell, timed: bool) -> float:
        if timed:
            measured = self.cell_seconds.get(cell.key(backend))
            if measured is not None:
                return measured
            budget = cell.options.budget
            return FIRST_STEP_GUESS_SECONDS + (budget.min_seconds + budget.max_seconds) / 2
        seen = self.check_seconds.get((backend, cell.suite))
        return median(seen) if seen else CHECK_GUESS_SECONDS
