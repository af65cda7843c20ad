"""The ``bench`` command end to end: exit codes, bad input, output formats, saved runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.execution.runner import RunRequest, SuitePlan, execute
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover
from harness.results.reader import load_records
from harness.results.store import METADATA_FILE, RECORDS_FILE, RunStore

from conftest import DEFAULT_BACKENDS, REGISTRY, ctrl_c_works

KNOWN_BACKENDS = ", ".join(sorted(REGISTRY.backends))
KNOWN_SUITES = ", ".join(sorted(REGISTRY.suites))


def bench(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def saved_run(out_dir: Path) -> Path:
    (run_dir,) = [path for path in out_dir.iterdir() if path.is_dir()]
    return run_dir


def test_no_command_is_one_line_naming_the_commands_and_exits_2(capsys):
    status, _, err = bench(capsys)
    assert status == 2 and err.strip() == ("bench: error: a command is required (list, run, check, explain, report, compare, "
                                           "runs, history, plugins, cluster); bench --help says what each does")


def test_help_exits_0(capsys):
    status, out, _ = bench(capsys, "run", "--help")
    assert status == 0 and "--return-sequences, --no-return-sequences" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--hidden", "0"], "argument --hidden: '0' is not a positive integer (accepted: comma-separated integers >= 1, e.g. 3,32,64)"),
        (["run", "--hidden", "-3"], "argument --hidden: '-3' is not a positive integer"),
        (["run", "--hidden", "abc"], "argument --hidden: 'abc' is not a positive integer"),
        (["run", "--hidden", "3,,4"], "argument --hidden: '' is not a positive integer"),
        (["run", "--vocab-size", "0"], "argument --vocab-size: '0' is not a positive integer (accepted: an integer from 1 to 2147483647)"),
        (["run", "--seq-len", "two"], "argument --seq-len: 'two' is not a positive integer"),
        (["run", "--timeout", "-1"], "argument --timeout: '-1' is not a positive number of seconds"),
        (["run", "--suite", "speed"], f"--suite: unknown suite 'speed' (available: {KNOWN_SUITES}, checks, all)"),
        (["run", "--suite", "params,"], "argument --suite: 'params,' has an empty name"),
        (["run", "--backend", "jax"], f"--backend: unknown backend 'jax' (available: {KNOWN_BACKENDS}, all)"),
        (["run", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["list", "--format", "csv"], "argument --format: invalid choice: 'csv'"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, expected):
    status, out, err = bench(capsys, *argv)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bench: error: ") and expected in lines[0]


def test_unwritable_out_is_refused_before_anything_runs(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    status, out, err = bench(capsys, "run", "--backend", "numpy", "--out", str(blocker / "runs"))
    assert status == 2 and out == ""
    assert err.strip() == f"bench: error: --out: cannot write to '{blocker / 'runs'}' (Not a directory); expected a writable directory"


def test_unavailable_backend_asked_for_by_name_says_how_to_install(capsys, fake_backends):
    status, _, err = bench(capsys, "run", "--backend", "fake-missing")
    assert status == 2
    assert err.strip() == (
        "bench: error: --backend: fake-missing is unavailable: lstm-bench-no-such-distribution is not installed: "
        "pip install lstm-bench-no-such-distribution"
    )


def test_list_shows_every_backend_with_versions_and_status(capsys, fake_backends):
    status, out, _ = bench(capsys, "list", "--format", "json")
    assert status == 0
    backends = {entry["name"]: entry for entry in json.loads(out)["backends"]}
    assert {"numpy", "torch", "keras", "fake-ok", "fake-missing"} <= set(backends)
    assert backends["numpy"]["available"] and backends["numpy"]["package"] == "lstm-bench"
    assert backends["numpy"]["version"].startswith("numpy ") and backends["numpy"]["devices"][0] == "cpu"
    assert backends["fake-ok"]["plugin"] == "fake_backends"
    missing = backends["fake-missing"]
    assert not missing["available"] and missing["reason"].startswith("lstm-bench-no-such-distribution is not installed")


def test_list_table_names_the_unavailable_reason(capsys, fake_backends):
    status, out, _ = bench(capsys, "list")
    assert status == 0
    assert "unavailable: lstm-bench-no-such-distribution is not installed" in out


def test_list_deep_reports_the_framework_itself(capsys, fake_backends, monkeypatch):
    monkeypatch.setenv("LSTM_BENCH_LOAD_PLUGINS", "fake_backends")  # a worker per fake, not per framework variant
    status, out, _ = bench(capsys, "list", "--deep", "--format", "json")
    backends = {entry["name"]: entry for entry in json.loads(out)["backends"]}
    assert status == 0
    assert backends["fake-ok"]["version"].startswith("numpy ") and "float32" in backends["fake-ok"]["version"]
    assert not backends["fake-unloadable"]["available"]
    assert backends["fake-unloadable"]["reason"] == "fails to load: ImportError: libfake.so: cannot open shared object file"


def test_list_imports_no_framework_and_reports_broken_plugins(tmp_path):
    code = (
        "import sys; from harness.cli import main; status = main(['list']); "
        "print(sorted({'torch', 'tensorflow', 'keras', 'jax', 'pandas', 'matplotlib'} & set(sys.modules)), status)"
    )
    environment = {**os.environ, "LSTM_BENCH_PLUGINS": "broken_import_plugin",
                   "PYTHONPATH": str(Path(__file__).parent / "plugins")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[] 0"
    assert "bench: warning: plugin broken_import_plugin: cannot import broken_import_plugin: ModuleNotFoundError" in result.stderr


def test_fake_backend_runs_and_the_run_is_saved(capsys, tmp_path, fake_backends):
    status, out, _ = bench(capsys, "run", "--suite", "params,shapes", "--backend", "fake-ok", "--format", "json",
                           "--out", str(tmp_path), "--hidden", "3,8")
    assert status == 0
    document = json.loads(out)
    records = document["records"]
    assert len(records) == 2 + 2 * 8  # shapes: 4 combinations, as given and stacked bidirectional
    assert {record["status"] for record in records} == {"pass"}
    params = [record for record in records if record["suite"] == "params"]
    assert [record["total_params"] for record in params] == [250_115, 250_000 + 4 * (5 * 8 + 64 + 8) + 17]
    assert params[0]["layers"][2] == {
        "name": "lstm", "type": "LSTM", "output_shape": "(None, 2, 3)", "params": 108, "trainable_params": 108,
        "expected_params": 108,
    }
    run_dir = saved_run(tmp_path)
    assert run_dir.name == document["run_id"]
    metadata = json.loads((run_dir / METADATA_FILE).read_text())
    assert metadata["command_line"][:2] == ["bench", "run"] and metadata["exit_status"] == 0
    assert metadata["packages"]["numpy"] and metadata["python"] and metadata["cpu_model"]
    assert metadata["backends"]["fake-ok"]["framework_version"].startswith("numpy ")
    assert [record.to_json() for record in load_records(run_dir)] == records


def test_planted_two_biases_fail_params_naming_backend_and_layer(capsys, tmp_path, fake_backends):
    status, out, _ = bench(capsys, "run", "--backend", "fake-two-biases", "--out", str(tmp_path))
    assert status == 1
    assert "fail: fake-two-biases: layer lstm has 120 params, expected 108 = 4*(E*H + H*H + H)" in out
    assert "total 250,127 params, expected 250,115" in out


def test_planted_shape_fault_fails_shapes_naming_the_output(capsys, tmp_path, fake_backends):
    status, out, _ = bench(capsys, "run", "--suite", "shapes", "--backend", "fake-last-step-only", "--format", "json",
                           "--out", str(tmp_path))
    assert status == 1
    failed = [record for record in json.loads(out)["records"] if record["status"] == "fail"]
    assert [(record["spec"]["return_sequences"], record["spec"]["bidirectional"]) for record in failed] == [
        (True, False), (True, False), (True, True), (True, True)]
    assert failed[0]["message"].startswith("fake-last-step-only: lstm_output is (4, 3), expected (4, 2, 3)")


def test_a_crash_fails_only_its_cell_and_is_saved(capsys, tmp_path, fake_backends):
    status, out, _ = bench(capsys, "run", "--backend", "fake-crash,numpy", "--hidden", "2,13,4", "--format", "json",
                           "--out", str(tmp_path))
    assert status == 1
    statuses = [(record["backend"], record["spec"]["hidden"], record["status"]) for record in json.loads(out)["records"]]
    assert statuses == [
        ("fake-crash", 2, "pass"), ("fake-crash", 13, "error"), ("fake-crash", 4, "pass"),
        ("numpy", 2, "pass"), ("numpy", 13, "pass"), ("numpy", 4, "pass"),
    ]
    assert len(load_records(saved_run(tmp_path))) == 6


def test_unavailable_backends_are_reported_not_failed(tmp_path, fake_backends):
    registry = discover()
    request = RunRequest([SuitePlan(registry.suite("params"), [ModelSpec()])], [registry.backend("fake-missing"), registry.backend("numpy")])
    result = execute(request, RunStore(tmp_path, {}))
    assert [(record.backend, record.status, record.message) for record in result.records] == [
        ("fake-missing", "unavailable",
         "lstm-bench-no-such-distribution is not installed: pip install lstm-bench-no-such-distribution"),
        ("numpy", "pass", ""),
    ]
    assert result.backend_details["fake-missing"] == {
        "available": False, "reason": "lstm-bench-no-such-distribution is not installed: pip install lstm-bench-no-such-distribution",
    }


def test_interrupted_run_keeps_finished_records(tmp_path, fake_backends):
    command = [sys.executable, "-c", "from harness.cli import run; run()", "run", "--backend", "fake-hang",
               "--hidden", "2,13", "--out", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_works)  # noqa: PLW1509
    deadline = time.monotonic() + 60
    records_file = None
    while time.monotonic() < deadline:
        runs = [path for path in tmp_path.iterdir() if path.is_dir()]
        if runs and (runs[0] / RECORDS_FILE).exists() and (runs[0] / RECORDS_FILE).read_text().count("\n") == 1:
            records_file = runs[0] / RECORDS_FILE
            break
        time.sleep(0.05)
    assert records_file is not None, "the first cell never finished"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted; finished results are kept in" in err and "Traceback" not in err
    (record,) = load_records(records_file.parent)
    assert (record.backend, record.spec["hidden"], record.status) == ("fake-hang", 2, "pass")
    assert json.loads((records_file.parent / METADATA_FILE).read_text())["status"] == "interrupted"


def test_markdown_format_prints_github_tables(capsys, tmp_path):
    status, out, _ = bench(capsys, "run", "--backend", "numpy", "--format", "markdown", "--out", str(tmp_path))
    assert status == 0
    assert "### numpy: model summary" in out and "| lstm (LSTM)" in out and "| 250,115" in out


# --- The issue's acceptance runs, over every built-in backend that is installed -------------------------


def available_builtins(capsys):
    _, out, _ = bench(capsys, "list", "--format", "json")
    return [entry["name"] for entry in json.loads(out)["backends"] if entry["name"] in DEFAULT_BACKENDS and entry["available"]]


def test_default_params_run_gives_250115_everywhere(capsys, tmp_path):
    backends = available_builtins(capsys)
    status, out, _ = bench(capsys, "run", "--suite", "params", "--format", "json", "--out", str(tmp_path))
    assert status == 0
    totals = {record["backend"]: record.get("total_params") for record in json.loads(out)["records"] if record["status"] != "unavailable"}
    assert totals == {name: 250_115 for name in backends}


def test_issue_example_gives_22305_everywhere(capsys, tmp_path):
    backends = available_builtins(capsys)
    status, out, _ = bench(capsys, "run", "--suite", "params", "--hidden", "32", "--vocab-size", "1000", "--embed-dim", "16",
                           "--seq-len", "10", "--no-return-sequences", "--format", "json", "--out", str(tmp_path))
    assert status == 0
    records = [record for record in json.loads(out)["records"] if record["backend"] in backends]
    assert {record["backend"]: record["total_params"] for record in records} == {name: 22_305 for name in backends}


@pytest.mark.parametrize("sequences_flag", ["--return-sequences", "--no-return-sequences"])
def test_params_grid_hidden_1_to_64(capsys, tmp_path, sequences_flag):
    hidden = ",".join(str(h) for h in range(1, 65))
    status, out, _ = bench(capsys, "run", "--suite", "params", "--hidden", hidden, "--vocab-size", "500", "--embed-dim", "7",
                           "--seq-len", "4", sequences_flag, "--format", "json", "--out", str(tmp_path))
    assert status == 0
    records = [record for record in json.loads(out)["records"] if record["status"] != "unavailable"]
    assert len(records) == 64 * len(available_builtins(capsys))
    for record in records:
        h = record["spec"]["hidden"]
        features = 4 * h if sequences_flag == "--return-sequences" else h
        assert record["total_params"] == 500 * 7 + 4 * (7 * h + h * h + h) + features + 1, record["backend"]


def test_shapes_suite_passes_all_four_combinations(capsys, tmp_path):
    backends = available_builtins(capsys)
    status, out, _ = bench(capsys, "run", "--suite", "shapes", "--format", "json", "--out", str(tmp_path), "--return-state")
    assert status == 0
    records = [record for record in json.loads(out)["records"] if record["status"] != "unavailable"]
    combos = {(record["backend"], record["spec"]["return_sequences"], record["spec"]["return_state"]) for record in records}
    assert combos == {(name, s, r) for name in backends for s in (True, False) for r in (True, False)}
    assert all(record["status"] == "pass" for record in records)


def test_progress_bar_with_eta_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--suite", "params,shapes", "--backend", "numpy", "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert process.wait(timeout=60) == 0
    text = output.decode(errors="replace")
    assert "100%" in text and "ETA " in text and " elapsed · " in text  # share done, ETA, time so far
    assert "numpy: starting a worker (loading the framework)" in text  # the start-up phase, then each cell by name
    assert "numpy: params cpu hidden 3" in text and "numpy: shapes cpu hidden 3" in text
    assert all(len(line) <= 120 for line in text.replace("\r", "\n").splitlines())  # the bar never wraps
