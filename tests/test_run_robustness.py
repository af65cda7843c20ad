"""Signals, leftovers and flags: SIGTERM is Ctrl-C, a killed bench leaves nothing behind for long, every flag
means what it says or is one line and exit 2, a slow cell says it is still running."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.execution import worker_manager
from harness.results.reader import load_records, read_records
from harness.results.store import METADATA_FILE, RECORDS_FILE, RunStore


def start_bench(tmp_path: Path, *argv: str) -> subprocess.Popen:
    command = [sys.executable, "-c", "from harness.cli import run; run()", *argv, "--out", str(tmp_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_record(tmp_path: Path, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [path for path in tmp_path.iterdir() if path.is_dir()]
        if runs and (runs[0] / RECORDS_FILE).exists() and (runs[0] / RECORDS_FILE).read_text().count("\n") >= 1:
            return runs[0]
        time.sleep(0.05)
    raise AssertionError("the first cell never finished")


def worker_directories(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{worker_manager.WORKER_DIRECTORY_PREFIX}{pid}-*"))


def test_sigterm_ends_a_run_as_ctrl_c_does(tmp_path, fake_backends):
    process = start_bench(tmp_path, "run", "--backend", "fake-hang", "--hidden", "2,13")
    run_dir = wait_for_first_record(tmp_path)
    assert worker_directories(process.pid), "the hanging cell's worker is running"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in err
    assert f"finish with: bench run --resume {run_dir.name}" in err
    assert json.loads((run_dir / METADATA_FILE).read_text())["status"] == "interrupted"
    assert [record.spec["hidden"] for record in load_records(run_dir)] == [2]
    assert not worker_directories(process.pid), "the worker's temporary directory is removed"


def test_the_leftovers_of_a_killed_bench_are_removed_by_the_next_run(tmp_path, fake_backends):
    process = start_bench(tmp_path, "run", "--backend", "fake-hang", "--hidden", "2,13")
    wait_for_first_record(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    left = worker_directories(process.pid)
    assert left, "SIGKILL leaves the job directory (no process can clean up after it)"
    assert sorted(worker_manager.remove_stale_worker_directories()) == sorted(left)
    assert not any(path.exists() for path in left)


def test_an_errored_cell_is_run_again_with_retry_errors_and_counted_once(capsys, tmp_path, fake_backends):
    assert main(["run", "--backend", "fake-raise", "--hidden", "2,13", "--out", str(tmp_path)]) == 1
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 1
    assert len(read_records(run_dir).records) == 2, "a plain resume leaves errored cells alone"
    capsys.readouterr()
    assert main(["run", "--resume", run_dir.name, "--retry-errors", "--out", str(tmp_path), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [record["spec"]["hidden"] for record in document["records"]] == [2, 13]
    assert len(read_records(run_dir).records) == 3, "the retried cell is appended"
    assert len(load_records(run_dir)) == 2, "and read back once, its last record"


def test_a_cell_without_a_result_says_it_is_still_running(capsys, tmp_path, fake_backends, monkeypatch):
    monkeypatch.setattr(worker_manager, "HEARTBEAT_SECONDS", 0.5)
    assert main(["run", "--backend", "fake-hang", "--hidden", "13", "--timeout", "3", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "fake-hang: params cpu V=50000 E=5 H=13 T=2 B=4 seq still running after" in err
    assert "its worker is killed at 3 s, --timeout" in err


@pytest.mark.parametrize("argv, expected", [
    (["run", "--out", ""], "argument --out/--results-dir: '' is not a directory"),
    (["run", "--min-time", "inf"], "'inf' is not a positive number of seconds"),
    (["run", "--max-time", "nan"], "'nan' is not a positive number of seconds"),
    (["run", "--suite", "train", "--min-time", "1", "--max-time", "0.1"], "--min-time 1 is above --max-time 0.1"),
    (["run", "--hidden", "32,32"], "32 is given twice in '32,32'"),
    (["compare", "a", "b", "--threshold", "-5%"], "'-5%' is not a percentage (accepted: a finite number >= 0"),
    (["compare", "a", "b", "--min-effect", "-0.1"], "'-0.1' is not a percentage"),
    (["run", "--retry-errors"], "--retry-errors: only with --resume RUN_ID"),
    (["report", "--results-dir", ""], "argument --results-dir: '' is not a directory"),
])
def test_flags_that_cannot_mean_what_they_say_are_one_line(capsys, argv, expected):
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert expected in line, line


def test_cuda_asked_for_by_name_without_a_gpu_is_refused(capsys, monkeypatch):
    from harness.cli import run_command

    monkeypatch.setattr(run_command, "nvidia_gpu_visible", lambda: False)
    assert main(["run", "--device", "cuda"]) == 2
    assert "--device cuda: no CUDA device is visible" in capsys.readouterr().err


def test_resume_refuses_options_that_would_change_the_saved_run(capsys, tmp_path):
    assert main(["run", "--backend", "numpy", "--out", str(tmp_path)]) == 0
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    before = (run_dir / METADATA_FILE).read_bytes()
    for extra in (["--suite", "params"], ["--hid", "3"], ["--quick"]):
        capsys.readouterr()
        assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path), *extra]) == 2, extra
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "cannot change a saved run" in line and extra[0][:5] in line, line
    assert (run_dir / METADATA_FILE).read_bytes() == before, "a refused resume does not touch the run"


def test_a_run_id_collision_takes_another_id(tmp_path, monkeypatch):
    from harness.results import store

    ids = iter(["20260101T000000-aaaa", "20260101T000000-aaaa", "20260101T000000-bbbb"])
    monkeypatch.setattr(store, "new_run_id", lambda: next(ids))
    with RunStore(tmp_path, {}) as first, RunStore(tmp_path, {}) as second:
        assert (first.run_id, second.run_id) == ("20260101T000000-aaaa", "20260101T000000-bbbb")


def test_a_plugin_that_calls_sys_exit_at_import_is_a_broken_plugin(tmp_path):
    (tmp_path / "exiting_plugin.py").write_text("import sys\nsys.exit(3)\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
                   "LSTM_BENCH_PLUGINS": "exiting_plugin"}
    finished = subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True,
                              env=environment, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "exiting_plugin: cannot import exiting_plugin: SystemExit: 3" in finished.stdout + finished.stderr


def test_a_backend_left_out_by_the_disable_list_is_named_as_such(capsys, monkeypatch):
    monkeypatch.setenv("LSTM_BENCH_DISABLE_PLUGINS", "torch")
    assert main(["run", "--backend", "torch-compile"]) == 2
    assert "'torch-compile' is not loaded: its plugin 'torch' is left out by" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    ([], "bench: error: a command is required (list, run, check, explain, report, compare, runs, history, plugins, cluster)"),
    (["run", "--hidden", "3", "--hidden", "4"], "--hidden is given more than once (only the last would count)"),
    (["run", "--suite", "params", "--suite", "shapes"], "--suite is given more than once"),
    (["compare", "a", "b", "--min-effect", "5"], "'5' is ambiguous: as a fraction it means 500%"),
    (["run", "--resume", ""], "--resume: no run ''"),
    (["run", "--resume", "x" * 5000], "--resume: no run"),
    (["report", "x" * 5000], "no run"),
    (["run", "--vocab-size", "99999999999999999999999"], "(accepted: an integer from 1 to 2147483647)"),
    (["run", "--threads", "100000"], "(accepted: an integer from 1 to 1024)"),
    (["report", "--out", ""], "'' is not a file name"),
    (["report", "--plots", ""], "'' is not a directory"),
    (["report", "--baseline", ""], "'' is not a name"),
])
def test_more_inputs_that_are_one_line(capsys, argv, expected):
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert expected in line, line


def test_help_of_every_command_prints(capsys):
    for command in ("run", "check", "report", "compare", "runs", "list", "plugins"):
        assert main([command, "--help"]) == 0, command
        assert "usage: bench" in capsys.readouterr().out


def test_out_that_is_a_file_is_not_a_directory(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["run", "--out", str(tmp_path / "file")]) == 2
    assert "is not a directory (expected a directory to save runs in)" in capsys.readouterr().err


def test_resume_keeps_the_worker_limits_it_is_given_and_refuses_runs_without_options(capsys, tmp_path):
    assert main(["run", "--backend", "numpy", "--hidden", "3", "--timeout", "0.001", "--out", str(tmp_path)]) == 1
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert "timed out after 0.001 s" in load_records(run_dir)[0].message
    assert main(["run", "--resume", run_dir.name, "--retry-errors", "--timeout", "600", "--out", str(tmp_path)]) == 0
    assert load_records(run_dir)[0].status == "pass", "--timeout 600 (the default value) was given, so it counts"
    metadata = json.loads((run_dir / METADATA_FILE).read_text())
    del metadata["run_arguments"]
    (run_dir / METADATA_FILE).write_text(json.dumps(metadata))
    capsys.readouterr()
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 2
    assert "saved options (metadata.json run_arguments) are missing or damaged" in capsys.readouterr().err


def test_output_that_cannot_be_written_is_one_line(tmp_path):
    command = [sys.executable, "-c", "from harness.cli import run; run()", "list"]
    with open("/dev/full", "w") as full:
        finished = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert finished.returncode == 1 and finished.stderr.strip() == "bench: error: cannot write the output (No space left on device)"
    piped = subprocess.run(f"{sys.executable} -c 'from harness.cli import run; run()' list | head -c 1", shell=True,
                           capture_output=True, text=True, check=False)
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_plugins_that_print_or_misname_a_hook_are_warned_about_and_json_stays_json(tmp_path):
    (tmp_path / "chatty_plugin.py").write_text(
        "from harness.api import hookimpl\nprint('hello')\n\n@hookimpl\ndef bench_register_backendz(register):\n    pass\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
                   "LSTM_BENCH_PLUGINS": "chatty_plugin,chatty_plugin", "LSTM_BENCH_DISABLE_PLUGINS": "no-such-plugin"}
    finished = subprocess.run([sys.executable, "-m", "harness", "list", "--format", "json"], capture_output=True,
                              text=True, env=environment, check=False)
    document = json.loads(finished.stdout)
    warnings = {warning["plugin"]: warning["warning"] for warning in document["warnings"]}
    assert "bench_register_backendz is not an lstm-bench hook" in warnings["chatty_plugin"]
    assert "LSTM_BENCH_DISABLE_PLUGINS names 'no-such-plugin', which is no plugin" in warnings["no-such-plugin"]
    assert "hello" in finished.stderr


def test_sighup_ends_a_run_as_ctrl_c_does(tmp_path, fake_backends):
    process = start_bench(tmp_path, "run", "--backend", "fake-hang", "--hidden", "2,13")
    run_dir = wait_for_first_record(tmp_path)
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and f"finish with: bench run --resume {run_dir.name}" in err
    assert json.loads((run_dir / METADATA_FILE).read_text())["status"] == "interrupted"


def test_options_no_planned_suite_reads_are_named(capsys, tmp_path):
    assert main(["run", "--backend", "numpy", "--rounds", "4", "--steps", "3", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "bench: warning: --rounds has no effect: none of the suites run (params) reads it" in err
    assert "bench: warning: --steps has no effect" in err


def test_two_resumes_of_one_run_at_once_write_nothing_twice(capsys, tmp_path, fake_backends):
    first = start_bench(tmp_path, "run", "--backend", "fake-hang", "--hidden", "2,13")
    run_dir = wait_for_first_record(tmp_path)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    resuming = start_bench(tmp_path, "run", "--resume", run_dir.name)  # hangs on hidden 13 again, holding the lock
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (run_dir / ".lock").read_text().strip() != str(resuming.pid):
        time.sleep(0.05)
    try:
        assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert f"is being written by another bench process (pid {resuming.pid})" in line
    finally:
        resuming.send_signal(signal.SIGTERM)
        resuming.communicate(timeout=30)
    assert len(read_records(run_dir).records) == 1, "the second resume wrote nothing"


def test_an_interrupt_before_a_run_exists_is_one_line(capsys, monkeypatch):
    from harness import cli

    def interrupted(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    with pytest.raises(SystemExit) as exit_request:
        cli.run()
    assert exit_request.value.code == 130 and capsys.readouterr().err == "bench: interrupted\n"


def test_labels_and_results_directories_that_name_nothing_are_refused(capsys, tmp_path):
    for label in (".", ".."):
        assert main(["run", "--label", label]) == 2
    (tmp_path / "file").write_text("")
    for where, expected in ((tmp_path / "file", "is not a directory"), (tmp_path / "missing", "does not exist")):
        assert main(["runs", "--results-dir", str(where)]) == 2
        assert expected in capsys.readouterr().err


def test_a_path_in_a_foreign_encoding_is_saved_readably(tmp_path):
    out = os.fsdecode(bytes(tmp_path) + b"/bad\xff\xfe")
    bench = [sys.executable, "-m", "harness"]
    assert subprocess.run([*bench, "run", "--backend", "numpy", "--hidden", "3", "--out", out], capture_output=True,
                          check=False).returncode == 0
    report = subprocess.run([*bench, "report", "--results-dir", out, "--format", "json"], capture_output=True,
                            text=True, check=False)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["metadata"]["command_line"][-1].endswith("bad\\xff\\xfe")
    runs = subprocess.run([*bench, "runs", "--results-dir", out, "--format", "json"], capture_output=True, text=True,
                          check=False)
    assert json.loads(runs.stdout)["runs"][0]["damaged"] is None
