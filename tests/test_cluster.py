"""``bench run --cluster``: the same cells on a real Dask cluster (a LocalCluster of worker processes
started here), records naming the host and worker that ran them, timing rounds kept on one worker, and a
local run that never imports Dask (harness/execution/dask_executor.py)."""

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from harness.cli import main

from conftest import ctrl_c_works

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


TIMING = ["--min-time", "0.05", "--max-time", "0.2"]


def overlapping_rounds(records):
    """Pairs of timing rounds that ran at the same time on one host (by their ``ran_unix_seconds``)."""
    rounds = [(record["host"], start, end, record["backend"], record.get("target"))
              for record in records if record["suite"] == "train" for _, start, end in record["ran_unix_seconds"]]
    return [(a, b) for index, a in enumerate(rounds) for b in rounds[index + 1:]
            if a[0] == b[0] and a[1] < b[2] and b[1] < a[2]]


def test_every_timing_cell_of_a_run_is_measured_on_one_worker(cluster, tmp_path):
    """The backends a report compares were measured on one machine: every timing round on one worker."""
    assert main(["run", "--suite", "train", "--quick", "--rounds", "3", "--backend", "numpy,torch", *SMALL, *TIMING,
                 "--cluster", cluster, "--out", str(tmp_path)]) == 0
    records = records_of(tmp_path)
    assert len(records) == 2 and all("hosts" not in record for record in records), records
    assert len({record["worker"] for record in records}) == 1 and records[0]["worker"] in {"0", "1"}
    assert all(len(record["ran_unix_seconds"]) == 3 for record in records)
    assert not overlapping_rounds(records)


def test_hosts_run_every_cell_on_each_host_never_two_timings_at_once_and_compare_names_the_machines(
        cluster, tmp_path, capsys):
    """--hosts 0,1: each cell once per worker, timings on the two workers (one machine here) never at the same
    time, each host's facts measured there, the report's columns per host, bench compare RUN@0 RUN@1 a
    comparison of machines, and --resume finishing each host's missing cells."""
    assert main(["run", "--suite", "params,train", "--quick", "--rounds", "2", "--backend", "numpy,torch", *SMALL,
                 *TIMING, "--cluster", cluster, "--hosts", "0,1", "--out", str(tmp_path)]) == 0
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    records = records_of(tmp_path)
    cells = sorted((r["suite"], r["backend"], r["target"], r["worker"]) for r in records)
    assert cells == sorted((suite, backend, host, host) for suite in ("params", "train") for backend in ("numpy", "torch")
                           for host in ("0", "1"))
    assert not overlapping_rounds(records), "two timing rounds ran at once on one host"
    hosts = json.loads((run_dir / "metadata.json").read_text())["hosts"]
    assert sorted(hosts) == ["0", "1"]
    for facts in hosts.values():
        assert facts["cpu_count"] >= 1 and facts["cpu_gemm_peak_gflops"] > 0 and facts["packages"]["torch"]
    captured = capsys.readouterr()
    assert "--hosts 0 and 1 (" in captured.err and "are workers of one machine" in captured.err
    assert "workers of one machine" not in captured.out and "running 2 cell(s) on each of 2 hosts (0, 1)" in captured.err

    assert main(["compare", f"{run_dir.name}@0", f"{run_dir.name}@1", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{run_dir.name}@0 (A) -> {run_dir.name}@1 (B)" in out and "machines: A = " in out
    assert hosts["0"]["cpu_model"] in out and "B is a worker of the same machine: slower cells are differences" in out
    assert out.count("│ train ") == 2, out
    assert main(["report", run_dir.name, "--results-dir", str(tmp_path), "--format", "markdown"]) == 0
    report = capsys.readouterr().out
    assert all(f"{backend}@{host}" in report for backend in ("numpy", "torch") for host in ("0", "1"))
    assert re.search(rf"\| host 0 +\| {re.escape(hosts['0']['node'])}; {re.escape(hosts['0']['cpu_model'])};", report)
    assert main(["report", run_dir.name, "--results-dir", str(tmp_path), "--format", "csv"]) == 0
    saved = {(row["backend"], row["target"]) for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert saved == {(backend, host) for backend in ("numpy", "torch") for host in ("0", "1")}, "CSV keeps backend and target"
    assert main(["compare", f"{run_dir.name}@0", run_dir.name, "--results-dir", str(tmp_path)]) == 2
    assert "name one on each side, RUN_A@HOST RUN_B@HOST" in capsys.readouterr().err
    assert main(["compare", f"{run_dir.name}@0", f"{run_dir.name}@9", "--results-dir", str(tmp_path)]) == 2
    assert "no timing cell that ran on '9' (its cells ran on: 0, 1" in capsys.readouterr().err

    lines = (run_dir / "records.jsonl").read_text().splitlines()
    kept = [line for line in lines if not (json.loads(line)["suite"] == "params" and json.loads(line)["target"] == "1")]
    (run_dir / "records.jsonl").write_text("\n".join(kept) + "\n")
    metadata = json.loads((run_dir / "metadata.json").read_text())
    metadata["status"] = "interrupted"
    (run_dir / "metadata.json").write_text(json.dumps(metadata))
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path), "--cluster", cluster]) == 0
    resumed = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert sorted((r["suite"], r["backend"], r["target"]) for r in resumed[len(kept):]) == [
        ("params", "numpy", "1"), ("params", "torch", "1")]


