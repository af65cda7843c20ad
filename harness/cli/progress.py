"""The run's progress on the terminal (tqdm, on stderr); plain lines when stderr is not a terminal."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence

from tqdm import tqdm

from harness.cell import Cell
from harness.execution.estimate import RunEstimate, WorkerJob
from harness.execution.observer import RunObserver

REFRESH_SECONDS = 1.0
"""How often the bar's ETA and elapsed time are redrawn while a cell runs."""
BAR_STEPS = 1000
MAX_FRACTION_WHILE_RUNNING = 0.99
"""The bar stops short of 100% until the run has ended: an estimate can reach zero while a cell still runs."""
BAR_PREFIX_WIDTH = 32
"""What the bar takes before the status line: ``100%|`` and 24 cells and ``| ``; the status line is cut to
what is left of the terminal's width, so the bar never wraps."""


class ProgressBar(RunObserver):
    """Shows the share of the run's estimated work that is done, what is running now (a worker loading its
    framework, or the cell and round it measures), the time elapsed and an ETA from the cells' budgets and
    what the run has measured so far (`harness.execution.estimate`). `write` prints a line above the bar."""

    def __init__(self, jobs: Sequence[WorkerJob]) -> None:
        self.estimate = RunEstimate(list(jobs))
        self.interactive = sys.stderr.isatty()
        self.started = time.monotonic()
        self.running = "starting"
        self._shown = 0.0
        self.bar = tqdm(total=BAR_STEPS, file=sys.stderr, dynamic_ncols=True, disable=not self.interactive,
                        bar_format="{percentage:3.0f}%|{bar:24}| {desc}")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ticker = threading.Thread(target=self._tick, name="bench-progress", daemon=True)
        if self.interactive:
            self._ticker.start()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=2 * REFRESH_SECONDS)
        if self.interactive and exc[0] is None:
            with self._lock:
                self.bar.n = BAR_STEPS
                self.bar.refresh()
        self.bar.close()

    def message(self, text: str) -> None:
        self.write(text)

    def write(self, message: str) -> None:
        text = f"bench: {message}"
        if self.interactive:
            with self._lock:
                self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def backend_skipped(self, backend: str) -> None:
        self.estimate.backend_skipped(backend)
        self._refresh()

    def worker_starting(self, backend: str, cells: Sequence[Cell]) -> None:
        self.estimate.worker_starting(backend, cells)
        timed = [cell for cell in cells if self.estimate.timed(backend, cell)]
        round_text = _round_text(timed[0]) if timed else ""
        self.running = f"{backend}: starting a worker{round_text} (loading the framework)"
        self._refresh()

    def cell_started(self, backend: str, cell: Cell) -> None:
        self.estimate.cell_started(backend, cell)
        round_text = _round_text(cell) if self.estimate.timed(backend, cell) else ""
        self.running = f"{backend}: {cell.suite} {cell.device} hidden {cell.spec.hidden}{round_text}"
        self._refresh()

    def round_finished(self, backend: str, cell: Cell, seconds: float) -> None:
        self.estimate.round_finished(backend, cell, seconds)
        self._refresh()

    def status_line(self) -> str:
        """``ETA 2:10 · 0:42 elapsed · torch: train cpu hidden 64, round 3 of 10`` (what the bar shows)."""
        return self._status_line(*self._times())

    def fraction_done(self) -> float:
        """Elapsed over elapsed plus remaining; never back (an estimate that grows holds the bar still), and
        below 100% until the run has ended (`__exit__`)."""
        return self._fraction_done(*self._times())

    def _times(self) -> tuple[float, float]:
        """Seconds elapsed and seconds the estimate says remain, read once per redraw."""
        return time.monotonic() - self.started, self.estimate.remaining_seconds()

    def _status_line(self, elapsed: float, remaining: float) -> str:
        return f"ETA {_clock(remaining)} · {_clock(elapsed)} elapsed · {self.running}"

    def _fraction_done(self, elapsed: float, remaining: float) -> float:
        fraction = elapsed / (elapsed + remaining) if elapsed + remaining > 0 else 1.0
        self._shown = max(self._shown, min(fraction, MAX_FRACTION_WHILE_RUNNING))
        return self._shown

    def _refresh(self) -> None:
        if not self.interactive:
            return
        with self._lock:
            elapsed, remaining = self._times()
            self.bar.n = min(int(BAR_STEPS * self._fraction_done(elapsed, remaining)), BAR_STEPS)
            room = _stderr_columns() - BAR_PREFIX_WIDTH - 1
            line = self._status_line(elapsed, remaining)
            self.bar.set_description_str(line if len(line) <= room else line[: max(room - 1, 10)] + "…", refresh=False)
            self.bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self._refresh()


def _stderr_columns() -> int:
    """The width of the terminal the bar is drawn on (standard error), else of the session (``COLUMNS``)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return shutil.get_terminal_size().columns


def _round_text(cell: Cell) -> str:
    return f", round {cell.round + 1} of {cell.options.budget.rounds}"


def _clock(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
