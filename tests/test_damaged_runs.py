"""A run on disk that is damaged (a full disk, a crash mid-write, a hand edit, an attack) is still read by
every command: damaged lines are skipped with one warning each, a run that cannot be identified is one line
and exit 2, nothing is ever modified in place, and ``--resume`` runs again what was lost."""

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.results.reader import load_records, read_records
from harness.results.store import LOCK_FILE, METADATA_FILE, RECORDS_FILE, RunStore

from conftest import use_test_plugins

TINY = ["--hidden", "4,8", "--vocab-size", "50", "--embed-dim", "4", "--seq-len", "3", "--batch-size", "2",
        "--min-time", "0.01", "--max-time", "0.02", "--warmup", "0", "--device", "cpu", "--rounds", "3"]
READING_COMMANDS = (
    ["report", "{run}"], ["report", "{run}", "--format", "json"], ["report", "{run}", "--format", "csv"],
    ["report", "{run}", "--format", "markdown"], ["report", "{run}", "--format", "dashboard"],
    ["compare", "{good}", "{run}", "--force"], ["compare", "{run}", "{run}"],
)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A real run of a check suite and a timing suite, two backends, two sizes: 8 records."""
    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        assert main(["run", "--suite", "params,train", "--backend", "numpy,fake-ok", "--out", str(out), *TINY]) == 0
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    assert len((run_dir / RECORDS_FILE).read_text().splitlines()) == 8
    return run_dir


def digest(directory: Path) -> dict[str, str]:
    """Each run file's content hash (the lock file and reports aside)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())
            if path.is_file() and path.name in (METADATA_FILE, RECORDS_FILE)}


def read_with_every_command(capsys, run_dir: Path, good: Path) -> list[tuple[list[str], int, str]]:
    """Run every reading command on ``run_dir``; each must return (never raise) and print no traceback."""
    outcomes = []
    for template in READING_COMMANDS:
        argv = [part.format(run=run_dir, good=good) for part in template]
        status = main(argv)
        err = capsys.readouterr().err
        assert "Traceback" not in err, (argv, err)
        for line in err.strip().splitlines():
            assert line.startswith(("bench: warning:", "bench: error:")), (argv, line)
        outcomes.append((argv, status, err))
    return outcomes


def corrupt(data: bytes, operation: str, draw) -> bytes:
    """One kind of damage a full disk, a crash or a careless edit leaves."""
    lines = data.split(b"\n")
    if operation == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if operation == "flip bytes":
        damaged = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            damaged[draw(st.integers(0, len(damaged) - 1))] = draw(st.integers(0, 255))
        return bytes(damaged)
    index = draw(st.integers(0, max(len(lines) - 2, 0)))
    if operation == "replace a line":
        lines[index] = json.dumps(draw(JSON_VALUES)).encode()
        return b"\n".join(lines)
    try:
        document = json.loads(lines[index])
    except ValueError:
        return data
    if not isinstance(document, dict) or not document:
        return data
    key = draw(st.sampled_from(sorted(document)))
    target = document
    nested = sorted(name for name, value in document.items() if isinstance(value, dict) and value)
    if operation == "mistype a nested field" and nested:
        target = document[draw(st.sampled_from(nested))]
        key = draw(st.sampled_from(sorted(target)))
    if operation == "drop a field":
        del target[key]
    else:
        target[key] = draw(JSON_VALUES)
    lines[index] = json.dumps(document).encode()
    return b"\n".join(lines)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
OPERATIONS = ("truncate", "flip bytes", "replace a line", "drop a field", "mistype a field", "mistype a nested field")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), target=st.sampled_from((RECORDS_FILE, METADATA_FILE)), operation=st.sampled_from(OPERATIONS))
def test_every_reading_command_survives_any_damage_and_changes_nothing(capsys, saved_run, data, target, operation):
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / saved_run.name
        shutil.copytree(saved_run, run_dir)
        path = run_dir / target
        path.write_bytes(corrupt(path.read_bytes(), operation, data.draw))
        before = digest(run_dir)
        outcomes = read_with_every_command(capsys, run_dir, saved_run)
        assert digest(run_dir) == before, "a reading command modified the damaged run"
        for argv, status, err in outcomes:
            if argv[0] == "report":
                assert status in (0, 2), (argv, status, err)
                if status == 2:
                    assert target == METADATA_FILE and f"{METADATA_FILE}: damaged" in err, err
            else:
                assert status in (0, 1, 2), (argv, status, err)


