"""Statistics of raw timing samples, without assuming normality.

One cell: the median and its 95% confidence interval from order statistics, the interquartile range,
the minimum and the mean (`summarize`).

Two cells:

- The **ratio of medians** gets a 95% interval from a percentile bootstrap: resample each cell's raw
  samples with replacement (``resamples`` times), take the ratio of the resampled medians, read the
  2.5% and 97.5% percentiles.
- **Significance** comes from the two-sided Mann-Whitney U test (normal approximation with tie and
  continuity corrections): does one cell's time tend to exceed the other's? Rank-based, it keeps its
  power when timings are bimodal (a frequency step, a periodic GC), where the median itself jumps
  between modes and a bootstrap interval of the median ratio becomes too wide to say anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
MAX_SAMPLES_PER_RESAMPLE = 2000
"""Cells with more samples are resampled through a random subset of this size (memory bound)."""


@dataclass(frozen=True)
class RatioEstimate:
    """``ratio = median(b) / median(a)`` with its bootstrap confidence interval."""

    ratio: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 1.0 or self.high < 1.0


def median_ratio(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = 0) -> RatioEstimate:
    """The ratio of medians ``b / a`` and its percentile-bootstrap interval."""
    a_values, b_values = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rng = np.random.default_rng(seed)
    a_medians = _bootstrap_medians(a_values, resamples, rng)
    b_medians = _bootstrap_medians(b_values, resamples, rng)
    tail = (1 - confidence) / 2
    low, high = np.quantile(b_medians / a_medians, [tail, 1 - tail])
    return RatioEstimate(float(np.median(b_values) / np.median(a_values)), float(low), float(high))


def _bootstrap_medians(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    size = min(values.size, MAX_SAMPLES_PER_RESAMPLE)
    return np.median(values[rng.integers(0, values.size, size=(resamples, size))], axis=1)


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean: the right average of ratios."""
    return float(np.exp(np.mean(np.log(np.asarray(values, np.float64)))))


def mann_whitney_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test that ``a`` and ``b`` come from one distribution."""
    a_values, b_values = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n_a, n_b = a_values.size, b_values.size
    combined = np.concatenate([a_values, b_values])
    order = np.argsort(combined, kind="mergesort")
    ordered = combined[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], combined.size]
    ranks = np.empty(combined.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)  # tied values share their mean rank
    u_a = ranks[:n_a].sum() - n_a * (n_a + 1) / 2
    n = n_a + n_b
    tie_sizes = (ends - starts).astype(np.float64)
    variance = n_a * n_b / 12 * ((n + 1) - (tie_sizes**3 - tie_sizes).sum() / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    deviation = u_a - n_a * n_b / 2
    z = (abs(deviation) - 0.5) / math.sqrt(variance) if deviation else 0.0
    return float(math.erfc(max(z, 0.0) / math.sqrt(2)))


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
