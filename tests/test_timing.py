"""Timing statistics, FLOPs and scaling: the numbers a reviewer checks by hand."""

import math

import numpy as np
import pytest

from harness.measurement.flops import forward_flops, training_step_flops
from harness.measurement.scaling import crossovers, fit_power_law
from harness.measurement.statistics import median_confidence_interval, summarize
from harness.measurement.timer import TimingBudget, time_step
from harness.model_spec import ModelSpec


def test_summary_of_known_samples():
    samples = [0.010, 0.012, 0.011, 0.013, 0.050, 0.011, 0.012, 0.010, 0.011, 0.012]
    stats = summarize(samples)
    assert stats["median_seconds"] == pytest.approx(0.0115)
    assert stats["min_seconds"] == 0.010 and stats["samples"] == 10
    assert stats["mean_seconds"] == pytest.approx(np.mean(samples))
    assert stats["iqr_seconds"] == pytest.approx(np.percentile(samples, 75) - np.percentile(samples, 25))
    assert stats["ci95_low_seconds"] <= stats["median_seconds"] <= stats["ci95_high_seconds"]


def test_median_ci_uses_order_statistics_and_covers_the_median():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        samples = rng.exponential(1.0, size=41)
        low, high = median_confidence_interval(samples)
        assert low in samples and high in samples
        covered += low <= math.log(2) <= high  # the exponential's true median
    assert 0.92 <= covered / 400 <= 0.99


def test_tiny_samples_get_the_full_range():
    assert median_confidence_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)


def test_median_ci_ranks_match_the_binomial_by_hand():
    # n = 20: P(Binomial(20, 0.5) <= 5) = 0.0207 <= 0.025 < P(<= 6) = 0.0577, so the interval runs from the
    # 6th to the 15th order statistic.
    assert median_confidence_interval([float(i) for i in range(1, 21)]) == (6.0, 15.0)


def test_measure_separates_the_first_step_and_honours_the_budget():
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            import time
            time.sleep(0.05)

    budget = TimingBudget(warmup_steps=3, min_seconds=0.0, max_seconds=1.0, min_samples=7, max_samples=7)
    result = time_step(step, budget)
    assert len(calls) == 1 + 3 + 7
    assert len(result.samples_seconds) == 7
    assert result.first_step_seconds >= 0.05 > max(result.samples_seconds)


def test_flops_of_the_article_model_by_hand():
    spec = ModelSpec(vocab_size=50000, embed_dim=5, hidden=3, seq_len=2, batch_size=4)
    # input projection 2*4*2*5*12 = 960, recurrence 2*4*2*3*12 = 576, dense 2*4*6 = 48
    assert forward_flops(spec) == 960 + 576 + 48
    assert training_step_flops(spec) == 3 * (960 + 576 + 48)


def test_power_law_exponent_has_an_interval_and_needs_three_sizes():
    exact = fit_power_law({32: 1.0, 64: 4.0, 128: 16.0})
    assert exact.estimate == pytest.approx(2.0) and exact.low == pytest.approx(2.0) and exact.high == pytest.approx(2.0)
    noisy = fit_power_law({32: 1.0, 64: 4.4, 128: 15.0, 256: 66.0})
    assert noisy.low < noisy.estimate < noisy.high and noisy.covers(2.0)
    # By hand for {1, 2.1, 3.9} on 32, 64, 128: slope of log y on log x with 1 residual degree of freedom.
    by_hand = fit_power_law({32: 1.0, 64: 2.1, 128: 3.9})
    assert by_hand.estimate == pytest.approx(math.log(3.9) / (2 * math.log(2)), rel=0.02)
    assert fit_power_law({32: 1.0, 64: 4.0}) is None and fit_power_law({32: 1.0}) is None


def test_crossovers_count_only_significant_changes_of_order():
    significant = {  # order(a, b, hidden): -1 a faster, +1 a slower, 0 not significant
        ("a", "b"): {32: 1, 64: 0, 128: -1, 256: -1},
        ("a", "c"): {32: 1, 64: 0, 128: 0, 256: 1},
        ("b", "c"): {32: 0, 64: 0, 128: 0, 256: 0},
    }

    def order(first, second, hidden):
        return significant[first, second][hidden]

    (found,) = crossovers(["a", "b", "c"], [32, 64, 128, 256], order)
    assert (found.faster, found.slower, found.hidden, found.slower_until) == ("a", "b", 128, 32)
    flip_flop = {("a", "b"): {32: 1, 64: -1, 128: 1}}
    both = crossovers(["a", "b"], [32, 64, 128], lambda first, second, hidden: flip_flop[first, second][hidden])
    assert [(c.faster, c.hidden, c.slower_until) for c in both] == [("a", 64, 32), ("b", 128, 64)]