@pytest.mark.parametrize("damage, named", [
    (lambda text: text + '{"suite": "train", "backend":', "not JSON"),
    (lambda text: text.replace('"spec": {', '"spek": {', 1), "no 'spec' object"),
    (lambda text: text + "[1, 2]\n", "a JSON list, not a record object"),
    (lambda text: text + '{"suite": "train", "backend": "numpy", "status": "pass", "spec": {}, "median_seconds": "fast"}\n',
     "'median_seconds' is 'fast'"),
])
def test_a_damaged_line_is_skipped_with_one_warning_naming_file_and_line(capsys, saved_run, tmp_path, damage, named):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    records = run_dir / RECORDS_FILE
    records.write_text(damage(records.read_text()))
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    err = capsys.readouterr().err
    (warning,) = [line for line in err.splitlines() if line.startswith("bench: warning:")]
    assert f"{records}:" in warning and named in warning and warning.endswith("; skipped"), warning
    assert len(read_records(run_dir).records) >= 7


def test_garbage_bytes_and_a_missing_records_file_still_report(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    with open(run_dir / RECORDS_FILE, "ab") as handle:
        handle.write(b"\xff\xfe\x00garbage\n")
    assert main(["report", str(run_dir)]) == 0
    assert f"{run_dir / RECORDS_FILE}:9: not UTF-8 text; skipped" in capsys.readouterr().err
    (run_dir / RECORDS_FILE).unlink()
    assert main(["report", str(run_dir)]) == 0
    assert "records.jsonl: missing; the run has no records" in capsys.readouterr().err


@pytest.mark.parametrize("content, named", [
    (b"[1, 2]", "damaged (a JSON list, expected an object)"),
    (b'{"run_id": ', "damaged (not JSON"),
    (b"\xff\xfe", "damaged (not UTF-8 text)"),
])
def test_metadata_that_cannot_identify_the_run_is_one_line_for_every_command(capsys, saved_run, tmp_path, content, named):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    (run_dir / METADATA_FILE).write_bytes(content)
    for argv in (["report", str(run_dir)], ["compare", str(run_dir), str(saved_run)],
                 ["run", "--resume", run_dir.name, "--out", str(tmp_path)]):
        assert main(argv) == 2, argv
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert named in line and str(run_dir / METADATA_FILE) in line, line


def test_a_metadata_field_of_the_wrong_type_is_ignored_with_a_warning(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    metadata = json.loads((run_dir / METADATA_FILE).read_text())
    metadata.update(packages=["numpy"], command_line="bench run", machine_state=[1])
    (run_dir / METADATA_FILE).write_text(json.dumps(metadata))
    assert main(["report", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert "field 'packages' is a list (expected an object); ignored" in err
    assert err.count("field 'packages'") == 1, "one warning per problem, however often the run is read"


def test_resume_runs_again_the_cells_whose_records_were_lost(capsys, saved_run, tmp_path, fake_backends):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    lines = (run_dir / RECORDS_FILE).read_text().splitlines()
    lost = json.loads(lines[1])
    lines[1] = lines[1][: len(lines[1]) // 2]  # a line cut short, and the last one without its newline
    (run_dir / RECORDS_FILE).write_text("\n".join(lines))
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path), "--format", "json"]) == 0
    assert f"{run_dir / RECORDS_FILE}:2: not JSON" in capsys.readouterr().err
    records = load_records(run_dir)
    assert len(records) == 8 and len({record.cell_key() for record in records}) == 8, "every cell exactly once"
    assert any(record.suite == lost["suite"] and record.spec == lost["spec"] and record.backend == lost["backend"]
               for record in records)


class FullDisk:
    """``os.write`` that fails with ENOSPC after ``allowed`` record lines, having written half of the next
    (what a full disk does to a write that straddles the last free block)."""

    def __init__(self, allowed: int) -> None:
        self.allowed, self.real_write = allowed, os.write

    def __call__(self, descriptor: int, data) -> int:
        if b'"suite"' in bytes(data):
            if self.allowed <= 0:
                self.real_write(descriptor, bytes(data)[: len(data) // 2])
                raise OSError(28, "No space left on device")
            self.allowed -= 1
        return self.real_write(descriptor, data)


def test_a_full_disk_mid_run_keeps_every_whole_record_and_resume_completes_it(capsys, tmp_path, monkeypatch, fake_backends):
    from harness.results import store

    monkeypatch.setattr(store.os, "write", FullDisk(allowed=3))
    status = main(["run", "--suite", "params", "--backend", "numpy,fake-ok", "--hidden", "3,4,5", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert "No space left on device" in err and f"finish with: bench run --resume {run_dir.name}" in err
    content = (run_dir / RECORDS_FILE).read_text()
    assert content.endswith("\n") and len(content.splitlines()) == 3, "no partial line is left behind"
    assert json.loads((run_dir / METADATA_FILE).read_text())["status"] == "interrupted"
    monkeypatch.setattr(store.os, "write", store.os.write.real_write)  # space freed
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 0
    records = load_records(run_dir)
    assert len(records) == 6 and len({record.cell_key() for record in records}) == 6
    assert len((run_dir / RECORDS_FILE).read_text().splitlines()) == 6


def test_writes_never_follow_a_symlink_out_of_the_run(capsys, saved_run, tmp_path, fake_backends):
    run_dir = tmp_path / "runs" / saved_run.name
    shutil.copytree(saved_run, run_dir)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run_dir / "report.html").symlink_to(victim)
    assert main(["report", str(run_dir), "--format", "html"]) == 0
    assert victim.read_text() == "precious\n" and not (run_dir / "report.html").is_symlink()
    (run_dir / RECORDS_FILE).unlink()
    (run_dir / RECORDS_FILE).symlink_to(victim)
    capsys.readouterr()
    assert main(["run", "--resume", run_dir.name, "--out", str(run_dir.parent)]) == 2, "refused before anything runs"
    assert "records.jsonl is a symbolic link; a run's files must be its own regular files" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"


def test_plot_file_names_from_record_fields_stay_inside_the_plots_directory(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    lines = [json.loads(line) for line in (run_dir / RECORDS_FILE).read_text().splitlines()]
    for record in lines:
        record["device"] = "x/../../escaped"
    (run_dir / RECORDS_FILE).write_text("".join(json.dumps(record) + "\n" for record in lines))
    plots = tmp_path / "a" / "b" / "plots"
    assert main(["report", str(run_dir), "--plots", str(plots)]) == 0
    written = sorted(path for path in tmp_path.rglob("*.png"))
    assert written and all(path.parent == plots for path in written), written


def test_a_run_being_written_cannot_be_resumed_twice(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    before = digest(run_dir)
    with RunStore.reopen(tmp_path, run_dir.name):
        assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert f"run {run_dir.name} is being written by another bench process (pid {os.getpid()})" in line
    assert digest(run_dir) == before
    assert (run_dir / LOCK_FILE).exists()


def test_exports_neither_run_formulas_nor_raw_html(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    lines = [json.loads(line) for line in (run_dir / RECORDS_FILE).read_text().splitlines()]
    lines[0]["message"] = '=HYPERLINK("http://example.invalid","x")'
    lines[1]["message"] = "<script>alert(1)</script> | pipe"
    lines[1]["backend"] = "<b>bold</b>"
    (run_dir / RECORDS_FILE).write_text("".join(json.dumps(record) + "\n" for record in lines))
    assert main(["report", str(run_dir), "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert "'=HYPERLINK" in csv and ",=HYPERLINK" not in csv and '"=HYPERLINK' not in csv
    assert main(["report", str(run_dir), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "<b>" not in markdown and "&lt;b&gt;bold&lt;/b&gt;" in markdown


@pytest.mark.parametrize("line, named", [
    ("[" * 100000 + "]" * 100000, "nested too deep"),
    ('{"suite": "params", "backend": "numpy", "status": "pass", "spec": {}, "total_params": 1' + "0" * 400 + "}",
     "'total_params' is"),
    ('{"suite": "params", "backend": "\\ud800", "status": "pass", "spec": {}}', "not valid Unicode"),
])
def test_lines_no_parser_or_printer_survives_are_skipped(capsys, saved_run, tmp_path, line, named):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    with open(run_dir / RECORDS_FILE, "a") as handle:
        handle.write(line + "\n")
    for output_format in ("table", "csv", "markdown", "html"):
        assert main(["report", str(run_dir), "--format", output_format, "--out", str(tmp_path / "out")]) == 0
    assert named in capsys.readouterr().err


def test_a_fifo_or_an_endless_file_in_place_of_a_run_file_is_not_read(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    (run_dir / RECORDS_FILE).unlink()
    os.mkfifo(run_dir / RECORDS_FILE)
    assert main(["report", str(run_dir)]) == 0, "a FIFO would block the reader forever"
    assert "records.jsonl: cannot be read (not a regular file)" in capsys.readouterr().err
    (run_dir / RECORDS_FILE).unlink()
    (run_dir / RECORDS_FILE).symlink_to("/dev/zero")
    assert main(["report", str(run_dir)]) == 0, "an endless file is not read (the warning is the one above, given once)"
    (run_dir / METADATA_FILE).unlink()
    os.mkfifo(run_dir / METADATA_FILE)
    assert main(["report", str(run_dir)]) == 2
    assert "metadata.json: cannot be read (not a regular file)" in capsys.readouterr().err


def test_damaged_suite_declarations_fall_back_to_the_installed_suites(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    metadata = json.loads((run_dir / METADATA_FILE).read_text())
    metadata["suites"] = {"train": 5}
    (run_dir / METADATA_FILE).write_text(json.dumps(metadata))
    assert main(["report", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert "field 'suites' is not an object of suite declarations" in captured.err
    assert "train on cpu" in captured.out, "the train cells are still reported as timings"


def test_hard_links_and_fifos_in_a_run_are_refused_before_anything_runs(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    outside = tmp_path / "important.txt"
    outside.write_text("important\n")
    (run_dir / LOCK_FILE).unlink(missing_ok=True)
    os.link(outside, run_dir / LOCK_FILE)
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 2
    assert "has 1 other hard link(s)" in capsys.readouterr().err and outside.read_text() == "important\n"
    (run_dir / LOCK_FILE).unlink()
    os.mkfifo(run_dir / LOCK_FILE)
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 2
    assert "is not a regular file" in capsys.readouterr().err


def test_junk_saved_rounds_are_measured_again(capsys, saved_run, tmp_path, fake_backends):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    lines = (run_dir / RECORDS_FILE).read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["suite"] != "train"]
    (run_dir / RECORDS_FILE).write_text("\n".join(kept) + "\n")
    (run_dir / "rounds.jsonl").write_text("\n".join([
        '{"cell": [[1]], "round": 0, "measurement": {}}', '{"cell": ["x"], "round": Infinity, "measurement": {}}',
        json.dumps({"cell": ["train", "numpy", "cpu", 50, 4, 4, 3, 2, True, False, 0, False], "round": 0,
                    "measurement": {"first_step_seconds": 0.1, "samples_seconds": [-1.0, 0.0]}}),
    ]) + "\n")
    assert main(["run", "--resume", run_dir.name, "--out", str(tmp_path)]) == 0
    records = load_records(run_dir)
    assert len(records) == 8 and all(record.details.get("median_seconds", 1) > 0 for record in records)


def test_a_report_never_overwrites_its_run_and_writes_to_a_device_without_replacing_it(capsys, saved_run, tmp_path):
    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    before = digest(run_dir)
    assert main(["report", str(run_dir), "--format", "json", "--out", str(run_dir / RECORDS_FILE)]) == 2
    assert "is the run's own records.jsonl" in capsys.readouterr().err and digest(run_dir) == before
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device file needs root")
    assert main(["report", str(run_dir), "--out", str(device)]) == 0
    assert stat.S_ISCHR(os.stat(device).st_mode), "the device is written to, not replaced by a file"
