"""Run suites across backends, in rounds: each round's outcomes saved as they arrive, records judged and
saved as soon as judging cannot disturb a timing.

This is the parent's loop: plan the cells (`harness.cell.Cell`) of every suite, then run *rounds*. In
round 0 every backend's pending cells (checks and timing) run in one worker per backend; in each further
round, the timing cells that need another round (`harness.suite.Suite.rounds`) run again, each backend in a
fresh worker process, backends taking turns, so that drift of the machine hits every backend alike and
the variation between processes is measured, not hidden. Cells go to an executor
(`harness.execution.executor`; by default worker subprocesses on this machine). A cell's record is judged
by its suite in this process once its last round is in: a check at once, a timing cell once its worker has
exited (so that judging never competes with a worker's timing; an interrupted run judges what is complete
before it stops), and appended to the run directory (`harness.results.store`) the moment
it exists; every measured round is kept in the run directory as it arrives, so ``--resume`` continues at
the round it was on.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.cell import Cell
from harness.errors import one_line
from harness.execution.estimate import WorkerJob
from harness.execution.executor import BackendJob, Executor, LocalExecutor
from harness.execution.observer import RunObserver
from harness.execution.protocol import CellOutcome, WorkerHello
from harness.execution.worker_manager import WorkerLimits
from harness.model_spec import ModelSpec
from harness.plugins.registry import BackendInfo
from harness.results.record import ERROR, UNAVAILABLE, UNSUPPORTED, Record
from harness.results.store import RunStore
from harness.suite import NotRun, Suite, SuiteOptions


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
    saved_rounds: dict[tuple, dict[int, dict[str, Any]]] = field(default_factory=dict)
    """Rounds already measured of cells not yet recorded, by cell key and round (`harness.results.store.load_rounds`)."""
    targets: tuple[str, ...] = ()
    """``--hosts``: run every cell once on each of these hosts (`harness.cell.Cell.target`); empty: once, anywhere."""
    jobs: int = 1
    """``--jobs``: how many backends' check-only workers may run at once on this machine."""

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
    """Every cell of the request, for one backend, in run order (with ``--hosts``, each cell once per host)."""
    cells = [
        cell
        for plan in request.plans
        for spec in plan.specs
        for cell in plan.suite.cells(spec, request.options)
    ]
    return [cell.on_host(target) for cell in cells for target in request.targets] if request.targets else cells


