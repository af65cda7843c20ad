"""Why the interval over rounds is a t-interval, not a bootstrap: coverage with few rounds, simulated.

    python benchmarks/bootstrap_coverage.py

Simulates cells whose log round medians scatter normally around the truth (between-round SD 0.15, plus
the within-round error of a 60-sample median) and counts how often a nominal 95% interval covers the
truth: the percentile bootstrap over rounds (1,000 resamples) against the t-interval lstm-bench uses
(`harness.measurement.statistics.cell_interval`). The figures in docs/methodology.md come from this.
"""

from __future__ import annotations

import math

import numpy as np

from harness.measurement.statistics import cell_interval

SIMULATIONS = 2000


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'rounds':>6} {'bootstrap':>9} {'t-interval':>10}")
    for rounds in (3, 5, 10):
        bootstrap = t_interval = 0
        for _ in range(SIMULATIONS):
            logs = rng.normal(0.0, 0.15, rounds) + rng.normal(0.0, 1.25 * 0.3 / math.sqrt(60), rounds)
            means = logs[rng.integers(0, rounds, size=(1000, rounds))].mean(axis=1)
            low, high = np.quantile(means, [0.025, 0.975])
            bootstrap += low <= 0.0 <= high
            t_interval += cell_interval(np.exp(logs)).covers(1.0)
        print(f"{rounds:6d} {bootstrap / SIMULATIONS:9.1%} {t_interval / SIMULATIONS:10.1%}")


if __name__ == "__main__":
    main()
