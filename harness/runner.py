"""Run suites across backends: one worker per backend, records judged and saved as outcomes arrive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.availability import probe
from harness.isolation import run_tasks
from harness.records import ERROR, UNAVAILABLE, Record
from harness.registry import BackendInfo
from harness.results_store import RunStore
from harness.spec import ModelSpec
from harness.suite import Suite, SuiteOptions
from harness.worker import TaskOutcome, one_line


@dataclass
class RunRequest:
    """What to run: every suite for every backend and every spec."""

    suites: list[Suite]
    backends: list[BackendInfo]
    specs: list[ModelSpec]
    options: SuiteOptions = SuiteOptions()
    task_timeout_seconds: float = 600.0


@dataclass
class RunResult:
    """Every record in the order it was judged, and what each backend's worker reported about itself."""

    records: list[Record] = field(default_factory=list)
    backend_details: dict[str, dict] = field(default_factory=dict)


def execute(request: RunRequest, store: RunStore, progress: Callable[[str], None] = lambda message: None) -> RunResult:
    """Run ``request``; every record is appended to ``store`` the moment it exists."""
    result = RunResult()

    def keep(record: Record) -> None:
        result.records.append(record)
        store.append(record)

    for info in request.backends:
        availability = probe(info)
        if not availability.available:
            progress(f"{info.name}: unavailable: {availability.reason}")
            result.backend_details[info.name] = {"available": False, "reason": availability.reason}
            for suite in request.suites:
                for spec in request.specs:
                    keep(Record(suite.name, info.name, UNAVAILABLE, spec.to_dict(), availability.reason))
            continue
        cells = [(suite, task_spec) for suite in request.suites for spec in request.specs for task_spec in suite.task_specs(spec)]
        progress(f"{info.name}: running {len(cells)} task(s) in a worker process")

        def on_outcome(index: int, outcome: TaskOutcome, info: BackendInfo = info) -> None:
            suite, spec = cells[index]
            keep(_judge(suite, spec, info.name, outcome, request.options))

        hello = run_tasks(
            info,
            [(suite.name, spec, request.options) for suite, spec in cells],
            on_outcome,
            task_timeout_seconds=request.task_timeout_seconds,
        )
        result.backend_details[info.name] = {
            "available": True,
            "plugin": info.plugin,
            "framework_version": hello.framework_version if hello else None,
            "devices": hello.devices if hello else None,
            "load_error": hello.error if hello else None,
        }
    return result


def _judge(suite: Suite, spec: ModelSpec, backend_name: str, outcome: TaskOutcome, options: SuiteOptions) -> Record:
    if not outcome.ok:
        return Record(suite.name, backend_name, ERROR, spec.to_dict(), f"{backend_name}: {outcome.error}",
                      {"traceback": outcome.traceback})
    try:
        record = suite.judge(spec, backend_name, outcome.value, options)
    except Exception as error:  # noqa: BLE001 - a suite bug must not lose the run
        return Record(suite.name, backend_name, ERROR, spec.to_dict(), f"{backend_name}: judging failed: {one_line(error)}")
    record.details.setdefault("task_seconds", round(outcome.seconds, 6))
    return record
