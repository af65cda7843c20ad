"""What a run found, in a few lines: the fastest backend per sweep of hidden sizes (only where the lead is
significant), the failures, the unstable cells. `bench run` ends with it; the HTML report opens with it.

Works on flat rows (`harness.results.frame.flat_row`), so a finished run's records and a saved run's
frame give the same summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.measurement.statistics import ratio_of_cells
from harness.model_spec import ModelSpec, varying_fields
from harness.results.record import FAILING_STATUSES, MEASURED_STATUSES, UNSTABLE, round_medians


@dataclass(frozen=True)
class Lead:
    """At one hidden size of one sweep: the fastest backend by median, and how far ahead of the next one.

    Attributes:
        hidden: the hidden size.
        fastest: the backend with the smallest median.
        runner_up: the next backend, None when only one was measured.
        ratio, low, high: the runner-up's time over the fastest's (paired by round) and its 95% interval;
            None without a runner-up or without two rounds.
        significant: the interval excludes 1 (the lead is real, not noise) and neither cell is unstable.
        unstable: the fastest or the runner-up cell is unstable: no lead is claimed from it.
    """

    hidden: int
    fastest: str
    runner_up: str | None = None
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    unstable: bool = False

    @property
    def significant(self) -> bool:
        return not self.unstable and self.low is not None and self.low > 1


@dataclass(frozen=True)
class Sweep:
    """One timing suite on one device for one (T, B, ...) series: its leads by hidden size."""

    suite: str
    device: str
    series: str
    leads: tuple[Lead, ...]

    @property
    def title(self) -> str:
        return f"{self.suite} on {self.device}" + (f" ({self.series})" if self.series else "")

    def sentence(self) -> str:
        """``train on cpu: torch fastest at hidden 32-128 (1.9-3.0x ahead of the next); no clear lead at 256``."""
        parts = []
        for group in _runs(self.leads):
            first = group[0]
            where = _hidden_range([lead.hidden for lead in group])
            if first.runner_up is None:
                parts.append(f"only {first.fastest} measured at {where}")
            elif first.significant:
                ratios = [lead.ratio for lead in group]
                ahead = f"{min(ratios):.2f}x" if len({f"{r:.2f}" for r in ratios}) == 1 else f"{min(ratios):.2f}-{max(ratios):.2f}x"
                parts.append(f"{first.fastest} fastest at {where} ({ahead} ahead of the next)")
            elif any(lead.unstable for lead in group):
                parts.append(f"no lead claimed at {where} (unstable cells)")
            else:
                parts.append(f"no significant lead at {where}")
        return f"{self.title}: " + "; ".join(parts)


def sweeps(rows: list[dict[str, Any]], timing_suites: set[str] | None = None) -> list[Sweep]:
    """The sweeps of the measured timing cells in ``rows`` (``pass`` and ``unstable``), in the rows' order."""
    timed = [row for row in rows if row.get("status") in MEASURED_STATUSES and row.get("median_seconds")
             and (timing_suites is None or row.get("suite") in timing_suites)]
    series_fields = [name for name in ModelSpec.series_fields()]
    shown = varying_fields(timed, series_fields) or ["seq_len", "batch_size"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in timed:
        groups.setdefault((row["suite"], row["device"], *(row.get(name) for name in series_fields)), []).append(row)
    result = []
    for key, members in groups.items():
        series = dict(zip(series_fields, key[2:]))
        label = " ".join(f"{ModelSpec.short_name(name)}={series[name]}" for name in shown if name in series)
        by_hidden: dict[int, list[dict[str, Any]]] = {}
        for row in members:
            by_hidden.setdefault(int(row["hidden"]), []).append(row)
        leads = tuple(_lead(hidden, cells) for hidden, cells in sorted(by_hidden.items()))
        result.append(Sweep(key[0], key[1], label, leads))
    return result


def problems(rows: list[dict[str, Any]], *, unstable: bool = True) -> list[str]:
    """One phrase per failing (and, with ``unstable``, unstable) cell: ``fail: gradients torch (cuda)``."""
    found = []
    for row in rows:
        status = row.get("status")
        if status in FAILING_STATUSES or (unstable and status == UNSTABLE):
            where = f"{row.get('suite')} {row.get('backend')}" + (f" ({row['device']})" if row.get("device", "cpu") != "cpu" else "")
            found.append(f"{status}: {where}" + (f" hidden {row['hidden']}" if status == UNSTABLE else ""))
    return list(dict.fromkeys(found))


def summary_lines(rows: list[dict[str, Any]], timing_suites: set[str] | None = None, *, unstable: bool = True) -> list[str]:
    """The run's summary: one sentence per sweep, then what failed (and, with ``unstable``, was unstable)."""
    lines = [sweep.sentence() for sweep in sweeps(rows, timing_suites)]
    trouble = problems(rows, unstable=unstable)
    if trouble:
        shown = trouble[:8] + ([f"{len(trouble) - 8} more"] if len(trouble) > 8 else [])
        lines.append("needs a look: " + "; ".join(shown))
    return lines


def _lead(hidden: int, cells: list[dict[str, Any]]) -> Lead:
    ordered = sorted(cells, key=lambda row: row["median_seconds"])
    fastest = ordered[0]
    if len(ordered) == 1:
        return Lead(hidden, fastest["backend"])
    runner_up = ordered[1]
    unstable = UNSTABLE in (fastest.get("status"), runner_up.get("status"))
    estimate = ratio_of_cells(round_medians(fastest), round_medians(runner_up), paired=True)
    if estimate is None:
        return Lead(hidden, fastest["backend"], runner_up["backend"],
                    runner_up["median_seconds"] / fastest["median_seconds"], unstable=unstable)
    return Lead(hidden, fastest["backend"], runner_up["backend"], estimate.ratio, estimate.low, estimate.high, unstable)


def _runs(leads: tuple[Lead, ...]) -> list[list[Lead]]:
    """Consecutive hidden sizes with the same verdict (the same significant leader, or no significant lead)."""
    groups: list[list[Lead]] = []
    for lead in leads:
        verdict = (lead.fastest if lead.significant else None, lead.runner_up is None, lead.unstable)
        if groups and (groups[-1][0].fastest if groups[-1][0].significant else None,
                       groups[-1][0].runner_up is None, groups[-1][0].unstable) == verdict:
            groups[-1].append(lead)
        else:
            groups.append([lead])
    return groups


def _hidden_range(hiddens: list[int]) -> str:
    return f"hidden {hiddens[0]}" if len(hiddens) == 1 else f"hidden {hiddens[0]}-{hiddens[-1]}"
