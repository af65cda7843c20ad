"""Compare two runs cell by cell: is B faster, slower, or not significantly different from A?

Each timing cell was measured in rounds, each in a fresh worker process; the round is the unit that a
second run repeats, so the comparison is made on the round medians (`harness.measurement.statistics`):

- **B/A** is the ratio of the geometric means of the cells' round medians, with a 95% interval from
  Welch's t-test on their logarithms, which also gives the p-value of "no difference".
- **Many cells, one verdict.** The p-values of all matched cells are adjusted together (Holm), so that
  ``bench compare`` exiting 1 on two identical configurations happens at most 5% of the time, however many
  cells the runs hold.
- **A noise floor.** A significant slowdown is a *regression* only when B/A also exceeds
  ``1 + min_effect``: smaller differences are within what this machine drifts between identical runs
  (`DEFAULT_MIN_EFFECT`, measured in docs/methodology.md).
- **Unstable cells are not judged.** A cell marked ``unstable`` in either run (busy machine, rounds too
  far apart, too few rounds or samples) gets the verdict ``unstable`` with the reason, and never a
  regression.

Runs from different machines, thread counts or cell sets are refused unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.cell import CELL_FIELDS, cell_key
from harness.errors import BenchUsageError
from harness.measurement.statistics import RatioEstimate, geometric_mean, holm_adjusted, ratio_of_cells
from harness.results.frame import load_metadata, rows
from harness.results.record import MEASURED_STATUSES, UNSTABLE

MACHINE_KEYS = ("cpu_model", "cpu_count", "machine", "os")
SIGNIFICANCE_LEVEL = 0.05
DEFAULT_MIN_EFFECT = 0.15
"""The default noise floor: identical runs a few minutes apart on this project's 2-core machine differed
by up to 17% in a cell's B/A (90th percentile 13%) with no load the guest could see (docs/methodology.md,
"Measured"); pass ``--min-effect`` to change it for a quieter machine."""
FASTER, SLOWER, NOT_SIGNIFICANT, UNSTABLE_VERDICT, TOO_FEW_ROUNDS = (
    "faster", "slower", "not significant", "unstable", "too few rounds")
VERDICTS = (FASTER, SLOWER, NOT_SIGNIFICANT, UNSTABLE_VERDICT, TOO_FEW_ROUNDS)


@dataclass(frozen=True)
class CellComparison:
    """One matching cell: both medians, the ratio B/A with its interval and p-values, and the verdict."""

    cell: dict
    median_a_seconds: float
    median_b_seconds: float
    estimate: RatioEstimate | None
    p_adjusted: float | None
    verdict: str
    regression: bool
    rounds: tuple[int, int]
    spreads: tuple[float | None, float | None]
    note: str = ""

    @property
    def ratio(self) -> float:
        """B/A: the estimate's, or the ratio of the medians when there is no estimate."""
        return self.estimate.ratio if self.estimate else self.median_b_seconds / self.median_a_seconds


@dataclass
class RunComparison:
    """Every matching cell, the geometric mean of their ratios, and what did not match."""

    cells: list[CellComparison] = field(default_factory=list)
    only_in_a: int = 0
    only_in_b: int = 0
    min_effect: float = DEFAULT_MIN_EFFECT

    @property
    def geometric_mean_ratio(self) -> float | None:
        return geometric_mean([cell.ratio for cell in self.cells]) if self.cells else None

    @property
    def regressions(self) -> list[CellComparison]:
        return [cell for cell in self.cells if cell.regression]

    def count(self, verdict: str) -> int:
        return sum(cell.verdict == verdict for cell in self.cells)


def compare_runs(run_a: Path, run_b: Path, *, min_effect: float = DEFAULT_MIN_EFFECT, force: bool = False) -> RunComparison:
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
    estimates = {key: ratio_of_cells(_round_medians(cells_a[key]), _round_medians(cells_b[key])) for key in common}
    tested = [key for key in common if estimates[key] is not None]
    adjusted = dict(zip(tested, holm_adjusted([estimates[key].p_value for key in tested]))) if tested else {}
    comparison = RunComparison(only_in_a=len(cells_a) - len(common), only_in_b=len(cells_b) - len(common),
                               min_effect=min_effect)
    for key in common:
        a, b, estimate = cells_a[key], cells_b[key], estimates[key]
        unstable = [f"{side}: {row['message'].split(': ', 1)[-1]}" for side, row in (("A", a), ("B", b))
                    if row.get("status") == UNSTABLE]
        p_adjusted = adjusted.get(key)
        if unstable:
            verdict, note = UNSTABLE_VERDICT, "; ".join(unstable)
        elif estimate is None:
            verdict, note = TOO_FEW_ROUNDS, "an interval needs 2 rounds or more in each run"
        elif p_adjusted < SIGNIFICANCE_LEVEL:
            verdict, note = (SLOWER if estimate.ratio > 1 else FASTER), ""
        else:
            verdict, note = NOT_SIGNIFICANT, ""
        regression = verdict == SLOWER and estimate.ratio > 1 + min_effect
        if verdict in (SLOWER, FASTER) and abs(estimate.ratio - 1) <= min_effect:
            note = f"within the {min_effect:.0%} noise floor"
        comparison.cells.append(CellComparison(
            cell=dict(zip(CELL_FIELDS, key)),
            median_a_seconds=a["median_seconds"],
            median_b_seconds=b["median_seconds"],
            estimate=estimate,
            p_adjusted=p_adjusted,
            verdict=verdict,
            regression=regression,
            rounds=(len(_round_medians(a)), len(_round_medians(b))),
            spreads=(a.get("between_round_spread"), b.get("between_round_spread")),
            note=note,
        ))
    return comparison


def _round_medians(row: dict) -> list[float]:
    """A cell's round medians; a cell saved before rounds existed is one round."""
    return row.get("round_medians_seconds") or [row["median_seconds"]]


def _timing_cells(run_dir: Path) -> dict[tuple, dict]:
    return {
        cell_key(row["suite"], row["backend"], row["device"], row): row
        for row in rows(run_dir)
        if row.get("status") in MEASURED_STATUSES and row.get("median_seconds")
    }


def _refuse_different_machines(a: dict, b: dict) -> None:
    differences = [f"{key} {a.get(key)!r} vs {b.get(key)!r}" for key in (*MACHINE_KEYS, "threads") if a.get(key) != b.get(key)]
    if differences:
        raise BenchUsageError(
            "compare: the runs come from different machines or settings (" + "; ".join(differences) + "); "
            "timings are only comparable on one machine with one configuration, or pass --force"
        )
