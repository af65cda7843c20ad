"""``bench report`` and ``bench compare`` on real saved runs: tables, plots read back, HTML in Chromium."""

import json
import shutil
import struct
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import results
from harness.cli import main
from harness.results.store import METADATA_FILE, RECORDS_FILE

from conftest import chromium, needs_chromium, use_test_plugins

TINY = ["--hidden", "8,16,32", "--vocab-size", "100", "--embed-dim", "8", "--seq-len", "5", "--batch-size", "4",
        "--min-time", "0.1", "--max-time", "0.2", "--warmup", "1", "--device", "cpu", "--rounds", "3"]


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory):
    """A quick timing run of two backends plus a params check, saved on disk."""
    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        assert main(["run", "--suite", "train,infer,params", "--backend", "numpy,fake-ok", "--out", str(out), *TINY]) == 0
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    return run_dir


def report(capsys, run_dir, *argv):
    status = main(["report", str(run_dir), *argv])
    return status, capsys.readouterr()


def test_load_gives_one_row_per_record(timed_run):
    frame = results.load(timed_run)
    records = [json.loads(line) for line in (timed_run / RECORDS_FILE).read_text().splitlines()]
    assert len(frame) == len(records) == 2 * 2 * 3 + 2 * 3
    train = frame[(frame.suite == "train") & (frame.backend == "numpy") & (frame.hidden == 16)]
    assert len(train) == 1 and train.iloc[0].device == "cpu"
    assert train.iloc[0].median_seconds == next(
        r["median_seconds"] for r in records if r["suite"] == "train" and r["backend"] == "numpy" and r["spec"]["hidden"] == 16)
    assert isinstance(train.iloc[0].samples_seconds, list)
    assert results.resolve_run("latest", timed_run.parent) == timed_run


def test_report_table_compares_backends_against_a_baseline(capsys, timed_run):
    status, captured = report(capsys, timed_run, "--baseline", "numpy")
    assert status == 0
    out = captured.out
    assert ("train on cpu (T=5, B=4): median, and speed-up over numpy with 95% CI over rounds (paired by round); "
            "* = fastest; ! = unstable") in out
    assert "x [" in out and "* " in out
    assert "checks: params (" in out and "train," not in out.split("checks: ")[1][:30]  # only the suites the run held
    section = out[out.index("params: every backend vs"):]  # the params suite's own section, as bench run printed it
    assert all(total in section for total in ("1,385", "2,481", "6,209"))


def test_plots_are_real_png_and_svg_files(capsys, timed_run, tmp_path):
    status, _ = report(capsys, timed_run, "--plots", str(tmp_path))
    assert status == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["infer-cpu.png", "infer-cpu.svg", "train-cpu.png", "train-cpu.svg"]
    for png in tmp_path.glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (1100, 800) and len(data) > 20_000
    for svg in tmp_path.glob("*.svg"):
        root = ElementTree.parse(svg).getroot()
        assert root.tag.endswith("svg") and svg.stat().st_size > 20_000
        assert "numpy" in svg.read_text() and "fake-ok" in svg.read_text()


def test_html_is_one_self_contained_file(capsys, timed_run, tmp_path):
    out = tmp_path / "report.html"
    status, _ = report(capsys, timed_run, "--format", "html", "--out", str(out))
    assert status == 0
    text = out.read_text()
    assert text.count("<table>") >= 4 and text.count('src="data:image/png;base64,') == 2
    assert 'src="http' not in text and "<link" not in text


@needs_chromium
def test_html_renders_in_headless_chromium_with_its_plots(capsys, timed_run, tmp_path):
    out = tmp_path / "report.html"
    assert report(capsys, timed_run, "--format", "html", "--out", str(out))[0] == 0
    dom = chromium("--dump-dom", out.as_uri(), profile=tmp_path / "profile").stdout
    assert 'data-images-loaded="2"' in dom and 'data-images-total="2"' in dom
    assert dom.count("<table>") >= 4 and "speed-up over" in dom


