"""Statistics of timing samples measured in rounds, each round in a fresh worker process.

Why rounds: the samples of one process are not independent draws of "this backend's speed". Each
process gets its own memory layout, thread placement, allocator and JIT state, so its median sits a
little above or below the next process's. A second run sees a new process, so the uncertainty that
matters for "is B slower than A" is the *between-round* one. The statistics therefore treat the round
(its median) as the unit, and the samples within a round only as what makes a round's median precise:

- **One cell** (`cell_interval`): the 95% interval of the cell's typical round median is a t-interval
  on the logarithms of the round medians (``scipy.stats.ttest_1samp(...).confidence_interval``), so its
  centre is their geometric mean and its width follows the spread between processes. With one round there
  is no such interval; the order-statistic interval of that round's median
  (``scipy.stats.quantile_test``) is given instead and the cell is marked unstable by its suite.
- **Two cells** (`ratio_of_cells`): the ratio B/A of the geometric means of the round medians, with a 95%
  interval and a p-value from Welch's t-test on the log round medians (``scipy.stats.ttest_ind``,
  unequal variances); cells measured in the same run, round by round side by side, may be *paired* by
  round instead (``scipy.stats.ttest_rel``), which removes the drift both shared.
- **Many cells at once** (`holm_adjusted`): Holm's step-down adjustment of the p-values, so that "any
  regression" (one exit status over a whole run) is wrong at most 5% of the time, not 5% per cell.

Logarithms because timings are multiplicative (a 10% slowdown is the same at 1 ms and at 1 s) and
their round medians are close to log-normal; the t-distribution because a run has few rounds, where a
bootstrap over rounds is too narrow (with five rounds a percentile bootstrap covers about 85% for a
nominal 95%; docs/methodology.md). The tests pin coverage on synthetic data with known between-round
variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    estimate: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class RatioEstimate:
    """``ratio = B / A`` with its confidence interval and the two-sided p-value of "no difference"."""

    ratio: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 1 - CONFIDENCE


def summarize(samples: Sequence[float]) -> dict[str, float | int]:
    """Median, IQR, min, mean, the order-statistic 95% CI of the median, and the count, in seconds: the
    figures of one round's samples, or of all samples pooled."""
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


def median_confidence_interval(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free interval of the median of *one* process's samples, from order statistics
    (``scipy.stats.quantile_test``); with too few samples for the confidence asked, the whole range."""
    from scipy import stats

    values = np.asarray(samples, dtype=np.float64)
    interval = stats.quantile_test(values, q=float(np.median(values)), p=0.5).confidence_interval(confidence)
    low = float(interval.low) if np.isfinite(interval.low) else float(values.min())
    high = float(interval.high) if np.isfinite(interval.high) else float(values.max())
    return low, high


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean (``scipy.stats.gmean``): the right average of ratios and of round medians."""
    from scipy import stats

    return float(stats.gmean(np.asarray(values, dtype=np.float64)))


def between_round_spread(round_medians: Sequence[float]) -> float | None:
    """The standard deviation of the log round medians: about the coefficient of variation between
    processes (0.05 = round medians typically 5% apart); None with fewer than two rounds."""
    logs = np.log(np.asarray(round_medians, dtype=np.float64))
    return float(np.std(logs, ddof=1)) if logs.size >= 2 else None


def cell_interval(round_medians: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """The geometric mean of the round medians and its t-interval over rounds; None with one round."""
    from scipy import stats

    logs = np.log(np.asarray(round_medians, dtype=np.float64))
    if logs.size < 2:
        return None
    centre = float(np.mean(logs))
    if np.ptp(logs) == 0:
        return Interval(math.exp(centre), math.exp(centre), math.exp(centre))
    interval = stats.ttest_1samp(logs, 0.0).confidence_interval(confidence)
    return Interval(math.exp(centre), math.exp(interval.low), math.exp(interval.high))


def ratio_of_cells(a_round_medians: Sequence[float], b_round_medians: Sequence[float], *, paired: bool = False,
                   confidence: float = CONFIDENCE) -> RatioEstimate | None:
    """B/A from the round medians of two cells: ratio of geometric means, interval and p-value from a t-test
    on the logs (Welch's, or paired by round with ``paired``); None when either cell has fewer than two
    rounds (paired: fewer than two rounds in common)."""
    from scipy import stats

    a_logs = np.log(np.asarray(a_round_medians, dtype=np.float64))
    b_logs = np.log(np.asarray(b_round_medians, dtype=np.float64))
    if paired:
        rounds = min(a_logs.size, b_logs.size)
        a_logs, b_logs = a_logs[:rounds], b_logs[:rounds]
    if min(a_logs.size, b_logs.size) < 2:
        return None
    difference = float(np.mean(b_logs) - np.mean(a_logs))
    spread = np.ptp(b_logs - a_logs) if paired else max(np.ptp(a_logs), np.ptp(b_logs))
    if spread == 0:
        ratio = math.exp(difference)
        return RatioEstimate(ratio, ratio, ratio, 1.0 if difference == 0 else 0.0)
    test = stats.ttest_rel(b_logs, a_logs) if paired else stats.ttest_ind(b_logs, a_logs, equal_var=False)
    interval = test.confidence_interval(confidence)
    return RatioEstimate(math.exp(difference), math.exp(interval.low), math.exp(interval.high), float(test.pvalue))


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject where ``adjusted < alpha`` and the chance of any false
    rejection among all of them stays below ``alpha``."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    scaled = np.minimum((p.size - np.arange(p.size)) * p[order], 1.0)
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()

