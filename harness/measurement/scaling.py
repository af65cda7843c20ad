"""How time grows with the LSTM's width: power-law exponents and crossover points."""

from __future__ import annotations

import math
from itertools import permutations


def fit_power_law(seconds_by_hidden: dict[int, float]) -> float | None:
    """The exponent k of ``time ~ hidden^k``, by least squares on log-log; None with fewer than 2 sizes."""
    points = [(math.log(hidden), math.log(seconds)) for hidden, seconds in seconds_by_hidden.items() if seconds > 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def crossovers(medians: dict[str, dict[int, float]]) -> list[tuple[str, str, int]]:
    """``(faster, slower, hidden)`` for each pair where ``faster`` is slower at the previous common hidden
    size and faster from ``hidden`` on: the size where it overtakes."""
    found = []
    for first, second in permutations(medians, 2):
        common = sorted(set(medians[first]) & set(medians[second]))
        for previous, current in zip(common, common[1:]):
            was_slower = medians[first][previous] > medians[second][previous]
            now_faster = medians[first][current] < medians[second][current]
            if was_slower and now_faster:
                found.append((first, second, current))
    return found
