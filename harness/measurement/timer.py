"""Timing method: first step apart, warm-up, then repeats until a time budget or a tight enough CI.

The timed function must return only when the device has finished (backends synchronise inside it).
The samples are summarised by `harness.measurement.statistics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.measurement.statistics import median_confidence_interval


@dataclass(frozen=True)
class TimingBudget:
    """How long to measure one cell.

    Attributes:
        warmup_steps: untimed steps after the first one (caches, allocator, autotuning).
        min_seconds: keep sampling at least this long...
        max_seconds: ...and at most this long,
        min_samples: with at least this many samples,
        max_samples: and at most this many;
        target_ci_width: stop early (after min_seconds) once the 95% CI of the median is narrower than
            this fraction of the median.
    """

    warmup_steps: int = 5
    min_seconds: float = 2.0
    max_seconds: float = 20.0
    min_samples: int = 10
    max_samples: int = 10_000
    target_ci_width: float = 0.02


QUICK_BUDGET = TimingBudget(warmup_steps=2, min_seconds=0.3, max_seconds=2.0, min_samples=5, target_ci_width=0.05)


@dataclass(frozen=True)
class TimingResult:
    """Raw samples of one cell plus the first (compiling, tracing) step, in seconds."""

    first_step_seconds: float
    samples_seconds: tuple[float, ...]


def time_step(step: Callable[[], object], budget: TimingBudget) -> TimingResult:
    """Time ``step``: once cold, ``warmup_steps`` untimed, then samples within ``budget``."""
    started = time.perf_counter()
    step()
    first_step_seconds = time.perf_counter() - started
    for _ in range(budget.warmup_steps):
        step()
    samples: list[float] = []
    sampling_started = time.perf_counter()
    while True:
        before = time.perf_counter()
        step()
        samples.append(time.perf_counter() - before)
        elapsed = time.perf_counter() - sampling_started
        if len(samples) >= budget.max_samples or (elapsed >= budget.max_seconds and len(samples) >= 3):
            break
        if len(samples) >= budget.min_samples and elapsed >= budget.min_seconds:
            low, high = median_confidence_interval(samples)
            if (high - low) <= budget.target_ci_width * float(np.median(samples)):
                break
    return TimingResult(first_step_seconds, tuple(samples))
