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

- **A control divides out the machine's drift.** Two runs minutes apart on one machine drift by more
  than the rounds of either can see (docs/methodology.md, "Measured"). With ``control`` (a backend
  measured in both runs), every cell is compared *relative to* the control's cell of the same suite,
  device and spec, round by round: the rounds of one run are interleaved across backends, so round k
  of a cell and round k of its control ran side by side and share the machine's state. B/A is then the
  change of cell/control; the control's own cells get the verdict ``control`` and show the drift
  itself. The noise floor keeps its default: dividing also adds the control's own round-to-round noise,
  which on this project's machine is not shared between backends (docs/methodology.md, "A control
  backend, measured").

Runs from different machines, thread counts or cell sets are refused unless forced.

- **Comparing machines.** A side may name a host (``RUN@HOST``: the cells a ``--hosts`` run sent there, or
  an untargeted run's cells that ran on the machine of that name). When A and B name different hosts the
  comparison is *of machines*: their differences are the point, so they are not refused; each side's
  machine is named from the facts measured on it (``metadata.json``'s ``hosts``); the verdicts say which
  is faster per cell, and no slower cell counts as a regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.cell import CELL_FIELDS, cell_key
from harness.errors import BenchUsageError
from harness.measurement.statistics import RatioEstimate, geometric_mean, holm_adjusted, ratio_of_cells
from harness.rendering import percent_text
from harness.report.tables import machine_words
from harness.results.frame import host_metadata, load_metadata, rows
from harness.results.record import MEASURED_STATUSES, UNSTABLE, round_medians

MACHINE_KEYS = ("cpu_model", "cpu_count", "machine", "os")
SIGNIFICANCE_LEVEL = 0.05
DEFAULT_MIN_EFFECT = 0.15
"""The default noise floor: identical runs a few minutes apart on this project's 2-core machine differed
by up to 17% in a cell's B/A (90th percentile 13%) with no load the guest could see (docs/methodology.md,
"Measured"); pass ``--min-effect`` to change it for a quieter machine."""
FASTER, SLOWER, NOT_SIGNIFICANT, UNSTABLE_VERDICT, TOO_FEW_ROUNDS, CONTROL, NO_CONTROL = (
    "faster", "slower", "not significant", "unstable", "too few rounds", "control", "no control")
VERDICTS = (FASTER, SLOWER, NOT_SIGNIFICANT, UNSTABLE_VERDICT, TOO_FEW_ROUNDS, CONTROL, NO_CONTROL)


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
    control: str | None = None
    machines: tuple[str, str] | None = None
    """For a comparison of two hosts: each side's machine in words (`machine_words`)."""
    same_machine: bool = False
    """The two hosts compared are workers of one machine."""

    @property
    def geometric_mean_ratio(self) -> float | None:
        return geometric_mean([cell.ratio for cell in self.cells]) if self.cells else None

    @property
    def regressions(self) -> list[CellComparison]:
        return [cell for cell in self.cells if cell.regression]

    def count(self, verdict: str) -> int:
        return sum(cell.verdict == verdict for cell in self.cells)


def compare_runs(run_a: Path, run_b: Path, *, min_effect: float | None = None, force: bool = False,
                 control: str | None = None, host_a: str | None = None, host_b: str | None = None) -> RunComparison:
    """Compare the timing cells of two run directories; `BenchUsageError` when they are not comparable.

    :param min_effect: the noise floor; default `DEFAULT_MIN_EFFECT`.
    :param control: a backend measured in both runs: compare every other cell relative to it, round by round.
    :param host_a: only the cells of run A that ran on this host (``RUN@HOST``); likewise ``host_b``.
    """
    if min_effect is None:
        min_effect = DEFAULT_MIN_EFFECT
    metadata_a, metadata_b = load_metadata(run_a), load_metadata(run_b)
    machines = host_a is not None and host_b is not None and host_a != host_b
    cells_a, cells_b = _timing_cells(run_a, host_a), _timing_cells(run_b, host_b)
    facts_a, facts_b = _side_facts(metadata_a, host_a, cells_a), _side_facts(metadata_b, host_b, cells_b)
    if not force and not machines:
        _refuse_different_machines(facts_a, facts_b)
    common = [key for key in cells_a if key in cells_b]
    unfinished = "".join(_unfinished_note(run, metadata, side)
                         for run, metadata, side in ((run_a, metadata_a, "A"), (run_b, metadata_b, "B")))
    if not force and (len(common) != len(cells_a) or len(common) != len(cells_b)):
        hint = ("; A and B hold cells of different hosts: name one on each side, RUN_A@HOST RUN_B@HOST"
                if not common and ((host_a is None) != (host_b is None) or _targets(cells_a) != _targets(cells_b)) else "")
        raise BenchUsageError(
            f"compare: the runs measured different cells ({len(cells_a)} in A, {len(cells_b)} in B, {len(common)} in "
            f"both){unfinished}{hint}; compare runs of the same configuration, or pass --force to compare the common cells"
        )
    if not common and unfinished:
        raise BenchUsageError(f"compare: no timing cell finished in both runs{unfinished}")
    if not common:
        raise BenchUsageError("compare: the runs have no timing cell in common (expected two runs that timed the same "
                              "suites, backends, devices and model specs)")
    if control is not None:
        _require_control(control, common)
    comparison = RunComparison(only_in_a=len(cells_a) - len(common), only_in_b=len(cells_b) - len(common),
                               min_effect=min_effect, control=control)
    if machines:
        comparison.same_machine = bool(facts_a.get("node") and facts_a.get("node") == facts_b.get("node"))
        comparison.machines = (machine_words(facts_a), machine_words(facts_b) + (
            " (the same machine as A: its differences are noise and sharing, not hardware)"
            if comparison.same_machine else ""))
    judged = {key: _judged_values(key, cells_a, cells_b, control) for key in common}
    estimates = {key: ratio_of_cells(*values) if isinstance(values, tuple) else None for key, values in judged.items()}
    tested = [key for key in common if estimates[key] is not None and not _is_control(key, control)]
    adjusted = dict(zip(tested, holm_adjusted([estimates[key].p_value for key in tested]))) if tested else {}
    for key in common:
        a, b, estimate = cells_a[key], cells_b[key], estimates[key]
        unstable = [f"{side}: {row['message'].split(': ', 1)[-1]}" for side, row in _judged_rows(key, cells_a, cells_b, control)
                    if row.get("status") == UNSTABLE]
        p_adjusted = adjusted.get(key)
        if _is_control(key, control):
            verdict, note = CONTROL, "; ".join(["the control's own B/A: the machine's drift between the runs", *unstable])
        elif isinstance(judged[key], str):
            verdict, note = NO_CONTROL, judged[key]
        elif unstable:
            verdict, note = UNSTABLE_VERDICT, "; ".join(unstable)
        elif estimate is None:
            verdict, note = TOO_FEW_ROUNDS, "an interval needs 2 rounds or more in each run"
        elif p_adjusted < SIGNIFICANCE_LEVEL:
            verdict, note = (SLOWER if estimate.ratio > 1 else FASTER), ""
        else:
            verdict, note = NOT_SIGNIFICANT, ""
        regression = verdict == SLOWER and estimate.ratio > 1 + min_effect and not machines
        if verdict in (SLOWER, FASTER) and abs(estimate.ratio - 1) <= min_effect:
            note = f"within the {percent_text(min_effect)} noise floor"
        comparison.cells.append(CellComparison(
            cell=dict(zip(CELL_FIELDS, key)),
            median_a_seconds=a["median_seconds"],
            median_b_seconds=b["median_seconds"],
            estimate=estimate,
            p_adjusted=p_adjusted,
            verdict=verdict,
            regression=regression,
            rounds=(len(round_medians(a)), len(round_medians(b))),
            spreads=(a.get("between_round_spread"), b.get("between_round_spread")),
            note=note,
        ))
    return comparison


def _control_key(key: tuple, control: str) -> tuple:
    return (key[0], control, *key[2:])


def _is_control(key: tuple, control: str | None) -> bool:
    return control is not None and key[1] == control


def _require_control(control: str, common: list[tuple]) -> None:
    backends = sorted({key[1] for key in common})
    if control not in backends:
        raise BenchUsageError(f"compare: --control {control!r} has no timing cell in both runs "
                              f"(backends measured in both: {', '.join(backends)})")


def _judged_values(key: tuple, cells_a: dict, cells_b: dict, control: str | None) -> tuple[list[float], list[float]] | str:
    """What the test compares: the round medians of A and B, or, with a control, each round's median
    divided by the control's in the same round; a string saying why when a cell has no control to divide by."""
    if control is None or key[1] == control:
        return round_medians(cells_a[key]), round_medians(cells_b[key])
    reference = _control_key(key, control)
    if reference not in cells_a or reference not in cells_b:
        return f"{control} has no cell of this suite, device and spec in both runs; not judged"
    values = []
    for cells in (cells_a, cells_b):
        measured, controls = round_medians(cells[key]), round_medians(cells[reference])
        if len(measured) != len(controls):
            return (f"{len(measured)} round(s) against the control's {len(controls)}: rounds cannot be paired; "
                    "not judged")
        values.append([value / by for value, by in zip(measured, controls)])
    return values[0], values[1]


def _judged_rows(key: tuple, cells_a: dict, cells_b: dict, control: str | None) -> list[tuple[str, dict]]:
    """The rows whose stability a verdict depends on: the cell's in A and B, and its control's."""
    rows = [("A", cells_a[key]), ("B", cells_b[key])]
    reference = _control_key(key, control) if control is not None and key[1] != control else None
    if reference in cells_a and reference in cells_b:
        rows += [(f"A's control {control}", cells_a[reference]), (f"B's control {control}", cells_b[reference])]
    return rows


def _targets(cells: dict[tuple, dict]) -> set:
    return {key[-1] for key in cells}


def _side_facts(metadata: dict, host: str | None, cells: dict[tuple, dict]) -> dict:
    """The machine a side's timing cells ran on: the named host's facts; for a cluster run without a host
    named, the facts of the one machine its cells ran on; else the run's own."""
    if host is not None:
        return host_metadata(metadata, host)
    nodes = {row.get("host") for row in cells.values()}
    return host_metadata(metadata, nodes.pop()) if len(nodes) == 1 and None not in nodes else metadata


def _timing_cells(run_dir: Path, host: str | None = None) -> dict[tuple, dict]:
    """The measured timing cells of a run by cell key; with ``host``, only those that ran there (keyed
    without their target, so that the same cell on two hosts matches)."""
    measured = [row for row in rows(run_dir) if row.get("status") in MEASURED_STATUSES and row.get("median_seconds")]
    if host is None:
        return {cell_key(row["suite"], row["backend"], row["device"], row, row.get("target")): row for row in measured}
    own = [row for row in measured if row.get("target") == host or (row.get("target") is None and row.get("host") == host)]
    if not own and measured:
        hosts = sorted({str(row.get("target") or row.get("host")) for row in measured})
        raise BenchUsageError(f"compare: run {run_dir.name} has no timing cell that ran on {host!r} (its cells ran on: "
                              f"{', '.join(hosts)}; name one as RUN@HOST)")
    return {cell_key(row["suite"], row["backend"], row["device"], row): row for row in own}


def _unfinished_note(run_dir: Path, metadata: dict, side: str) -> str:
    """``"; A (RUN) was interrupted ...: finish it with ..."`` for a run that did not finish, else empty."""
    from harness.results.catalog import unfinished

    note = unfinished(run_dir, metadata)
    return f"; {side} ({run_dir.name}) {note}" if note else ""


def _refuse_different_machines(a: dict, b: dict) -> None:
    differences = [f"{key} {a.get(key)!r} vs {b.get(key)!r}" for key in (*MACHINE_KEYS, "threads") if a.get(key) != b.get(key)]
    if differences:
        raise BenchUsageError(
            "compare: the runs come from different machines or settings (" + "; ".join(differences) + "); "
            "timings are only comparable on one machine with one configuration; to compare machines name them "
            "(RUN_A@HOST RUN_B@HOST), or pass --force"
        )