def test_csv_and_dashboard_exports(capsys, timed_run):
    import io

    import pandas as pd

    status, captured = report(capsys, timed_run, "--format", "csv")
    assert status == 0
    table = pd.read_csv(io.StringIO(captured.out))
    assert len(table) == 18 and {"suite", "backend", "hidden", "median_seconds", "samples_seconds"} <= set(table.columns)
    status, captured = report(capsys, timed_run, "--format", "dashboard")
    entries = json.loads(captured.out)
    assert len(entries) == 12
    entry = next(e for e in entries if e["name"] == "train/cpu/numpy/hidden=16/T=5/B=4")
    frame = results.load(timed_run)
    median = frame[(frame.suite == "train") & (frame.backend == "numpy") & (frame.hidden == 16)].iloc[0].median_seconds
    assert entry["unit"] == "ms" and entry["value"] == pytest.approx(median * 1e3)
    assert "-" in entry["range"] and "n=" in entry["extra"]


def copy_run(run_dir: Path, destination: Path, *, slowdown: float = 1.0, metadata_changes=None, name="copy",
             records=None) -> Path:
    """A copy of a run whose timings are all multiplied by ``slowdown`` (``records``: replace them)."""
    copy = destination / (run_dir.name + "-" + name)
    shutil.copytree(run_dir, copy)
    lines = []
    for record in records if records is not None else [json.loads(line) for line in (copy / RECORDS_FILE).read_text().splitlines()]:
        for key in ("samples_seconds", "round_medians_seconds"):
            if key in record:
                record[key] = [value * slowdown for value in record[key]]
        for key in ("median_seconds", "ci95_low_seconds", "ci95_high_seconds"):
            if key in record:
                record[key] *= slowdown
        lines.append(json.dumps(record))
    (copy / RECORDS_FILE).write_text("\n".join(lines) + "\n")
    metadata = json.loads((copy / METADATA_FILE).read_text())
    metadata.update(metadata_changes or {})
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    return copy


@pytest.fixture()
def quiet_run(timed_run, tmp_path):
    """The timed run with every timing cell's 5 round medians 1% apart, as a quiet machine gives."""
    records = []
    for line in (timed_run / RECORDS_FILE).read_text().splitlines():
        record = json.loads(line)
        if "round_medians_seconds" in record:
            median = record["median_seconds"]
            record.update(status="pass", message="", round_medians_seconds=[median * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)])
        records.append(record)
    return copy_run(timed_run, tmp_path, name="quiet", records=records)


