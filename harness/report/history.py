"""The same timing cells followed across saved runs: each cell's median per run, in the order the runs were
made, and where it changed between consecutive runs, judged as `bench compare` judges (Welch's t on the
log round medians, Holm-adjusted over every step shown, significant *and* beyond the noise floor).

Runs are labelled by commit, date or the backend's framework version (``--by``). A step between runs of
different machines or thread counts is shown but never judged (``other machine``), as ``bench compare``
refuses such runs; an unstable cell on either side is ``unstable``, not a change.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.measurement.statistics import RatioEstimate, holm_adjusted, ratio_of_cells
from harness.model_spec import ModelSpec
from harness.report.run_comparison import DEFAULT_MIN_EFFECT, MACHINE_KEYS, SIGNIFICANCE_LEVEL
from harness.results.catalog import RunSummary, list_runs
from harness.results.frame import flat_row, host_metadata, timing_suites
from harness.results.reader import load_records
from harness.results.record import MEASURED_STATUSES, UNSTABLE, round_medians

SLOWER, FASTER, NO_CHANGE, UNSTABLE_STEP, OTHER_MACHINE, FIRST = (
    "slower", "faster", "no significant change", "unstable", "other machine", "first")


@dataclass(frozen=True)
class Point:
    """One cell in one run."""

    run_id: str
    label: str | None
    started_at: str
    commit: str | None
    version: str | None
    row: dict[str, Any]
    machine: tuple

    @property
    def median_seconds(self) -> float:
        return float(self.row["median_seconds"])

    def name(self, by: str) -> str:
        """The run's name along the history axis."""
        if by == "commit":
            return (self.commit or "no commit")[:12]
        if by == "version":
            return self.version or "?"
        return self.started_at[:19].replace("T", " ")


@dataclass
class Step:
    """From one point of a cell to the next: the ratio (this / previous) and the verdict."""

    estimate: RatioEstimate | None
    verdict: str
    p_adjusted: float | None = None


@dataclass
class CellHistory:
    """One cell (suite, backend, device, spec) across the runs that measured it, oldest first."""

    suite: str
    backend: str
    device: str
    spec: dict[str, Any]
    points: list[Point] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.suite} {self.backend} ({self.device}) {ModelSpec(**self.spec).label()}"


@dataclass(frozen=True)
class HistoryFilter:
    """Which cells to follow: each field a set of accepted values, empty for any."""

    suites: frozenset[str] = frozenset()
    backends: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    hidden: frozenset[int] = frozenset()

    def accepts(self, row: dict[str, Any]) -> bool:
        label = f"{row['backend']}@{row['target']}" if row.get("target") else row["backend"]
        return ((not self.suites or row["suite"] in self.suites)
                and (not self.backends or row["backend"] in self.backends or label in self.backends)
                and (not self.devices or row["device"] in self.devices) and (not self.hidden or row["hidden"] in self.hidden))


def follow(out_dir: Path, wanted: HistoryFilter = HistoryFilter(), min_effect: float = DEFAULT_MIN_EFFECT,
           runs: list[RunSummary] | None = None) -> list[CellHistory]:
    """Every measured timing cell that ``wanted`` accepts, across the readable runs under ``out_dir``
    (oldest first), with each step between consecutive runs judged; cells seen in one run only are left out."""
    histories: dict[tuple, CellHistory] = {}
    for summary in runs if runs is not None else list_runs(out_dir):
        if summary.damaged:
            print(f"bench: warning: run {summary.run_id} is left out of the history: {summary.damaged}", file=sys.stderr)
            continue
        metadata = summary.metadata
        suites = timing_suites(metadata)
        for record in load_records(summary.directory, frozenset(suites)):
            row = flat_row(record)
            if record.suite not in suites or record.status not in MEASURED_STATUSES or not row.get("median_seconds"):
                continue
            if not wanted.accepts(row):
                continue
            key = record.cell_key()
            facts = host_metadata(metadata, record.target or record.details.get("host"))
            machine = tuple(facts.get(key) for key in (*MACHINE_KEYS, "threads"))
            history = histories.setdefault(key, CellHistory(record.suite, record.backend_label, record.device,
                                                            ModelSpec.from_saved(record.spec).to_dict()))
            history.points.append(Point(summary.run_id, summary.label, str(metadata.get("started_at") or ""),
                                        metadata.get("git_commit"), _framework_version(metadata, record.backend),
                                        row, machine))
    followed = [history for history in histories.values() if len(history.points) > 1]
    _judge_steps(followed, min_effect)
    return followed


def by_suite_and_device(histories: list[CellHistory]) -> dict[tuple[str, str], list[CellHistory]]:
    """The histories grouped as tables and plots show them: per (suite, device), in the order followed."""
    groups: dict[tuple[str, str], list[CellHistory]] = {}
    for history in histories:
        groups.setdefault((history.suite, history.device), []).append(history)
    return groups


def run_order(histories: list[CellHistory]) -> list[str]:
    """The ids of the runs ``histories`` pass through, oldest first (by start, then id)."""
    started = {point.run_id: point.started_at for history in histories for point in history.points}
    return sorted(started, key=lambda run_id: (started[run_id], run_id))


def _judge_steps(histories: list[CellHistory], min_effect: float) -> None:
    """Every step's estimate and verdict, the p-values Holm-adjusted over all steps together."""
    tested: list[Step] = []
    for history in histories:
        history.steps = [Step(None, FIRST)]
        for before, after in zip(history.points, history.points[1:]):
            if before.machine != after.machine:
                history.steps.append(Step(None, OTHER_MACHINE))
                continue
            if UNSTABLE in (before.row.get("status"), after.row.get("status")):
                history.steps.append(Step(None, UNSTABLE_STEP))
                continue
            estimate = ratio_of_cells(round_medians(before.row), round_medians(after.row))
            step = Step(estimate, NO_CHANGE)
            history.steps.append(step)
            if estimate is not None:
                tested.append(step)
    for step, adjusted in zip(tested, holm_adjusted([step.estimate.p_value for step in tested])):
        step.p_adjusted = adjusted
        ratio = step.estimate.ratio
        if adjusted < SIGNIFICANCE_LEVEL and max(ratio, 1 / ratio) > 1 + min_effect:
            step.verdict = SLOWER if ratio > 1 else FASTER


def _framework_version(metadata: dict[str, Any], backend: str) -> str | None:
    details = metadata.get("backends")
    if isinstance(details, dict) and isinstance(details.get(backend), dict):
        version = details[backend].get("framework_version")
        return str(version) if version else None
    return None