def execute(
    request: RunRequest,
    store: RunStore,
    observer: RunObserver | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Run ``request``; every record is appended to ``store`` the moment it exists.

    :param observer: told of every worker, cell, round and record as it happens (a progress bar).
    :param executor: where the cells run; default a `LocalExecutor` with the request's limits (closed at
        the end; an executor passed in stays open for its owner to close).
    """
    observer = observer or RunObserver()
    if executor is None:
        local = LocalExecutor(request.limits, jobs=request.jobs)
        try:
            return execute(request, store, observer, local)
        finally:
            local.close()
    result = RunResult()
    suites = request.suites
    progress = observer.message

    def keep(record: Record) -> None:
        result.records.append(record)
        store.append(record)
        observer.record_kept(record)

    open_cells: dict[str, list[Cell]] = {}
    for info in request.backends:
        cells = pending_cells(request, info.name)
        if not cells:
            continue
        reasons = {}  # why the backend cannot run, per target host (None: wherever the executor runs cells)
        for target in dict.fromkeys(cell.target for cell in cells):
            availability = executor.availability(info, target) if target else executor.availability(info)
            if not availability.available:
                reasons[target] = availability.reason
        for target, reason in reasons.items():
            progress(f"{info.name}: unavailable{_on_host(target)}: {reason}")
        if len(reasons) == len({cell.target for cell in cells}):
            observer.backend_skipped(info.name)
            result.backend_details[info.name] = {"available": False, "reason": "; ".join(reasons.values())}
        for cell in (cell for cell in cells if cell.target in reasons):
            keep(Record(cell.suite, info.name, UNAVAILABLE, cell.spec.to_dict(), reasons[cell.target],
                        {**suites[cell.suite].record_details(cell.options), **_target_details(cell)}))
        if len(reasons) < len({cell.target for cell in cells}):
            open_cells[info.name] = [cell for cell in cells if cell.target not in reasons]
    backends = {info.name: info for info in request.backends}
    rounds = _Rounds(request, suites)
    total_rounds = max((rounds.wanted(cell) for cells in open_cells.values() for cell in cells), default=0)

    def judge_complete(name: str, cells: list[Cell]) -> None:
        for cell in cells:
            if rounds.complete(name, cell):
                keep(rounds.record(name, cell))

    for name, cells in open_cells.items():  # resuming: cells whose every round was saved
        judge_complete(name, cells)
    run = _RunState(request, store, rounds, result, observer, keep, judge_complete)

    try:
        for number in range(total_rounds):
            jobs = []
            for name, cells in open_cells.items():
                todo = [cell.in_round(number) for cell in cells if rounds.needs(name, cell, number)]
                if todo:
                    jobs.append(_backend_job(backends[name], todo, number, total_rounds, run))
            executor.run_jobs(jobs)
    except KeyboardInterrupt:
        for name, cells in open_cells.items():
            judge_complete(name, cells)
        raise
    return result


@dataclass
class _RunState:
    """What the jobs of a run report into."""

    request: RunRequest
    store: RunStore
    rounds: _Rounds
    result: RunResult
    observer: RunObserver
    keep: Callable[[Record], None]
    judge_complete: Callable[[str, list[Cell]], None]


def _backend_job(info: BackendInfo, todo: list[Cell], number: int, total_rounds: int, run: _RunState) -> BackendJob:
    """One backend's cells of round ``number``, with what the runner does as the executor reports on them."""
    name, request, rounds, result, observer = info.name, run.request, run.rounds, run.result, run.observer
    suites, progress = request.suites, observer.message

    hosts = list(dict.fromkeys(cell.target for cell in todo if cell.target))
    where = (f"{len(todo) // len(hosts)} cell(s) on each of {len(hosts)} hosts ({', '.join(hosts)}), in a fresh worker "
             "process on each" if hosts and len(todo) % len(hosts) == 0 else f"{len(todo)} cell(s) in a fresh worker process")

    def on_start() -> None:
        progress(f"{name}: " + (f"round {number + 1} of {total_rounds}: " if total_rounds > 1 else "") + f"running {where}")
        observer.worker_starting(name, todo)

    def on_outcome(index: int, outcome: CellOutcome) -> None:
        cell = todo[index]
        rounds.add(name, cell, outcome, run.store)
        observer.round_finished(name, cell, outcome.seconds)
        if not suites[cell.suite].measures_time and rounds.complete(name, cell):
            run.keep(rounds.record(name, cell))  # a check: judged at once, it is cheap

    def on_still_running(index: int, seconds: float) -> None:
        cell = todo[index]
        progress(f"{name}: {cell.suite} {cell.device} {cell.spec.label()}{_on(cell)} still running after {seconds:.0f} s "
                 f"(no result yet; its worker is killed at {request.limits.cell_timeout_seconds:g} s, --timeout)")

    def on_started(index: int) -> None:
        observer.cell_started(name, todo[index])

    def on_done(hello: WorkerHello | None) -> None:
        if name not in result.backend_details or result.backend_details[name].get("framework_version") is None:
            result.backend_details[name] = _backend_details(info, hello)
        run.judge_complete(name, todo)  # timing cells: once the worker is gone, never beside its timing

    return BackendJob(info, todo, on_outcome, on_still_running, on_started, on_start, on_done, progress,
                      timed=any(suites[cell.suite].measures_time for cell in todo))


def _on(cell: Cell) -> str:
    return _on_host(cell.target)


def _on_host(target: str | None) -> str:
    return f" on {target}" if target else ""


def _target_details(cell: Cell) -> dict[str, Any]:
    return {"target": cell.target} if cell.target else {}


