"""Timing method for one round: first step apart, warm-up, then repeats until a time budget or a tight
enough CI of this round's median.

A cell is measured in several rounds, each in a fresh worker process (`harness.execution.runner`); this
module times one of them. The timed function must return only when the device has finished (backends
synchronise inside it). The samples are summarised by `harness.measurement.statistics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.measurement.statistics import median_confidence_interval


@dataclass(frozen=True)
class TimingBudget:
    """How long to measure one cell: ``rounds`` fresh worker processes, each timing the step within the
    per-round limits below. The defaults are chosen from measurements on a 2-core machine
    (docs/methodology.md, "Rounds").

    Attributes:
        rounds: fresh worker processes per timing cell, interleaved across backends.
        warmup_steps: untimed steps after the first one, in every round (caches, allocator, autotuning).
        min_seconds: keep sampling a round at least this long...
        max_seconds: ...and at most this long,
        min_samples: with at least this many samples (the documented minimum, `MIN_SAMPLES_PER_ROUND`,
            unless the user lowers it, which marks the cell unstable),
        max_samples: and at most this many;
        target_ci_width: stop a round early (after min_seconds) once the 95% CI of its median is narrower
            than this fraction of the median.
    """

    rounds: int = 10
    warmup_steps: int = 3
    min_seconds: float = 0.5
    max_seconds: float = 2.0
    min_samples: int = 10
    max_samples: int = 10_000
    target_ci_width: float = 0.03


MIN_ROUNDS = 3
"""Fewer rounds than this and a cell's interval cannot be trusted: it is marked ``unstable``."""
MIN_SAMPLES_PER_ROUND = 5
"""Fewer samples in a round than this and its median is not a median: the cell is marked ``unstable``."""

QUICK_BUDGET = TimingBudget(rounds=3, warmup_steps=2, min_seconds=0.25, max_seconds=1.0, min_samples=MIN_SAMPLES_PER_ROUND,
                            target_ci_width=0.05)


@dataclass(frozen=True)
class TimingResult:
    """Raw samples of one cell plus the first (compiling, tracing) step, in seconds."""

    first_step_seconds: float
    samples_seconds: tuple[float, ...]


def time_step(step: Callable[[], object], budget: TimingBudget,
              after_first_step: Callable[[object], None] | None = None) -> TimingResult:
    """Time ``step``: once cold, ``warmup_steps`` untimed, then samples within ``budget``.

    :param after_first_step: called with what the first (cold, separately timed) call returned, before
        the warm-up and outside every timed region: where the timing suites verify the step's work.
    """
    started = time.perf_counter()
    output = step()
    first_step_seconds = time.perf_counter() - started
    if after_first_step is not None:
        after_first_step(output)
    del output
    for _ in range(budget.warmup_steps):
        step()
    samples: list[float] = []
    next_check = budget.min_samples
    least = min(budget.min_samples, MIN_SAMPLES_PER_ROUND)  # past max_seconds a slow step stops at the minimum
    sampling_started = time.perf_counter()
    while True:
        before = time.perf_counter()
        step()
        samples.append(time.perf_counter() - before)
        elapsed = time.perf_counter() - sampling_started
        if len(samples) >= budget.max_samples or (elapsed >= budget.max_seconds and len(samples) >= least):
            break
        if len(samples) >= budget.min_samples and elapsed >= budget.min_seconds and len(samples) >= next_check:
            next_check = len(samples) + max(1, len(samples) // 10)  # the CI costs ~2 ms: not after every step
            low, high = median_confidence_interval(samples)
            if (high - low) <= budget.target_ci_width * float(np.median(samples)):
                break
    return TimingResult(first_step_seconds, tuple(samples))
