"""Runs you can find again: ``bench runs``, ``--label``, and ``latest``/``previous``/labels wherever a run is named."""

import json

from harness.cli import main
from harness.results.store import METADATA_FILE


def saved_runs(tmp_path, capsys):
    """Three params runs of the NumPy reference, the first labelled ``base``; their directories, oldest first."""
    made = []
    for label in (["--label", "base"], [], ["--label", "after upgrade"]):
        assert main(["run", "--backend", "numpy", "--hidden", "3", "--out", str(tmp_path), *label]) == 0
        made += [path for path in tmp_path.iterdir() if path.is_dir() and path not in made]
    capsys.readouterr()
    return made


def test_bench_runs_lists_every_run_with_its_label_and_outcome(capsys, tmp_path):
    runs = saved_runs(tmp_path, capsys)
    (runs[1] / METADATA_FILE).write_text("[]")
    assert main(["runs", "--results-dir", str(tmp_path), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["runs"]
    by_id = {run["run_id"]: run for run in listed}
    assert set(by_id) == {run.name for run in runs}
    intact = [run["run_id"] for run in listed if not run["damaged"]]
    assert intact == [runs[0].name, runs[2].name], "in the order they started (the damaged one: its id's second)"
    assert [by_id[run.name]["label"] for run in runs] == ["base", None, "after upgrade"]
    assert by_id[runs[0].name]["suites"] == ["params"] and by_id[runs[0].name]["counts"] == {"pass": 1}
    assert by_id[runs[0].name]["status"] == "finished"
    assert by_id[runs[1].name]["damaged"].endswith("the run cannot be identified")
    assert main(["runs", "--results-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "base" in table and "latest" in table and "previous" in table and "damaged" in table


def test_a_run_is_named_by_label_latest_or_previous(capsys, tmp_path):
    runs = saved_runs(tmp_path, capsys)
    for name, expected in (("base", runs[0]), ("latest", runs[2]), ("previous", runs[1]), ("after upgrade", runs[2])):
        assert main(["report", name, "--results-dir", str(tmp_path), "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["run_id"] == expected.name, name
    assert main(["report", "nothing-like-it", "--results-dir", str(tmp_path)]) == 2
    assert "no run 'nothing-like-it'" in capsys.readouterr().err


def test_labels_that_could_not_name_a_run_are_refused(capsys):
    for label in ("", "latest", "a/b", "x" * 65):
        assert main(["run", "--label", label]) == 2
        assert "is not a label" in capsys.readouterr().err


def test_run_saves_under_results_dir_too_the_name_the_readers_use(capsys, tmp_path):
    assert main(["run", "--backend", "numpy", "--hidden", "3", "--results-dir", str(tmp_path), "--label", "same-dir"]) == 0
    capsys.readouterr()
    assert main(["report", "same-dir", "--results-dir", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["label"] == "same-dir"
    assert main(["run", "--backend", "numpy", "--out", str(tmp_path), "--results-dir", str(tmp_path)]) == 2
    assert "is given more than once" in capsys.readouterr().err


def test_a_report_of_an_interrupted_run_says_so_first_with_the_resume_command(capsys, tmp_path):
    runs = saved_runs(tmp_path, capsys)
    metadata = json.loads((runs[0] / METADATA_FILE).read_text())
    (runs[0] / METADATA_FILE).write_text(json.dumps({**metadata, "status": "interrupted"}))
    assert main(["report", "base", "--results-dir", str(tmp_path)]) == 0
    head = capsys.readouterr().out.splitlines()[:3]
    assert head[1].startswith("- this run was interrupted: finish it with bench run --resume " + runs[0].name)
    assert main(["report", "base", "--results-dir", str(tmp_path), "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert '<p class="notice"><b>this run was interrupted' in page and "every check passed" not in page
