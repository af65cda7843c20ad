"""The executor seam: the runner hands each backend's cells to an `Executor` and judges what comes back."""

from harness.execution.executor import Executor, LocalExecutor
from harness.execution.protocol import CellOutcome, WorkerHello
from harness.execution.runner import RunRequest, SuitePlan, execute
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.results.reader import load_records
from harness.results.store import RunStore


class InProcessExecutor(Executor):
    """Runs cells in this process (NumPy only): what a second executor has to provide, nothing more."""

    def __init__(self, registry, fail_index=None):
        self.registry, self.fail_index, self.calls = registry, fail_index, []

    def run_cells(self, info, cells, on_outcome, on_still_running=None, on_started=None):
        self.calls.append((info.name, [cell.suite for cell in cells]))
        backend = info.load()
        for index, cell in enumerate(cells):
            if on_started is not None:
                on_started(index)
            if index == self.fail_index:
                on_outcome(index, CellOutcome(error="host went away"))
                continue
            on_outcome(index, CellOutcome(value=self.registry.suite(cell.suite).measure(backend, cell.spec, cell.options)))
        return WorkerHello(framework_version="numpy (in process)", devices=["cpu"])


def request(registry):
    plans = [SuitePlan(registry.suite("params"), [ModelSpec(hidden=2), ModelSpec(hidden=5)])]
    return RunRequest(plans, [registry.backend("numpy")])


def test_a_second_executor_plugs_in_and_its_outcomes_are_judged_and_saved(tmp_path):
    registry = discover()
    executor = InProcessExecutor(registry, fail_index=1)
    store = RunStore(tmp_path, {})
    result = execute(request(registry), store, executor=executor)
    assert executor.calls == [("numpy", ["params", "params"])]
    assert [(record.spec["hidden"], record.status) for record in result.records] == [(2, "pass"), (5, "error")]
    assert result.records[1].message == "numpy: host went away"
    assert result.backend_details["numpy"]["framework_version"] == "numpy (in process)"
    assert [record.status for record in load_records(store.directory)] == ["pass", "error"]


def test_the_default_executor_runs_workers_on_this_machine(tmp_path):
    registry = discover()
    result = execute(request(registry), RunStore(tmp_path, {}))
    assert [record.status for record in result.records] == ["pass", "pass"]
    assert result.backend_details["numpy"]["framework_version"].startswith("numpy ")
    assert isinstance(LocalExecutor(request(registry).limits), Executor)
