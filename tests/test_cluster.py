"""``bench run --cluster``: the same cells on a real Dask cluster (a LocalCluster of worker processes
started here), records naming the host and worker that ran them, timing rounds kept on one worker, and a
local run that never imports Dask (harness/execution/dask_executor.py)."""

import json
import subprocess
import sys

import pytest

from harness.cli import main

distributed = pytest.importorskip("distributed")

SMALL = ["--vocab-size", "100", "--embed-dim", "4", "--hidden", "8", "--seq-len", "4", "--batch-size", "4"]


@pytest.fixture(scope="module")
def cluster():
    from harness.execution.dask_executor import BENCHMARK_RESOURCE

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  resources={BENCHMARK_RESOURCE: 1}) as local:
        yield local.scheduler_address


def records_of(directory):
    (run_dir,) = [path for path in directory.iterdir() if path.is_dir()]
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def test_the_same_sweep_on_the_cluster_and_here_gives_the_same_cells_and_verdicts(cluster, tmp_path):
    sweep = ["run", "--suite", "params,shapes,gradients", "--backend", "numpy", *SMALL]
    assert main([*sweep, "--out", str(tmp_path / "here")]) == 0
    assert main([*sweep, "--cluster", cluster, "--out", str(tmp_path / "there")]) == 0
    here, there = records_of(tmp_path / "here"), records_of(tmp_path / "there")

    def cells(records):
        return sorted((r["suite"], r["backend"], r.get("device", "cpu"), json.dumps(r["spec"], sort_keys=True),
                       r["status"]) for r in records)

    assert cells(here) == cells(there) and len(there) >= 3 and {r["status"] for r in there} == {"pass"}
    workers = {record["worker"] for record in there}
    assert workers <= {"0", "1"} and all(record["host"] for record in there)
    assert all("worker" not in record and record["host"] for record in here)


def test_a_timing_backend_keeps_its_rounds_on_one_worker(cluster, tmp_path):
    assert main(["run", "--suite", "train", "--quick", "--rounds", "3", "--backend", "numpy", *SMALL,
                 "--min-time", "0.05", "--max-time", "0.2", "--cluster", cluster, "--out", str(tmp_path)]) == 0
    for record in records_of(tmp_path):
        assert "hosts" not in record and record["worker"] in {"0", "1"}, record


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    assert main(["run", "--suite", "params", "--backend", "numpy", "--cluster", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error: --cluster: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'")
    assert len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir()), "nothing is saved when the scheduler is away"


def test_a_local_run_never_imports_dask(tmp_path):
    code = ("import sys; from harness.cli import main; "
            f"status = main(['run', '--suite', 'params', '--backend', 'numpy', '--out', {str(tmp_path)!r}]); "
            "print(sorted({'dask', 'distributed'} & set(sys.modules)), status)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[] 0", result.stderr


def test_a_dask_worker_killed_mid_sweep_loses_no_finished_cell_and_repeats_none(tmp_path):
    """Kill the Dask worker running a backend's task as soon as its first record is saved: the finished
    cells stay, the rest run again elsewhere (Dask reschedules the task; repeats are dropped), none twice."""
    import time

    import psutil

    from harness.execution.dask_executor import BENCHMARK_RESOURCE

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  resources={BENCHMARK_RESOURCE: 1}) as local:
        command = [sys.executable, "-m", "harness", "run", "--suite", "params,training", "--steps", "150",
                   "--backend", "numpy", "--hidden", "32,48,64,80", "--vocab-size", "500", "--embed-dim", "16",
                   "--seq-len", "20", "--batch-size", "16", "--cluster", local.scheduler_address, "--out", str(tmp_path)]
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        records_file, killed, deadline = None, None, time.monotonic() + 240
        while killed is None and time.monotonic() < deadline and run.poll() is None:
            found = list(tmp_path.glob("*/records.jsonl"))
            if found and found[0].read_text().strip():
                records_file = found[0]
                for process in psutil.Process().children(recursive=True):
                    try:
                        if "harness.execution.worker" in " ".join(process.cmdline()):
                            killed = process.parent()  # the Dask worker process running the task
                            killed.kill()
                            break
                    except psutil.Error:  # a process that ended meanwhile
                        continue
            time.sleep(0.05)
        _, err = run.communicate(timeout=300)
    assert killed is not None, f"the sweep ended before a worker could be killed: {err}"
    records = [json.loads(line) for line in records_file.read_text().splitlines()]
    keys = [(r["suite"], json.dumps(r["spec"], sort_keys=True), r.get("device", "cpu")) for r in records]
    assert len(keys) == len(set(keys)), "a cell was recorded twice"
    assert len(records) == 4 * 2, err
    assert all(r["status"] == "pass" or "Dask worker" in r["message"] for r in records), err


def test_an_interrupted_cluster_run_resumes_on_the_cluster_with_only_its_missing_cells(cluster, tmp_path):
    """The client dying is covered by --resume: a run whose last records were lost is finished on the
    cluster (given again: a restarted scheduler has a new address), running only the missing cells."""
    sweep = ["run", "--suite", "params,shapes", "--backend", "numpy", *SMALL, "--out", str(tmp_path)]
    assert main([*sweep, "--cluster", cluster]) == 0
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    (run_dir / "records.jsonl").write_text("\n".join(lines[:2]) + "\n")
    metadata = json.loads((run_dir / "metadata.json").read_text())
    metadata["status"] = "interrupted"
    (run_dir / "metadata.json").write_text(json.dumps(metadata))
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path), "--cluster", cluster]) == 0
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == len(lines) and records[:2] == [json.loads(line) for line in lines[:2]]
    assert all(record["worker"] in {"0", "1"} for record in records[2:])


def test_timing_on_workers_without_the_benchmark_resource_is_refused_before_anything_runs(tmp_path, capsys):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as plain:
        assert main(["run", "--suite", "train", "--quick", "--backend", "numpy", *SMALL, "--cluster",
                     plain.scheduler_address, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "offers the 'benchmark' resource a timing cell asks for" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())