@pytest.mark.parametrize(("arguments", "expected"), [
    (["--hosts", "0,1"], "--hosts: only with --cluster ADDRESS"),
    (["--hosts", "0,nowhere", "--cluster", "CLUSTER"], "--hosts: no worker of the cluster at"),
    (["--hosts", "a b", "--cluster", "CLUSTER"], "is not a list of hosts"),
    (["--hosts", "a@b", "--cluster", "CLUSTER"], "is not a list of hosts"),
    (["--hosts", "0,1,0", "--cluster", "CLUSTER"], "names 0 more than once"),
    (["--hosts", "0,NODE", "--cluster", "CLUSTER"], "name the same worker"),
    (["--cluster", "/nonexistent/scheduler.json"], "--cluster: no scheduler file '/nonexistent/scheduler.json'"),
])
def test_bad_hosts_are_one_line_and_save_nothing(cluster, tmp_path, capsys, arguments, expected):
    import platform

    arguments = [{"CLUSTER": cluster, "0,NODE": f"0,{platform.node()}"}.get(argument, argument) for argument in arguments]
    assert main(["run", "--suite", "params", "--backend", "numpy", *SMALL, *arguments, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_targeted_host_whose_worker_dies_finishes_its_cells_on_that_host(tmp_path):
    """--hosts 0,1 and the Dask worker 0 killed as soon as one of its records is saved: Dask's nanny restarts
    it (same name, new address), and the cells it had not finished run there again; none is lost, none is
    recorded twice, and no cell sent to host 0 ran anywhere else."""
    import os
    import signal
    import time

    from harness.execution.dask_executor import BENCHMARK_RESOURCE

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  resources={BENCHMARK_RESOURCE: 1}) as local, distributed.Client(local) as client:
        pids = client.run(os.getpid)
        names = {str(worker["name"]): address for address, worker in client.scheduler_info()["workers"].items()}
        command = [sys.executable, "-m", "harness", "run", "--suite", "params,training", "--steps", "150",
                   "--backend", "numpy", "--hidden", "32,48,64", "--vocab-size", "500", "--embed-dim", "16",
                   "--seq-len", "20", "--batch-size", "16", "--cluster", local.scheduler_address, "--hosts", "0,1",
                   "--out", str(tmp_path)]
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        killed, deadline = False, time.monotonic() + 240
        while not killed and time.monotonic() < deadline and run.poll() is None:
            found = list(tmp_path.glob("*/records.jsonl"))
            if found and '"target": "0"' in found[0].read_text():
                os.kill(pids[names["0"]], signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        _, err = run.communicate(timeout=300)
    assert killed, f"the sweep ended before worker 0 could be killed: {err}"
    records = records_of(tmp_path)
    keys = [(r["suite"], json.dumps(r["spec"], sort_keys=True), r["target"]) for r in records]
    assert len(keys) == len(set(keys)), "a cell was recorded twice"
    assert len(records) == 3 * 2 * 2, err
    assert all(r["status"] == "pass" or "Dask worker" in r["message"] for r in records), err
    assert all(r["worker"] == r["target"] for r in records if "worker" in r), "a cell ran on another host than its own"


def test_an_interrupted_cluster_run_keeps_its_records_and_leaves_no_worker_running(cluster, tmp_path):
    """Ctrl-C on a cluster run: exit 130 with the finished records kept, and the run's tasks stopped on the
    cluster (each task's lstm-bench worker subprocess killed at its next message, after the cell it is in),
    not left computing the rest of the sweep."""
    import signal
    import time

    import psutil

    command = [sys.executable, "-m", "harness", "run", "--suite", "params,training", "--steps", "600",
               "--backend", "numpy", "--hidden", "32,48,64,80,96,112", "--vocab-size", "500", "--embed-dim", "16",
               "--seq-len", "20", "--batch-size", "16", "--cluster", cluster, "--out", str(tmp_path)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_works)  # noqa: PLW1509
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.poll() is None:
        found = list(tmp_path.glob("*/records.jsonl"))
        if found and found[0].read_text().strip():
            run.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert records_of(tmp_path), "the records finished before the interrupt are kept"

    def cell_workers():
        found = []
        for process in psutil.Process().children(recursive=True):
            try:
                if "harness.execution.worker" in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    deadline = time.monotonic() + 50  # the rest of the sweep would take about 100 s: it must be stopped
    while cell_workers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not cell_workers(), "a task of the interrupted run is still computing on the cluster"
