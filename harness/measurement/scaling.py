"""How time grows with the LSTM's width: power-law exponents with intervals, and significant crossovers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

from harness.measurement.statistics import CONFIDENCE, Interval

MIN_SIZES_FOR_EXPONENT = 3
"""A line through two points has no residual, so no interval: the exponent needs three hidden sizes."""


def fit_power_law(seconds_by_hidden: dict[int, float], confidence: float = CONFIDENCE) -> Interval | None:
    """The exponent k of ``time ~ hidden^k`` (least squares on log-log, ``scipy.stats.linregress``) with its
    t-interval (n - 2 degrees of freedom); None with fewer than `MIN_SIZES_FOR_EXPONENT` sizes."""
    from scipy import stats

    points = sorted((hidden, seconds) for hidden, seconds in seconds_by_hidden.items() if seconds > 0)
    if len({hidden for hidden, _ in points}) < MIN_SIZES_FOR_EXPONENT:
        return None
    fit = stats.linregress([math.log(h) for h, _ in points], [math.log(s) for _, s in points])
    half_width = stats.t.ppf(0.5 + confidence / 2, len(points) - 2) * fit.stderr
    return Interval(float(fit.slope), float(fit.slope - half_width), float(fit.slope + half_width))


@dataclass(frozen=True)
class Crossover:
    """``faster`` is significantly slower than ``slower`` up to ``slower_until`` and significantly faster
    from ``hidden`` on (sizes between, if any, showed no significant difference)."""

    faster: str
    slower: str
    hidden: int
    slower_until: int


def crossovers(backends: list[str], hiddens: list[int], order: Callable[[str, str, int], int]) -> list[Crossover]:
    """Where one backend overtakes another, counting only significant differences.

    :param order: ``order(a, b, hidden)``: -1 when ``a`` is significantly faster than ``b`` at ``hidden``,
        +1 when significantly slower, 0 when not significantly different or not measured there.
    :returns: one `Crossover` per change of the significant order of a pair, in hidden order; a pair whose
        order changes twice gets two, each naming the sizes that bound it, so no two can contradict.
    """
    found = []
    for first, second in combinations(backends, 2):
        previous: tuple[int, int] | None = None
        for hidden in sorted(hiddens):
            sign = order(first, second, hidden)
            if sign == 0:
                continue
            if previous is not None and sign != previous[0]:
                faster, slower = (first, second) if sign < 0 else (second, first)
                found.append(Crossover(faster, slower, hidden, previous[1]))
            previous = (sign, hidden)
    return found