def test_compare_flags_a_20_percent_slowdown_and_exits_1(capsys, quiet_run, tmp_path):
    slower = copy_run(quiet_run, tmp_path, slowdown=1.2)
    status = main(["compare", str(quiet_run), str(slower), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    assert len(document["cells"]) == 12 and document["regressions"] == 12
    assert all(cell["verdict"] == "slower" and cell["ratio"] == pytest.approx(1.2) for cell in document["cells"])
    assert all(cell["ci95"][0] < 1.2 < cell["ci95"][1] and cell["p_adjusted"] < 0.05 for cell in document["cells"])
    assert document["geometric_mean_ratio"] == pytest.approx(1.2)


def test_compare_of_an_identical_copy_finds_nothing_and_exits_0(capsys, quiet_run, tmp_path):
    same = copy_run(quiet_run, tmp_path)
    status = main(["compare", str(quiet_run), str(same)])
    out = capsys.readouterr().out
    assert status == 0
    assert "12 not significant" in out and "0 regression(s) beyond the 15% noise floor" in out
    assert "geometric mean B/A: 1.000" in out


def test_a_significant_slowdown_below_the_noise_floor_is_not_a_regression(capsys, quiet_run, tmp_path):
    slower = copy_run(quiet_run, tmp_path, slowdown=1.05)
    status = main(["compare", str(quiet_run), str(slower), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0 and document["regressions"] == 0 and document["min_effect"] == 0.15
    assert all(cell["verdict"] == "slower" and "within the 15% noise floor" in cell["note"] for cell in document["cells"])
    assert main(["compare", str(quiet_run), str(slower), "--min-effect", "2%"]) == 1
    assert "12 regression(s) beyond the 2% noise floor" in capsys.readouterr().out


def test_unstable_cells_are_named_and_never_a_regression(capsys, quiet_run, tmp_path):
    records = [json.loads(line) for line in (quiet_run / RECORDS_FILE).read_text().splitlines()]
    for record in records:
        if record["suite"] == "train" and record["backend"] == "numpy":
            record.update(status="unstable", message="numpy: machine busy: other processes used 1.90 CPUs (limit 0.5) in 3 of 5 round(s)")
    busy = copy_run(quiet_run, tmp_path, slowdown=3.0, name="busy", records=records)
    status = main(["compare", str(quiet_run), str(busy), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    unstable = [cell for cell in document["cells"] if cell["verdict"] == "unstable"]
    assert len(unstable) == 3 and all(not cell["regression"] for cell in unstable)
    assert all(cell["note"].startswith("B: machine busy: other processes used 1.90 CPUs") for cell in unstable)
    assert status == 1 and document["regressions"] == 9  # the other, stable cells are 3x slower
    main(["compare", str(quiet_run), str(busy)])
    assert "3 unstable cell(s) not judged: rerun them on a quiet machine" in capsys.readouterr().out


def test_runs_saved_before_rounds_are_compared_but_never_judged(capsys, quiet_run, tmp_path):
    records = [json.loads(line) for line in (quiet_run / RECORDS_FILE).read_text().splitlines()]
    for record in records:
        record.pop("round_medians_seconds", None)
    old = copy_run(quiet_run, tmp_path, name="old", records=records)
    assert main(["compare", str(old), str(copy_run(old, tmp_path, slowdown=2.0)), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {cell["verdict"] for cell in document["cells"]} == {"too few rounds"}


DRIFT = (1.20, 1.40, 1.25, 1.35, 1.30)
"""A machine that is 20-40% slower in run B, round by round, for every backend alike."""


def drifted(run_dir: Path, destination: Path, name: str, *, extra=None, jitter=(1.004, 0.996, 1.0, 1.003, 0.997)) -> Path:
    """A copy of ``run_dir`` whose rounds are multiplied by ``DRIFT`` (every backend) and whose fake-ok
    rounds also by ``extra`` (a planted slowdown) and ``jitter`` (noise the control does not share)."""
    records = []
    for record in (json.loads(line) for line in (run_dir / RECORDS_FILE).read_text().splitlines()):
        if "round_medians_seconds" in record:
            own = [j * (extra or 1.0) for j in jitter] if record["backend"] == "fake-ok" else [1.0] * 5
            medians = [m * d * o for m, d, o in zip(record["round_medians_seconds"], DRIFT, own)]
            record.update(round_medians_seconds=medians, median_seconds=sorted(medians)[2])
        records.append(record)
    return copy_run(run_dir, destination, name=name, records=records)


def test_a_control_backend_divides_out_the_machine_drift(capsys, quiet_run, tmp_path):
    base = drifted(quiet_run, tmp_path, "base", jitter=(0.997, 1.003, 1.0, 0.996, 1.004))
    base = copy_run(base, tmp_path, slowdown=1 / 1.3, name="a")  # run A: the same machine, not drifted
    slower = drifted(quiet_run, tmp_path, "slower", extra=1.10)
    assert main(["compare", str(base), str(slower), "--format", "json"]) == 1
    plain = json.loads(capsys.readouterr().out)
    assert plain["regressions"] == 12, "without a control the drift reads as a regression of every cell"
    assert main(["compare", str(base), str(slower), "--control", "numpy", "--min-effect", "5%", "--format", "json"]) == 1
    controlled = json.loads(capsys.readouterr().out)
    assert controlled["control"] == "numpy" and controlled["min_effect"] == 0.05 and "control numpy" in controlled["method"]
    by_backend = {backend: [cell for cell in controlled["cells"] if cell["backend"] == backend] for backend in ("numpy", "fake-ok")}
    assert {cell["verdict"] for cell in by_backend["numpy"]} == {"control"}
    assert all("drift" in cell["note"] and not cell["regression"] for cell in by_backend["numpy"])
    for cell in by_backend["fake-ok"]:
        assert cell["verdict"] == "slower" and cell["regression"], cell
        assert cell["ratio"] == pytest.approx(1.10, rel=0.01) and cell["ci95"][0] < 1.10 < cell["ci95"][1]
    assert controlled["regressions"] == 6

    same = drifted(quiet_run, tmp_path, "same")
    assert main(["compare", str(base), str(same), "--control", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "relative to the control numpy round by round" in out and "6 not significant, 6 control" in out
    assert "0 regression(s) beyond the 15% noise floor" in out, "a control keeps the default floor"


def test_a_control_must_be_measured_in_both_runs(capsys, quiet_run, tmp_path):
    assert main(["compare", str(quiet_run), str(quiet_run), "--control", "torch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("bench: error: compare: --control 'torch' has no timing cell in both runs "
                   "(backends measured in both: fake-ok, numpy)")
    records = [json.loads(line) for line in (quiet_run / RECORDS_FILE).read_text().splitlines()]
    for record in records:
        if record["backend"] == "numpy" and record.get("round_medians_seconds"):
            record["round_medians_seconds"] = record["round_medians_seconds"][:4]
    fewer = copy_run(quiet_run, tmp_path, name="fewer", records=records)
    assert main(["compare", str(quiet_run), str(fewer), "--control", "numpy", "--format", "json"]) == 0
    cells = [cell for cell in json.loads(capsys.readouterr().out)["cells"] if cell["backend"] == "fake-ok"]
    assert {cell["verdict"] for cell in cells} == {"no control"}
    assert all("rounds cannot be paired" in cell["note"] for cell in cells)


def test_compare_refuses_another_machine_unless_forced(capsys, timed_run, tmp_path):
    other = copy_run(timed_run, tmp_path, metadata_changes={"cpu_model": "Some Other CPU"})
    status = main(["compare", str(timed_run), str(other)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("bench: error: compare: the runs come from different machines or settings")
    assert "cpu_model" in err and "--force" in err and len(err.splitlines()) == 1
    assert main(["compare", str(timed_run), str(other), "--force"]) == 0


def test_report_and_compare_bad_input_is_one_line(capsys, timed_run, tmp_path):
    assert main(["report", "nope", "--results-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"bench: error: run: no run 'nope' under '{tmp_path}' (expected 'latest', 'previous', a run id, a label or a run "
        "directory; 'bench runs' lists them)")
    assert main(["report", str(timed_run), "--baseline", "jax"]) == 2
    assert "--baseline: 'jax' is not in run" in capsys.readouterr().err
    assert main(["compare", str(timed_run), str(timed_run), "--threshold", "lots"]) == 2
    assert "argument --min-effect/--threshold: 'lots' is not a percentage" in capsys.readouterr().err


def test_a_run_is_read_as_its_suites_declared_even_when_their_plugin_is_gone(capsys, timed_run, monkeypatch):
    declared = results.load_metadata(timed_run)["suites"]
    assert declared["train"]["measures_time"] is True and declared["params"]["measures_time"] is False
    monkeypatch.setenv("LSTM_BENCH_DISABLE_PLUGINS", "train,infer")
    frame = results.load(timed_run)
    assert set(frame[frame.measures_time].suite) == {"train", "infer"}
    status, captured = report(capsys, timed_run, "--baseline", "numpy")
    assert status == 0
    assert "train on cpu (T=5, B=4)" in captured.out and "checks: params (" in captured.out
    assert "train: records" in captured.out  # the uninstalled suite's section: its records, plainly


def test_a_report_that_cannot_be_written_names_the_file_asked_for(capsys, timed_run, tmp_path):
    out = tmp_path / "missing" / "report.html"
    status, captured = report(capsys, timed_run, "--format", "html", "--out", str(out))
    assert status == 2 and captured.err.strip() == f"bench: error: --out: cannot write {out} (No such file or directory)"