class _Rounds:
    """Which rounds of which cells are measured, and the record of a cell once its last round is in."""

    def __init__(self, request: RunRequest, suites: dict[str, Suite]) -> None:
        self.suites = suites
        self.measurements: dict[tuple, dict[int, Any]] = {}
        self.seconds: dict[tuple, float] = {}
        self.errors: dict[tuple, tuple[int, CellOutcome]] = {}
        self.hosts: dict[tuple, list[dict[str, Any]]] = {}
        self.ran: dict[tuple, dict[int, list[float]]] = {}
        self.closed: set[tuple] = set()
        for key, saved in request.saved_rounds.items():
            suite = suites.get(key[0])
            if suite is None:
                continue
            wanted = max(suite.rounds(request.options), 1)
            for number, data in saved.items():
                if number >= wanted:
                    continue
                try:
                    self.measurements.setdefault(key, {})[number] = suite.round_from_json(data)
                except Exception:  # noqa: BLE001, S112 - an unreadable saved round is measured again
                    continue

    def wanted(self, cell: Cell) -> int:
        return max(self.suites[cell.suite].rounds(cell.options), 1)

    def needs(self, backend: str, cell: Cell, number: int) -> bool:
        key = cell.key(backend)
        if key in self.closed or key in self.errors or number >= self.wanted(cell):
            return False
        measured = self.measurements.get(key, {})
        return number not in measured and not any(isinstance(value, NotRun) for value in measured.values())

    def add(self, backend: str, cell: Cell, outcome: CellOutcome, store: RunStore) -> None:
        """Take one round's outcome; a measured round of a multi-round suite is saved at once (``rounds.jsonl``)."""
        key, suite = cell.key(backend), self.suites[cell.suite]
        self.seconds[key] = self.seconds.get(key, 0.0) + outcome.seconds
        if outcome.ran:
            self.ran.setdefault(key, {})[cell.round] = [round(moment, 3) for moment in outcome.ran]
        if outcome.host:
            hosts = self.hosts.setdefault(key, [])
            if outcome.host not in hosts:
                hosts.append(outcome.host)
        if not outcome.ok:
            self.errors[key] = (cell.round, outcome)
            return
        keep_trace(outcome.value, backend, cell, store)
        self.measurements.setdefault(key, {})[cell.round] = outcome.value
        if self.wanted(cell) > 1 and not isinstance(outcome.value, NotRun):
            try:
                store.append_round(key, cell.round, suite.round_to_json(outcome.value))
            except Exception:  # noqa: BLE001, S110 - a round that cannot be saved only costs a resume
                pass

    def complete(self, backend: str, cell: Cell) -> bool:
        """Whether the cell is ready to be judged: every round in, a round not run, or an error."""
        key = cell.key(backend)
        if key in self.closed:
            return False
        measured = self.measurements.get(key, {})
        return (key in self.errors or len(measured) >= self.wanted(cell)
                or any(isinstance(value, NotRun) for value in measured.values()))

    def record(self, backend: str, cell: Cell) -> Record:
        """The cell's record (once `complete`): its suite's verdict over all rounds, or the error, with the
        host it ran on (``host``: the machine, and the Dask worker on a cluster; ``hosts`` when its rounds
        ran on more than one), the ``--hosts`` name it was sent to (``target``), and when each of its rounds
        ran (``ran_unix_seconds``: [round, start, end] for each round measured by this process, a resumed run's
        earlier rounds not among them; by the clock of the machine it ran on)."""
        record = self._record(backend, cell)
        record.details.update(_target_details(cell))
        ran = self.ran.get(cell.key(backend))
        if ran:
            record.details["ran_unix_seconds"] = [[number, *ran[number]] for number in sorted(ran)]
        hosts = self.hosts.get(cell.key(backend))
        if hosts:
            record.details["host"] = hosts[0].get("host")
            if "worker" in hosts[0]:
                record.details["worker"] = hosts[0]["worker"]
            if len(hosts) > 1:
                record.details["hosts"] = hosts
        return record

    def _record(self, backend: str, cell: Cell) -> Record:
        key, suite = cell.key(backend), self.suites[cell.suite]
        self.closed.add(key)
        if key in self.errors:
            number, error = self.errors[key]
            prefix = f"round {number + 1}: " if self.wanted(cell) > 1 else ""
            return _error_record(suite, cell, backend, f"{prefix}{error.error}", error.traceback)
        measured = self.measurements[key]
        return judge(suite, cell, backend, [measured[number] for number in sorted(measured)], self.seconds.get(key, 0.0))


