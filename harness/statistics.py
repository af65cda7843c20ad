"""Comparing two cells' raw timing samples without assuming normality.

- The **ratio of medians** gets a 95% interval from a percentile bootstrap: resample each cell's raw
  samples with replacement (``resamples`` times), take the ratio of the resampled medians, read the
  2.5% and 97.5% percentiles.
- **Significance** comes from the two-sided Mann-Whitney U test (normal approximation with tie and
  continuity corrections): does one cell's time tend to exceed the other's? Rank-based, it keeps its
  power when timings are bimodal (a frequency step, a periodic GC), where the median itself jumps
  between modes and a bootstrap interval of the median ratio becomes too wide to say anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import math

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
