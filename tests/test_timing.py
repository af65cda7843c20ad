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


def test_power_law_exponent_and_crossover():
    assert fit_power_law({32: 1.0, 64: 4.0, 128: 16.0}) == pytest.approx(2.0)
    assert fit_power_law({32: 1.0}) is None
    medians = {"a": {32: 1.0, 64: 2.0, 128: 4.0}, "b": {32: 0.5, 64: 2.5, 128: 9.0}}
    assert crossovers(medians) == [("a", "b", 64)]