def _backend_details(info: BackendInfo, hello: WorkerHello | None) -> dict[str, Any]:
    return {
        "available": True,
        "plugin": info.plugin,
        "framework_version": hello.framework_version if hello else None,
        "devices": hello.devices if hello else None,
        "threads": hello.threads if hello else None,
        "import_rss_bytes": hello.import_rss_bytes if hello else None,
        "machine": hello.machine if hello else None,
        "load_error": hello.error if hello else None,
    }


def pending_cells(request: RunRequest, backend_name: str) -> list[Cell]:
    """The cells of the request that ``backend_name`` has not recorded yet (all of them, unless resuming)."""
    return [cell for cell in plan_cells(request) if cell.key(backend_name) not in request.done_keys]


def planned_jobs(request: RunRequest) -> list[WorkerJob]:
    """The workers the request will start, in the order `execute` starts them (round by round, backends
    taking turns), each with the cells it will run; what the run learns (an unavailable backend, a cell
    that needs no further round) can only shorten it."""
    rounds, suites = _Rounds(request, request.suites), request.suites
    cells = {info.name: pending_cells(request, info.name) for info in request.backends}
    total = max((rounds.wanted(cell) for pending in cells.values() for cell in pending), default=0)
    jobs = []
    for number in range(total):
        for name, pending in cells.items():
            todo = tuple(cell.in_round(number) for cell in pending if rounds.needs(name, cell, number))
            if todo:
                jobs.append(WorkerJob(name, todo, tuple(suites[cell.suite].measures_time for cell in todo)))
    return jobs


TRACES_FOLDER = "traces"
"""Where a run keeps its profiles' Chrome traces (``bench run --profile``)."""


def keep_trace(measurement: Any, backend: str, cell: Cell, store: RunStore) -> None:
    """A round's profile trace, sent by the worker, becomes a gzipped Chrome trace in the run directory
    (`TRACES_FOLDER`; Perfetto and chrome://tracing open ``.json.gz``), named in the profile as
    ``trace_file``; a trace that cannot be written is said so there, the cell kept."""
    trace = getattr(measurement, "trace", None)
    if not trace or not isinstance(getattr(measurement, "profile", None), dict):
        return
    stem = f"{cell.suite}-{backend}-{cell.device}-{cell.spec.label()}"
    try:
        measurement.profile["trace_file"] = store.save_artifact(TRACES_FOLDER, stem,
                                                                gzip.compress(trace.encode("utf-8")), ".json.gz")
    except OSError as error:
        measurement.profile["trace_file"] = None
        measurement.profile["trace_error"] = one_line(error)
    measurement.trace = None


def judge(suite: Suite, cell: Cell, backend_name: str, measurements: list[Any], seconds: float = 0.0) -> Record:
    """The record of a cell from its rounds' measurements: the suite's verdict, or an error that says why
    there is none."""
    refused = next((measurement for measurement in measurements if isinstance(measurement, NotRun)), None)
    try:
        record = (suite.not_run(cell.spec, backend_name, refused, cell.options) if refused is not None
                  and refused.status == UNSUPPORTED else suite.judge_rounds(cell.spec, backend_name, measurements, cell.options))
    except Exception as error:  # noqa: BLE001 - a suite bug must not lose the run
        return Record(suite.name, backend_name, ERROR, cell.spec.to_dict(), f"{backend_name}: judging failed: {one_line(error)}",
                      suite.record_details(cell.options))
    record.details.setdefault("task_seconds", round(seconds, 6))
    return record


def _error_record(suite: Suite, cell: Cell, backend_name: str, error: str, traceback: str | None) -> Record:
    return Record(suite.name, backend_name, ERROR, cell.spec.to_dict(), f"{backend_name}: {error}",
                  {**suite.record_details(cell.options), "traceback": traceback})
