"""The statistics over rounds, pinned on synthetic data whose truth is known.

Timings are simulated as a real machine makes them: each round (a fresh process) gets its own offset,
log-normal with a between-round spread, and its samples scatter around it with a within-round spread.
The intervals must cover the truth at their nominal 95% rate within sampling error (2.5 standard errors of
a proportion over the simulations), and the test over all samples as if independent must not: that is the
mistake the rounds are there to stop.
"""

import math

import numpy as np
import pytest
from scipy import stats

from harness.measurement.statistics import (
    between_round_spread,
    cell_interval,
    geometric_mean,
    holm_adjusted,
    ratio_of_cells,
    summarize,
)

SIMULATIONS = 600
TOLERANCE = 2.5 * math.sqrt(0.95 * 0.05 / SIMULATIONS)  # about 0.022


def simulated_cell(rng, *, log_median, rounds, samples, between, within):
    """Each round's samples: the round's own offset (between-round spread) times within-round noise."""
    offsets = rng.normal(0.0, between, size=rounds)
    return [np.exp(log_median + offset + rng.normal(0.0, within, size=samples)) for offset in offsets]


def round_medians(cell):
    return [float(np.median(samples)) for samples in cell]


@pytest.mark.parametrize("rounds", [3, 5, 10])
def test_cell_interval_covers_the_typical_process_median_at_its_nominal_rate(rounds):
    rng = np.random.default_rng(rounds)
    truth = 0.004
    covered = 0
    for _ in range(SIMULATIONS):
        cell = simulated_cell(rng, log_median=math.log(truth), rounds=rounds, samples=60, between=0.15, within=0.3)
        covered += cell_interval(round_medians(cell)).covers(truth)
    assert abs(covered / SIMULATIONS - 0.95) <= TOLERANCE


def test_treating_all_samples_as_independent_undercovers_badly():
    """The 0.1 method (one process's samples as if independent) on the same data: far below 95%."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(SIMULATIONS // 3):
        cell = simulated_cell(rng, log_median=0.0, rounds=5, samples=60, between=0.15, within=0.3)
        pooled = summarize(np.concatenate(cell))
        covered += pooled["ci95_low_seconds"] <= 1.0 <= pooled["ci95_high_seconds"]
    assert covered / (SIMULATIONS // 3) < 0.6


@pytest.mark.parametrize("paired", [False, True])
def test_ratio_interval_covers_a_planted_slowdown_and_false_alarms_stay_at_5_percent(paired):
    rng = np.random.default_rng(11 + paired)
    covered = false_alarms = 0
    for _ in range(SIMULATIONS):
        shared = rng.normal(0.0, 0.1, size=5) if paired else np.zeros(5)  # drift both backends saw, round by round
        a = [m * math.exp(s) for m, s in zip(round_medians(simulated_cell(rng, log_median=0.0, rounds=5, samples=40, between=0.08, within=0.3)), shared)]
        b = [m * math.exp(s) for m, s in zip(round_medians(simulated_cell(rng, log_median=math.log(1.25), rounds=5, samples=40, between=0.08, within=0.3)), shared)]
        same = [m * math.exp(s) for m, s in zip(round_medians(simulated_cell(rng, log_median=0.0, rounds=5, samples=40, between=0.08, within=0.3)), shared)]
        estimate = ratio_of_cells(a, b, paired=paired)
        covered += estimate.low <= 1.25 <= estimate.high
        false_alarms += ratio_of_cells(a, same, paired=paired).significant
    assert abs(covered / SIMULATIONS - 0.95) <= TOLERANCE
    assert abs(false_alarms / SIMULATIONS - 0.05) <= TOLERANCE


def test_ratio_matches_scipy_welch_by_hand():
    a, b = [1.0, 1.1, 0.9, 1.05], [1.3, 1.2, 1.4, 1.25]
    estimate = ratio_of_cells(a, b)
    welch = stats.ttest_ind(np.log(b), np.log(a), equal_var=False)
    assert estimate.ratio == pytest.approx(geometric_mean(b) / geometric_mean(a))
    assert estimate.p_value == pytest.approx(welch.pvalue)
    interval = welch.confidence_interval()
    assert (estimate.low, estimate.high) == pytest.approx((math.exp(interval.low), math.exp(interval.high)))
    assert ratio_of_cells([1.0], [2.0, 2.1]) is None  # one round has no spread to test against


def test_identical_rounds_are_a_zero_width_interval_not_a_crash():
    interval = cell_interval([0.002, 0.002, 0.002])
    assert interval.low == interval.estimate == interval.high == pytest.approx(0.002)
    same = ratio_of_cells([1.0, 1.0], [1.0, 1.0])
    assert same.ratio == 1.0 and same.p_value == 1.0 and not same.significant
    assert cell_interval([0.002]) is None


def test_between_round_spread_is_the_sd_of_log_round_medians():
    assert between_round_spread([1.0, math.e]) == pytest.approx(np.std([0.0, 1.0], ddof=1))
    assert between_round_spread([1.0]) is None


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, 1 x 0.04 = 0.04 -> monotone: 0.03, 0.06, 0.06
    assert holm_adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjusted([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjusted([0.001]) == pytest.approx([0.001])
