"""`PhaseTimer`: a profiler for backends without one (the NumPy reference): timers around named phases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from harness.profiling.chrome_trace import intervals_trace
from harness.profiling.step_profile import StepProfile

NOT_RECORDING = nullcontext()
"""What `PhaseTimer.phase` returns while nothing is recorded."""


class PhaseTimer:
    """Records ``(phase, start, end)`` for each ``with timer.phase(name):`` while recording; a no-op
    otherwise, so the timed steps carry no timers' cost beyond a function call."""

    def __init__(self) -> None:
        self.intervals: list[tuple[str, float, float]] | None = None

    def phase(self, name: str) -> AbstractContextManager:
        """A timer around phase ``name`` while recording; otherwise a shared no-op context (the timed steps
        pay one call, not a generator)."""
        return NOT_RECORDING if self.intervals is None else self._recorded(name)

    @contextmanager
    def _recorded(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.intervals.append((name, started, time.perf_counter()))

    def profile(self, step: Callable[[], object], calls: int, *, profiler: str, kernel_path: str | None) -> StepProfile:
        """Run ``step`` ``calls`` times recording its phases (each phase name is a category); the rest of
        the wall time is ``host``."""
        self.intervals = []
        try:
            started = time.perf_counter()
            for _ in range(calls):
                step()
            wall = time.perf_counter() - started
            intervals = self.intervals
        finally:
            self.intervals = None
        ops = [(f"{name} (phase)", end - begin, name) for name, begin, end in intervals]
        return StepProfile.from_ops(ops, calls=calls, wall_seconds=wall, kernel_path=kernel_path, profiler=profiler,
                                    trace=intervals_trace(intervals, "numpy"))
