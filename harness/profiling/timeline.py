"""Wall-clock attribution for profilers that record nested, parallel intervals (TensorFlow's executor runs
ops on several threads at once): every instant of the step goes to the categories running then.

On each thread the innermost interval that has a category decides the category of each instant (an op
inside a layer's scope counts for that layer); instants where several threads run are split equally among
them; instants where no thread runs an op are ``host``. The categories then sum to the wall time exactly,
however many threads overlapped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

Interval = tuple[float, float, str]
"""``(start_seconds, end_seconds, name)`` of one recorded event on one thread."""


def thread_segments(intervals: Sequence[Interval], category: Callable[[list[str]], str]) -> list[tuple[float, float, str]]:
    """One thread's timeline as ``(start, end, category)`` segments where some interval is open; the
    intervals nest (a profiler's scopes), and each segment's open names, innermost first, go to
    ``category``. A sweep over the sorted boundaries with a stack of open intervals."""
    ordered = sorted(intervals, key=lambda interval: (interval[0], -interval[1]))
    points = sorted({point for start, end, _ in ordered for point in (start, end)})
    segments, stack, next_interval = [], [], 0
    for left, right in pairwise(points):
        while next_interval < len(ordered) and ordered[next_interval][0] <= left:
            _, end, name = ordered[next_interval]
            if end > left:
                stack.append((end, name))
            next_interval += 1
        stack = [(end, name) for end, name in stack if end > left]
        if stack:
            segments.append((left, right, category([name for _, name in reversed(stack)])))
    return segments


def attribute_wall_time(threads: Sequence[Sequence[Interval]], category: Callable[[list[str]], str],
                        wall_start: float, wall_end: float) -> dict[str, float]:
    """Seconds of ``[wall_start, wall_end]`` per category over every thread (see the module docstring)."""
    changes: list[tuple[float, int, str]] = []
    for intervals in threads:
        for start, end, found in thread_segments(intervals, category):
            start, end = max(start, wall_start), min(end, wall_end)
            if end > start:
                changes += [(start, 1, found), (end, -1, found)]
    changes.sort()
    totals: dict[str, float] = {}
    active: dict[str, int] = {}
    previous = wall_start
    for time, change, found in [*changes, (wall_end, 0, "")]:
        if time > previous:
            running = sum(active.values())
            for name, count in (active.items() if running else [("host", 1)]):
                if count:
                    totals[name] = totals.get(name, 0.0) + (time - previous) * count / max(running, 1)
            previous = time
        if change:
            active[found] = active.get(found, 0) + change
    return totals
