"""Run suites across backends: one worker per backend, records judged and saved as outcomes arrive.

This is the parent's loop: plan the cells (`harness.cell.Cell`) of every suite, hand each backend's
pending cells to an executor (`harness.execution.executor`; by default worker subprocesses on this
machine), judge each outcome with its suite in this process, and append the record to the run directory
(`harness.results.store`) the moment it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.cell import Cell
from harness.errors import one_line
from harness.execution.executor import Executor, LocalExecutor
from harness.execution.protocol import CellOutcome
from harness.execution.worker_manager import WorkerLimits
from harness.model_spec import ModelSpec
from harness.plugins.availability import probe
from harness.plugins.registry import BackendInfo
from harness.results.record import ERROR, UNAVAILABLE, Record
from harness.results.store import RunStore
from harness.suite import Suite, SuiteOptions


@dataclass
class SuitePlan:
    """One suite and the specs it runs for."""

    suite: Suite
    specs: list[ModelSpec]


@dataclass
class RunRequest:
    """What to run: every planned suite for every backend."""

    plans: list[SuitePlan]
    backends: list[BackendInfo]
    options: SuiteOptions = field(default_factory=SuiteOptions)
    limits: WorkerLimits = field(default_factory=WorkerLimits)
    done_keys: frozenset = frozenset()
    """Cells already recorded (`harness.results.record.Record.cell_key`), skipped when resuming a run."""

    @property
    def suites(self) -> dict[str, Suite]:
        """The planned suites by name."""
        return {plan.suite.name: plan.suite for plan in self.plans}


@dataclass
class RunResult:
    """Every record in the order it was judged, and what each backend's worker reported about itself."""

    records: list[Record] = field(default_factory=list)
    backend_details: dict[str, dict] = field(default_factory=dict)


def plan_cells(request: RunRequest) -> list[Cell]:
    """Every cell of the request, for one backend, in run order."""
    return [
        cell
        for plan in request.plans
        for spec in plan.specs
        for cell in plan.suite.cells(spec, request.options)
    ]


def execute(
    request: RunRequest,
    store: RunStore,
    progress: Callable[[str], None] = lambda message: None,
    on_record: Callable[[Record], None] = lambda record: None,
    executor: Executor | None = None,
) -> RunResult:
    """Run ``request``; every record is appended to ``store`` the moment it exists.

    :param executor: where the cells run; default a `LocalExecutor` with the request's limits (closed at
        the end; an executor passed in stays open for its owner to close).
    """
    if executor is None:
        local = LocalExecutor(request.limits)
        try:
            return execute(request, store, progress, on_record, local)
        finally:
            local.close()
    result = RunResult()
    suites = request.suites

    def keep(record: Record) -> None:
        result.records.append(record)
        store.append(record)
        on_record(record)

    for info in request.backends:
        cells = pending_cells(request, info.name)
        if not cells:
            continue
        availability = probe(info)
        if not availability.available:
            progress(f"{info.name}: unavailable: {availability.reason}")
            result.backend_details[info.name] = {"available": False, "reason": availability.reason}
            for cell in cells:
                keep(Record(cell.suite, info.name, UNAVAILABLE, cell.spec.to_dict(), availability.reason,
                            suites[cell.suite].record_details(cell.options)))
            continue
        progress(f"{info.name}: running {len(cells)} cell(s) in a worker process")

        def on_outcome(index: int, outcome: CellOutcome, info: BackendInfo = info, cells: list[Cell] = cells) -> None:
            keep(judge(suites[cells[index].suite], cells[index], info.name, outcome))

        hello = executor.run_cells(info, cells, on_outcome)
        result.backend_details[info.name] = {
            "available": True,
            "plugin": info.plugin,
            "framework_version": hello.framework_version if hello else None,
            "devices": hello.devices if hello else None,
            "threads": hello.threads if hello else None,
            "load_error": hello.error if hello else None,
        }
    return result


def pending_cells(request: RunRequest, backend_name: str) -> list[Cell]:
    """The cells of the request that ``backend_name`` has not recorded yet (all of them, unless resuming)."""
    return [cell for cell in plan_cells(request) if cell.key(backend_name) not in request.done_keys]


def count_cells(request: RunRequest) -> int:
    """How many cells the request will record (for a progress bar)."""
    return sum(len(pending_cells(request, info.name)) for info in request.backends)


def judge(suite: Suite, cell: Cell, backend_name: str, outcome: CellOutcome) -> Record:
    """The record of one cell's outcome: the suite's verdict, or an error that says why there is none."""
    spec, options = cell.spec, cell.options
    if not outcome.ok:
        return Record(suite.name, backend_name, ERROR, spec.to_dict(), f"{backend_name}: {outcome.error}",
                      {**suite.record_details(options), "traceback": outcome.traceback})
    try:
        record = suite.judge(spec, backend_name, outcome.value, options)
    except Exception as error:  # noqa: BLE001 - a suite bug must not lose the run
        return Record(suite.name, backend_name, ERROR, spec.to_dict(), f"{backend_name}: judging failed: {one_line(error)}",
                      suite.record_details(options))
    record.details.setdefault("task_seconds", round(outcome.seconds, 6))
    return record
