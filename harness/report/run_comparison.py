"""Compare two runs cell by cell: is B faster, slower, or not significantly different from A?

For every timing cell present in both runs (same suite, backend, device and spec), the ratio of
medians B/A gets a 95% percentile-bootstrap interval from the raw samples, and the two-sided
Mann-Whitney U test on the raw samples says whether the difference is significant (p < 0.05; see
`harness.measurement.statistics`). A significant cell is *slower* when B/A > 1, *faster* when B/A < 1;
others are *not significant*. A slower cell whose ratio exceeds ``1 + threshold`` is a regression (``bench
compare`` exits 1), like ``asv compare`` and ``pyperf compare_to``. Runs from different machines,
thread counts or cell sets are refused unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.cell import CELL_FIELDS, cell_key
from harness.errors import BenchUsageError
from harness.measurement.statistics import (
    RatioEstimate,
    geometric_mean,
    mann_whitney_p_value,
    median_ratio,
)
from harness.results.frame import load_metadata, rows
from harness.results.record import PASS

MACHINE_KEYS = ("cpu_model", "cpu_count", "machine", "os")
SIGNIFICANCE_LEVEL = 0.05
FASTER, SLOWER, NOT_SIGNIFICANT = "faster", "slower", "not significant"


@dataclass(frozen=True)
class CellComparison:
    """One matching cell: both medians, the ratio B/A with its interval, and the verdict."""

    cell: dict
    median_a_seconds: float
    median_b_seconds: float
    estimate: RatioEstimate
    p_value: float
    verdict: str
    regression: bool


@dataclass
class RunComparison:
    """Every matching cell, the geometric mean of their ratios, and what did not match."""

    cells: list[CellComparison] = field(default_factory=list)
    only_in_a: int = 0
    only_in_b: int = 0

    @property
    def geometric_mean_ratio(self) -> float | None:
        return geometric_mean([cell.estimate.ratio for cell in self.cells]) if self.cells else None

    @property
    def regressions(self) -> list[CellComparison]:
        return [cell for cell in self.cells if cell.regression]


def compare_runs(run_a: Path, run_b: Path, *, threshold: float = 0.05, force: bool = False) -> RunComparison:
    """Compare the timing cells of two run directories; `BenchUsageError` when they are not comparable."""
    if not force:
        _refuse_different_machines(load_metadata(run_a), load_metadata(run_b))
    cells_a, cells_b = _timing_cells(run_a), _timing_cells(run_b)
    common = [key for key in cells_a if key in cells_b]
    if not force and (len(common) != len(cells_a) or len(common) != len(cells_b)):
        raise BenchUsageError(
            f"compare: the runs measured different cells ({len(cells_a)} in A, {len(cells_b)} in B, {len(common)} in "
            "both); compare runs of the same configuration, or pass --force to compare the common cells"
        )
    if not common:
        raise BenchUsageError("compare: the runs have no timing cell in common (expected two runs of train/infer)")
    comparison = RunComparison(only_in_a=len(cells_a) - len(common), only_in_b=len(cells_b) - len(common))
    for key in common:
        a, b = cells_a[key], cells_b[key]
        estimate = median_ratio(a["samples_seconds"], b["samples_seconds"])
        p_value = mann_whitney_p_value(a["samples_seconds"], b["samples_seconds"])
        verdict = NOT_SIGNIFICANT if p_value >= SIGNIFICANCE_LEVEL else SLOWER if estimate.ratio > 1 else FASTER
        comparison.cells.append(CellComparison(
            cell=dict(zip(CELL_FIELDS, key)),
            median_a_seconds=a["median_seconds"],
            median_b_seconds=b["median_seconds"],
            estimate=estimate,
            p_value=p_value,
            verdict=verdict,
            regression=verdict == SLOWER and estimate.ratio > 1 + threshold,
        ))
    return comparison


def _timing_cells(run_dir: Path) -> dict[tuple, dict]:
    return {
        cell_key(row["suite"], row["backend"], row["device"], row): row
        for row in rows(run_dir)
        if row.get("status") == PASS and row.get("samples_seconds")
    }


def _refuse_different_machines(a: dict, b: dict) -> None:
    differences = [f"{key} {a.get(key)!r} vs {b.get(key)!r}" for key in (*MACHINE_KEYS, "threads") if a.get(key) != b.get(key)]
    if differences:
        raise BenchUsageError(
            "compare: the runs come from different machines or settings (" + "; ".join(differences) + "); "
            "timings are only comparable on one machine with one configuration, or pass --force"
        )
