"""``bench runs``, labels and ``bench history`` over three real runs of different commits, the third with a
planted slowdown (the NumPy reference plus a busy loop as long as its own step: truly 2x slower), which
history must mark, and nothing else."""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import pytest

from harness.cli import main
from harness.results.store import METADATA_FILE

from conftest import use_test_plugins

REPOSITORY = Path(__file__).resolve().parent.parent
RUN = ["run", "--suite", "train", "--backend", "planted", "--hidden", "8,16", "--vocab-size", "100", "--embed-dim", "8",
       "--seq-len", "5", "--batch-size", "4", "--min-time", "0.1", "--max-time", "0.2", "--warmup", "1", "--rounds", "4",
       "--device", "cpu", "--threads", "1"]
COMMITS = ("1111111aaaaaaa", "2222222bbbbbbb", "3333333ccccccc")


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "benchmarks.planted_slowdown")
        patch.syspath_prepend(str(REPOSITORY))
        patch.setenv("PYTHONPATH", os.pathsep.join([str(REPOSITORY), os.environ["PYTHONPATH"]]))
        for number, (commit, slowdown) in enumerate(zip(COMMITS, ("0", "0", "1.0"))):
            patch.setenv("LSTM_BENCH_PLANTED_SLOWDOWN", slowdown)
            assert main([*RUN, "--out", str(out), "--label", f"step-{number + 1}"]) == 0
            (run_dir,) = [path for path in out.iterdir() if path.is_dir() and json.loads(
                (path / METADATA_FILE).read_text()).get("label") == f"step-{number + 1}"]
            metadata = json.loads((run_dir / METADATA_FILE).read_text())
            metadata["git_commit"] = commit  # three commits, as three checkouts would have made them
            (run_dir / METADATA_FILE).write_text(json.dumps(metadata))
    return out


def test_runs_lists_the_three_with_their_labels_and_commits(three_runs, capsys):
    assert main(["runs", "--results-dir", str(three_runs), "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [run["label"] for run in runs] == ["step-1", "step-2", "step-3"]
    assert [run["git_commit"] for run in runs] == list(COMMITS)
    assert main(["report", "step-2", "--results-dir", str(three_runs), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["git_commit"] == COMMITS[1]


def test_history_marks_the_planted_slowdown_and_nothing_else(three_runs, capsys):
    assert main(["history", "--results-dir", str(three_runs), "--format", "json"]) == 0
    histories = json.loads(capsys.readouterr().out)
    assert {(history["suite"], history["spec"]["hidden"]) for history in histories} == {("train", 8), ("train", 16)}
    for history in histories:
        points = history["points"]
        assert [point["name"] for point in points] == [commit[:12] for commit in COMMITS]
        assert [point["verdict"] for point in points] == ["first", "no significant change", "slower"]
        last = points[-1]
        assert 1.5 < last["ratio_to_previous"] < 2.6 and last["ci95"][0] > 1.15 and last["p_adjusted"] < 0.05


def test_history_table_plot_and_filters(three_runs, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    plot = tmp_path / "history.png"
    assert main(["history", "--results-dir", str(three_runs), "--hidden", "16", "--plot", str(plot)]) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "history: train on cpu" in table and "3333333ccccc" in table and "▲" in table
    assert "significant changes" in table and max(len(line) for line in table.splitlines()) <= 120
    assert "1 cell(s) across 3 run(s); 1 significant change(s)" in captured.err
    png = plot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 500
    assert main(["history", "--results-dir", str(three_runs), "--by", "date", "--format", "json"]) == 0
    names = [point["name"] for point in json.loads(capsys.readouterr().out)[0]["points"]]
    assert len(set(names)) == 3 and all(name[:2] == "20" and name[10] == " " for name in names)


def test_history_says_what_is_missing(three_runs, capsys, tmp_path):
    assert main(["history", "--results-dir", str(three_runs), "--backend", "torch"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "no timing cell" in error and "--backend" in error
    assert main(["history", "--results-dir", str(three_runs), "--plot", str(tmp_path / "x.gif")]) == 2
    assert "must end in .png or .svg" in capsys.readouterr().err
    assert main(["history", "--results-dir", str(three_runs), "--plot", str(tmp_path / "no" / "x.png")]) == 2
    captured = capsys.readouterr()
    assert "is in no existing directory" in captured.err and captured.out == ""  # refused before any work


def test_a_step_to_another_machine_is_shown_never_judged_and_a_damaged_run_is_named(three_runs, capsys, tmp_path):
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(three_runs, copy)
    last, middle = sorted(path for path in copy.iterdir() if path.is_dir())[2], sorted(copy.iterdir())[1]
    metadata = json.loads((last / METADATA_FILE).read_text())
    (last / METADATA_FILE).write_text(json.dumps({**metadata, "cpu_model": "Another CPU"}))
    (middle / METADATA_FILE).write_text("{not json")
    assert main(["history", "--results-dir", str(copy), "--hidden", "8"]) == 0
    captured = capsys.readouterr()
    assert "(other machine)" in captured.out and not re.search(r"▲\d", captured.out)  # 2x slower, but elsewhere
    assert f"run {middle.name} is left out of the history" in captured.err
