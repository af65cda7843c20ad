"""Profiles of XLA programs (JAX, Keras on JAX, TensorFlow with ``jit_compile``) from the XSpace their
profiler writes, in lstm-bench's categories.

On the CPU, XLA's runtime traces each instruction it runs (a fusion, a ``while`` loop, the instructions of
the loop's body inside it) on the executor's threads, with ``hlo_op`` and ``hlo_module`` stats; the
metadata plane keeps each program, whose instructions carry the framework's name scope as ``op_name``
(`harness.profiling.xspace.hlo_op_names`). So an instruction's category comes from its scope, by the
backend's rules (``jvp(lstm)/while/body/...`` is the LSTM forward, ``transpose(jvp(lstm))`` its gradient),
and the step's wall time is attributed instant by instant across threads
(`harness.profiling.timeline`): time inside no instruction is ``host`` (dispatch, Python, the runtime's
own bookkeeping). The Python thread and waits for completion are not instructions and are not attributed.
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

from harness.profiling.categories import Rule, category_of
from harness.profiling.step_profile import StepProfile
from harness.profiling.timeline import profile_from_threads
from harness.profiling.xspace import TraceEvent, hlo_op_names, line_events, plane_named, read_xspace


def record_xspace(start: Callable[[str], object], stop: Callable[[], object], step: Callable[[], object],
                  calls: int) -> tuple[Any, float]:
    """``calls`` calls of ``step`` between a profiler's ``start(log_dir)`` and ``stop()``: the XSpace it
    wrote and the wall time of the calls."""
    with tempfile.TemporaryDirectory() as log_dir:
        start(log_dir)
        started = time.perf_counter()
        try:
            for _ in range(calls):
                step()
        finally:
            wall = time.perf_counter() - started
            stop()
        paths = glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True)
        if len(paths) != 1:
            raise RuntimeError(f"the profiler wrote {len(paths)} XSpace files, expected one")
        return read_xspace(paths[0]), wall


def instruction_scope(event: TraceEvent, scopes: dict[tuple[str, str], str]) -> str | None:
    """The framework scope of the XLA instruction ``event`` ran (its ``op_name``), the instruction's own
    name where the program does not say, None when ``event`` is no instruction."""
    instruction = event.stats.get("hlo_op")
    if not instruction:
        return None
    module = str(event.stats.get("hlo_module", "")).split("(")[0]
    return scopes.get((module, instruction)) or str(instruction)


def self_times(events: Sequence[tuple[float, float, str]]) -> dict[str, float]:
    """Each name's self time on one thread: its events' durations less the events nested inside them."""
    totals: dict[str, float] = {}
    stack: list[list] = []  # [end, name, start, nested seconds]
    for start, end, name in sorted(events, key=lambda event: (event[0], -event[1])):
        while stack and stack[-1][0] <= start:
            _close(stack, totals)
        stack.append([end, name, start, 0.0])
    while stack:
        _close(stack, totals)
    return totals


def _close(stack: list[list], totals: dict[str, float]) -> None:
    end, name, start, nested = stack.pop()
    totals[name] = totals.get(name, 0.0) + max(end - start - nested, 0.0)
    if stack:
        stack[-1][3] += end - start


def profile_from_xla_xspace(space: Any, wall: float, calls: int, rules: Sequence[Rule],
                            kernel_of: Callable[[set[str]], str | None], profiler: str) -> StepProfile:
    """The categories, top instructions (by self time, named by their scope), kernel and trace of ``calls``
    steps recorded in ``space`` (see the module docstring). ``rules`` place scopes in categories; an
    instruction no rule places counts as ``other``. ``kernel_of`` reads the LSTM kernel from the set of
    scopes and instruction names that ran (None: the trace does not say)."""
    host = plane_named(space, "/host:CPU")
    if host is None:
        raise RuntimeError("the XSpace has no /host:CPU plane")
    scopes = hlo_op_names(space)
    threads, window, busy, seen = [], [], {}, set()
    for line_name, events in line_events(host):
        if line_name == "python":
            window += [point for event in events for point in (event.start_seconds, event.end_seconds)]
            continue
        intervals = []
        for event in events:
            scope = instruction_scope(event, scopes)
            if scope is None:
                continue
            label = f"{event.stats['hlo_op']} ({scope})"
            intervals.append((event.start_seconds, event.end_seconds, label))
            seen.update((scope, str(event.stats["hlo_op"])))
        for label, seconds in self_times(intervals).items():
            busy[label] = busy.get(label, 0.0) + seconds
        if intervals:
            threads.append(intervals)
    if not threads:
        raise RuntimeError("the trace holds no XLA instruction (was the step an XLA program?)")
    return profile_from_threads(threads, busy, window, wall, calls, partial(_category_of_stack, rules=tuple(rules)),
                                kernel_path=kernel_of(seen), profiler=profiler, trace_process="xla")


def _category_of_stack(labels: list[str], rules: tuple[Rule, ...]) -> str:
    """The category of an instant: the innermost open instruction whose scope a rule places, else ``other``."""
    return next((found for found in (_category_of_label(label, rules) for label in labels) if found), "other")


@cache
def _category_of_label(label: str, rules: tuple[Rule, ...]) -> str | None:
    return category_of(label, rules)
