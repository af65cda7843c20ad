"""Run suites across backends: one worker per backend, records judged and saved as outcomes arrive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.availability import probe
from harness.isolation import WorkerLimits, run_tasks
from harness.records import ERROR, UNAVAILABLE, Record
from harness.registry import BackendInfo
from harness.results_store import RunStore
from harness.spec import ModelSpec
from harness.suite import Suite, SuiteOptions
from harness.worker import TaskOutcome, one_line


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
    """Cells already recorded (``record_key``), skipped when resuming a run."""


@dataclass
class RunResult:
    """Every record in the order it was judged, and what each backend's worker reported about itself."""

    records: list[Record] = field(default_factory=list)
    backend_details: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One unit of work for one backend: a suite, a spec and the options (device) of that cell."""

    suite: Suite
    spec: ModelSpec
    options: SuiteOptions

    def key(self, backend_name: str) -> tuple:
        return (backend_name, *self.suite.cell_key(self.spec, self.options))


def record_key(record: Record, suites: dict[str, Suite]) -> tuple | None:
    """The cell key of a saved record, to know which cells a resumed run still lacks."""
    suite = suites.get(record.suite)
    if suite is None:
        return None
    options = SuiteOptions(device=record.details.get("device", "cpu"))
    return (record.backend, *suite.cell_key(ModelSpec(**record.spec), options))


def plan_cells(request: RunRequest) -> list[Cell]:
    """Every cell of the request, for one backend, in run order."""
    return [
        Cell(plan.suite, cell_spec, cell_options)
        for plan in request.plans
        for spec in plan.specs
        for cell_spec, cell_options in plan.suite.cells(spec, request.options)
    ]


def execute(
    request: RunRequest,
    store: RunStore,
    progress: Callable[[str], None] = lambda message: None,
    on_record: Callable[[Record], None] = lambda record: None,
) -> RunResult:
    """Run ``request``; every record is appended to ``store`` the moment it exists."""
    result = RunResult()

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
                keep(Record(cell.suite.name, info.name, UNAVAILABLE, cell.spec.to_dict(), availability.reason,
                            cell.suite.record_details(cell.options)))
            continue
        progress(f"{info.name}: running {len(cells)} task(s) in a worker process")

        def on_outcome(index: int, outcome: TaskOutcome, info: BackendInfo = info, cells: list[Cell] = cells) -> None:
            keep(_judge(cells[index], info.name, outcome))

        hello = run_tasks(
            info,
            [(cell.suite.name, cell.spec, cell.options) for cell in cells],
            on_outcome,
            limits=request.limits,
        )
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


def _judge(cell: Cell, backend_name: str, outcome: TaskOutcome) -> Record:
    suite, spec, options = cell.suite, cell.spec, cell.options
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
