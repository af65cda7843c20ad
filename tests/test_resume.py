"""Kill a real ``bench run`` midway, then ``bench run --resume``: nothing lost, nothing duplicated."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.cell import CELL_FIELDS
from harness.results.reader import load_records
from harness.results.store import METADATA_FILE, RECORDS_FILE, ROUNDS_FILE

HIDDEN = "2,3,4,5,6,7"
COMMAND = [
    "run", "--suite", "train,infer", "--backend", "fake-ok,numpy", "--device", "cpu", "--hidden", HIDDEN,
    "--vocab-size", "50", "--embed-dim", "4", "--seq-len", "3", "--batch-size", "2",
    "--min-time", "0.25", "--max-time", "0.3", "--warmup", "0", "--rounds", "3",
]


def bench_process(*argv):
    return [sys.executable, "-c", "from harness.cli import run; run()", *argv]


def wait_for_records(out_dir: Path, count: int, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [path for path in out_dir.iterdir() if path.is_dir()]
        if runs and (runs[0] / RECORDS_FILE).exists():
            if (runs[0] / RECORDS_FILE).read_text().count("\n") >= count:
                return runs[0]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} records after {timeout} s")


def cell_keys(run_dir: Path):
    return [(r.suite, r.backend, r.spec["hidden"], r.details["device"]) for r in load_records(run_dir)]


def test_killed_run_resumes_without_losing_or_repeating_cells(tmp_path, fake_backends):
    process = subprocess.Popen(bench_process(*COMMAND, "--out", str(tmp_path)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run_dir = wait_for_records(tmp_path, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    before = cell_keys(run_dir)
    assert 3 <= len(before) < 24, "the kill should land midway"
    assert "finished_at" not in json.loads((run_dir / METADATA_FILE).read_text())

    resumed = subprocess.run(
        bench_process("run", "--resume", run_dir.name, "--out", str(tmp_path), "--format", "json"),
        capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    after = cell_keys(run_dir)
    expected = {
        (suite, backend, hidden, "cpu")
        for suite in ("train", "infer") for backend in ("fake-ok", "numpy") for hidden in map(int, HIDDEN.split(","))
    }
    assert len(after) == len(set(after)) == 24, "no duplicated cells"
    assert set(after) == expected, "no lost cells"
    assert after[:len(before)] == before, "finished cells were kept as they were"
    assert len(json.loads(resumed.stdout)["records"]) == 24
    metadata = json.loads((run_dir / METADATA_FILE).read_text())
    assert metadata["status"] == "finished" and metadata["counts"]["pass"] + metadata["counts"]["unstable"] == 24
    records = load_records(run_dir)
    assert all(len(record.details["round_medians_seconds"]) == 3 for record in records), "every cell has its 3 rounds"
    peaks = {record.details["device_peak_gflops"] for record in records}
    assert len(peaks) == 1, "resumed cells share the machine's cached GEMM peak"


def test_a_run_killed_between_rounds_resumes_at_the_round_it_was_on(tmp_path, fake_backends):
    command = [*COMMAND[:COMMAND.index("--hidden") + 1], "2,3", *COMMAND[COMMAND.index("--hidden") + 2:]]
    command[command.index("--backend") + 1] = "numpy"
    process = subprocess.Popen(bench_process(*command, "--out", str(tmp_path)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    rounds_file = None
    while time.monotonic() < deadline:
        runs = [path for path in tmp_path.iterdir() if path.is_dir()]
        rounds_file = runs[0] / ROUNDS_FILE if runs else None
        if rounds_file and rounds_file.exists() and rounds_file.read_text().count("\n") >= 4:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    run_dir = rounds_file.parent
    saved = [json.loads(line) for line in rounds_file.read_text().splitlines() if line.strip()]
    assert len(saved) >= 4 and (run_dir / RECORDS_FILE).read_text() == "", "killed before any cell had all its rounds"
    resumed = subprocess.run(bench_process("run", "--resume", run_dir.name, "--out", str(tmp_path)),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = {(r.suite, r.spec["hidden"]): r for r in load_records(run_dir)}
    assert len(records) == 4
    for line in saved:
        suite, hidden = line["cell"][0], line["cell"][CELL_FIELDS.index("hidden")]
        samples = line["measurement"]["samples_seconds"]
        assert sorted(samples)[len(samples) // 2] in records[suite, hidden].details["samples_seconds"]
        assert records[suite, hidden].details["round_sample_counts"][line["round"]] == len(samples), "the saved round was kept"


def test_resume_of_an_unknown_run_is_one_line(tmp_path):
    result = subprocess.run(bench_process("run", "--resume", "nope", "--out", str(tmp_path)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"bench: error: --resume: no run 'nope' under '{tmp_path}' (expected a run id from a previous bench run; "
        "give --out if it was saved elsewhere)"
    )
