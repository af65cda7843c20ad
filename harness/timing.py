"""Timing method: first step apart, warm-up, then repeats until a time budget or a tight enough CI.

The timed function must return only when the device has finished (backends synchronise inside it).
Statistics are robust: the median and its 95% confidence interval from order statistics (no normality
assumption), the interquartile range, the minimum and the mean.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


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


def measure(step: Callable[[], object], budget: TimingBudget) -> TimingResult:
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


def median_confidence_interval(samples, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the median from order statistics (normal approximation to the binomial).

    The ranks are ``n/2 -+ z*sqrt(n)/2``; with fewer than 6 samples the interval is the whole range.
    """
    ordered = np.sort(np.asarray(samples, dtype=np.float64))
    n = ordered.size
    if n < 6:
        return float(ordered[0]), float(ordered[-1])
    z = _normal_quantile(0.5 + confidence / 2)
    half_width = z * math.sqrt(n) / 2
    lower_rank = max(int(math.floor(n / 2 - half_width)), 1)
    upper_rank = min(int(math.ceil(n / 2 + half_width)) + 1, n)
    return float(ordered[lower_rank - 1]), float(ordered[upper_rank - 1])


def _normal_quantile(probability: float) -> float:
    """Inverse of the standard normal CDF (bisection on erf; exact enough for CI ranks)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def summarize(samples) -> dict[str, float | int]:
    """Median, IQR, min, mean, 95% CI of the median and sample count, in seconds."""
    values = np.asarray(samples, dtype=np.float64)
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    low, high = median_confidence_interval(values)
    return {
        "median_seconds": float(median),
        "iqr_seconds": float(q75 - q25),
        "min_seconds": float(values.min()),
        "mean_seconds": float(values.mean()),
        "ci95_low_seconds": low,
        "ci95_high_seconds": high,
        "samples": int(values.size),
    }
