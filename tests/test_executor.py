"""The executor seam: the runner hands each backend's cells to an `Executor` and judges what comes back."""

from harness.execution.executor import Executor, LocalExecutor
from harness.execution.protocol import CellOutcome, WorkerHello
from harness.execution.runner import RunRequest, SuitePlan, execute
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.results.reader import load_records
from harness.results.store import RunStore

from conftest import ctrl_c_works


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


SMALL = ["--vocab-size", "60", "--embed-dim", "4", "--hidden", "6", "--seq-len", "4", "--batch-size", "3"]


def records_in(directory):
    import json

    (run_dir,) = [path for path in directory.iterdir() if path.is_dir()]
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_jobs_runs_check_workers_at_once_with_the_same_results_and_timing_alone(tmp_path):
    """--jobs 2: the same records as one worker at a time (that two workers do run at once is seen in the
    next test); a timing round never beside anything."""
    from harness.cli import main

    sweep = ["run", "--suite", "params,shapes,gradients", "--backend", "numpy,torch", *SMALL]
    assert main([*sweep, "--out", str(tmp_path / "one")]) == 0
    assert main([*sweep, "--jobs", "2", "--out", str(tmp_path / "two")]) == 0
    one, two = records_in(tmp_path / "one"), records_in(tmp_path / "two")

    def cells(records):
        return sorted((r["suite"], r["backend"], str(r["spec"]), r["status"]) for r in records)

    assert cells(one) == cells(two) and {r["status"] for r in two} == {"pass"}

    assert main(["run", "--suite", "params,train", "--quick", "--rounds", "2", "--backend", "numpy,torch", *SMALL,
                 "--min-time", "0.05", "--max-time", "0.2", "--jobs", "2", "--out", str(tmp_path / "timed")]) == 0
    timed = records_in(tmp_path / "timed")
    rounds = [(start, end, r["backend"]) for r in timed for _, start, end in r["ran_unix_seconds"]]
    timing = [(start, end, r["backend"]) for r in timed if r["suite"] == "train" for _, start, end in r["ran_unix_seconds"]]
    assert not [(a, b) for a in timing for b in rounds if a is not b and a[2] != b[2] and overlap(a, b)]


def test_an_interrupted_run_with_jobs_kills_every_worker_and_keeps_what_finished(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import psutil

    command = [sys.executable, "-m", "harness", "run", "--suite", "params,training", "--steps", "400", "--backend",
               "numpy,torch", "--hidden", "16,24,32,40", "--vocab-size", "300", "--embed-dim", "8", "--seq-len", "12",
               "--batch-size", "8", "--jobs", "2", "--out", str(tmp_path)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_works)  # noqa: PLW1509
    bench = psutil.Process(run.pid)
    deadline, workers = time.monotonic() + 120, []
    while time.monotonic() < deadline and run.poll() is None:
        found = list(tmp_path.glob("*/records.jsonl"))
        workers = [child for child in bench.children(recursive=True) if "harness.execution.worker" in " ".join(child.cmdline())]
        if found and found[0].read_text().strip() and len(workers) == 2:
            run.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    _, err = run.communicate(timeout=60)
    assert len(workers) == 2, f"two workers never ran at once: {err}"
    assert run.returncode == 130, err
    assert "interrupted; finished results are kept" in err and records_in(tmp_path)
    time.sleep(1)
    assert not [worker for worker in workers if worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE]
