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

from harness.profiling.chrome_trace import intervals_trace
from harness.profiling.step_profile import StepProfile

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


def profile_from_threads(threads: Sequence[Sequence[Interval]], busy: dict[str, float], window: Sequence[float],
                         wall: float, calls: int, category: Callable[[list[str]], str], *, kernel_path: str | None,
                         profiler: str, trace_process: str) -> StepProfile:
    """A `StepProfile` of ``calls`` steps from a trace's threads: ``[min(window), max(window)]`` (the
    Python thread's events; ``[0, wall]`` without any) attributed instant by instant and scaled to the
    measured ``wall`` time (the profiler's own start and stop fall outside it), the top ops from ``busy``
    (seconds per op name), and a Chrome trace of the threads named ``trace_process``."""
    window_start, window_end = (min(window), max(window)) if window else (0.0, wall)
    totals = attribute_wall_time(threads, category, window_start, window_end)
    scale = wall / (window_end - window_start) if window_end > window_start else 1.0
    totals = {name: seconds * scale for name, seconds in totals.items()}
    top = sorted(busy.items(), key=lambda item: -item[1])
    top_ops = [{"op": name, "seconds": seconds / calls, "category": category([name])} for name, seconds in top]
    trace = intervals_trace([(name, start, end, number) for number, intervals in enumerate(threads)
                             for start, end, name in intervals], trace_process)
    return StepProfile.from_wall_attribution(totals, calls=calls, wall_seconds=wall, top_ops=top_ops,
                                             kernel_path=kernel_path, profiler=profiler, trace=trace)
