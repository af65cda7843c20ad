"""A run on a busy machine is marked ``unstable``, not ``pass``, and ``bench compare`` says so.

The load is real: busy-looping processes, one per core, for the whole run.
"""

import json
import os
import subprocess
import sys

import pytest

from harness.cli import main

from conftest import merged_options

TINY = ["--suite", "infer", "--backend", "numpy", "--hidden", "8,16", "--vocab-size", "100", "--embed-dim", "8",
        "--seq-len", "5", "--batch-size", "4", "--min-time", "0.3", "--max-time", "0.5", "--warmup", "1",
        "--rounds", "3", "--device", "cpu", "--threads", "1", "--format", "json"]


@pytest.fixture
def busy_machine():
    """One busy-looping process per core until the test ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def run(capsys, out, *extra):
    status = main(["run", *merged_options(TINY, "--out", str(out), *extra)])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


def test_a_run_on_a_busy_machine_is_unstable_and_compare_says_so(capsys, tmp_path, busy_machine):
    status, document, err = run(capsys, tmp_path / "busy")
    assert status == 0, "unstable is reported, not failed"
    records = document["records"]
    assert [record["status"] for record in records] == ["unstable", "unstable"]
    for record in records:
        assert "machine busy: other processes used" in record["message"]
        others = [details["addons"]["machine"]["other_processes_cpus"] for details in record["round_details"]]
        assert max(others) > 0.5
    assert "unstable: infer cpu hidden 8: numpy: " in err and "2 unstable" in err
    busy_dir = tmp_path / "busy" / document["run_id"]
    assert main(["compare", str(busy_dir), str(busy_dir), "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert {cell["verdict"] for cell in comparison["cells"]} == {"unstable"}
    for cell in comparison["cells"]:
        assert cell["note"].startswith("A: ") and "machine busy: other processes used" in cell["note"]
        assert "; B: " in cell["note"], "both sides of the compare are named"


def test_too_few_rounds_is_unstable_with_the_reason(capsys, tmp_path):
    status, document, _ = run(capsys, tmp_path, "--rounds", "2")
    assert status == 0
    for record in document["records"]:
        assert record["status"] == "unstable"
        assert "2 round(s), fewer than the 3 an interval over rounds needs" in record["message"]


def test_what_the_cpu_counters_cannot_resolve_is_not_a_busy_machine():
    """One 10 ms tick of steal in a 50 ms round reads 0.2 CPUs: within the counters' resolution, not busy."""
    from harness.addons.machine_load import busy_reason
    from harness.measurement.machine_state import counter_resolution_seconds

    resolution = counter_resolution_seconds(2)
    assert resolution == pytest.approx(6 / os.sysconf("SC_CLK_TCK"))
    short = {"wall_seconds": 0.05, "counter_resolution_seconds": resolution, "other_processes_cpus": 0.0}
    assert busy_reason({**short, "steal_cpus": 0.2}) is None
    assert busy_reason({**short, "other_processes_cpus": 1.0}) is None, "50 ms of others is one tick per counter"
    long = {**short, "wall_seconds": 1.0}
    assert busy_reason({**long, "steal_cpus": 0.2}) == "machine busy: the hypervisor stole 0.20 CPUs (limit 0.1)"
    assert busy_reason({**long, "other_processes_cpus": 1.0}).startswith("machine busy: other processes used 1.00 CPUs")
    assert busy_reason({**long, "steal_cpus": 0.12, "other_processes_cpus": 0.52}) is None, "beyond the limit by less than the resolution"
    assert busy_reason({"steal_cpus": 0.3}) is not None, "figures saved before the resolution was recorded are judged as before"
