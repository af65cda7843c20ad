"""Terminal tables that fit: every table kind rendered at 80 and 120 columns stays within the width,
``--columns`` and ``--wide`` choose what is shown, and a random table never overflows (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.plugins.discovery import discover
from harness.rendering import Table, render_tables
from harness.report.sections import build_report
from harness.results.reader import load_records
from harness.table_layout import Layout, alignment, fit

from conftest import use_test_plugins

TINY = ["--vocab-size", "100", "--embed-dim", "8", "--seq-len", "5", "--batch-size", "4", "--min-time", "0.05",
        "--max-time", "0.1", "--warmup", "1", "--rounds", "3", "--device", "cpu", "--steps", "3"]
WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run of every table kind: timing (train, infer) and checks (params, shapes, gradients, training) for
    the NumPy reference and a second backend, at two hidden sizes."""
    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        use_test_plugins(patch, "fake_backends")
        patch.setenv("COLUMNS", "120")
        status = main(["run", "--suite", "params,shapes,gradients,training,train,infer", "--backend", "numpy,fake-ok",
                       "--hidden", "8,16", "--label", "tables", "--out", str(out), *TINY])
    assert status == 0
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    return run_dir


def every_table(run_dir) -> dict[str, Table]:
    """Each suite's tables and each report table of the run, by title."""
    registry = discover()
    report = build_report(run_dir)
    records = load_records(run_dir, frozenset({"train", "infer"}))
    tables = list(report.tables())
    for name in ("params", "shapes", "gradients", "training", "train", "infer"):
        tables += registry.suite(name).tables([record for record in records if record.suite == name])
    return {table.title: table for table in tables}


def widest_line(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_kind_fits_the_width(saved_run, width):
    tables = every_table(saved_run)
    for kind in ("environment", "checks", "params", "shapes", "gradients", "training", "train on cpu", "infer on cpu"):
        assert any(title.startswith(kind) for title in tables), kind
    for title, table in tables.items():
        text = render_tables([table], "table", Layout(width=width))
        assert widest_line(text) <= width, (title, text)
        wide = render_tables([table], "table", Layout(width=width, wide=True))
        assert widest_line(wide) <= width, (title, wide)


def test_compact_columns_by_default_and_every_column_when_wide(saved_run):
    (timing,) = [table for title, table in every_table(saved_run).items() if title.startswith("train on cpu: one")]
    compact = render_tables([timing], "table", Layout(width=None))
    wide = render_tables([timing], "table", Layout(width=None, wide=True))
    assert "median" in compact and "samples/s" in compact and "tokens/s" not in compact and "first step" not in compact
    assert "tokens/s" in wide and "first step" in wide and "GFLOP/s" in wide
    picked = render_tables([timing], "table", Layout(width=None, columns=("tokens/s",)))
    header = picked.splitlines()[2]
    assert "tokens/s" in header and "backend" in header and "hidden" in header and "median" not in header


def test_report_and_compare_take_columns_and_refuse_unknown_ones(saved_run, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["report", str(saved_run), "--columns", "tokens/s,GFLOP/s"]) == 0
    out = capsys.readouterr().out
    assert "tokens/s" in out and "GFLOP/s" in out and widest_line(out) <= 120
    assert main(["report", str(saved_run), "--columns", "speed"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no table here has a column 'speed'" in error[0] and "median" in error[0]
    assert main(["report", str(saved_run), "--columns", "median", "--wide"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_report_begins_with_the_summary_and_names_only_the_suites_that_ran(saved_run, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["report", str(saved_run)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[:6]
    assert first[0].startswith("lstm-bench run") and "(tables)" in first[0]
    assert any(line.startswith("- train on cpu") for line in first)
    assert "checks: params, shapes, gradients, training (" in out and widest_line(out) <= 100


def test_piped_output_is_not_wrapped(saved_run, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["report", str(saved_run), "--wide"]) == 0
    assert widest_line(capsys.readouterr().out) > 120


def test_run_json_is_unchanged_by_layout(saved_run):
    records = [json.loads(line) for line in (saved_run / "records.jsonl").read_text().splitlines()]
    assert {record["suite"] for record in records} == {"params", "shapes", "gradients", "training", "train", "infer"}


def test_numbers_right_text_left_without_explicit_alignment():
    table = Table("t", ("name", "ms", "ratio", "note"), (("a", "1.25", "2.0x", "fine"), ("b", "12,345.5", "-", "slow !")))
    assert alignment(table) == ("left", "right", "right", "left")


TEXT = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), min_size=0, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(st.text(alphabet="abcdefgh %/", min_size=1, max_size=24), min_size=2, max_size=14),
    data=st.data(),
    width=st.integers(min_value=60, max_value=200),
)
def test_a_random_table_never_exceeds_the_width(headers, data, width):
    rows = data.draw(st.lists(st.tuples(*[TEXT | st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.3g}")
                                            for _ in headers]), min_size=0, max_size=6))
    table = Table("a title " * data.draw(st.integers(0, 30)), tuple(headers), tuple(rows))
    text = render_tables([table], "table", Layout(width=width))
    assert widest_line(text) <= width
    parts = fit(table, Layout(width=width))
    assert all(part.table.headers[0] == headers[0] for part in parts)
    assert [header for part in parts for header in part.table.headers[1:]] == headers[1:]
    assert all(part.table.rows == tuple((row[0], *row[index:index + len(part.table.headers) - 1]) for row in rows)
               for part, index in zip(parts, _starts(parts)))


def _starts(parts) -> list[int]:
    """Where each split part's non-key columns begin in the original table."""
    starts, index = [], 1
    for part in parts:
        starts.append(index)
        index += len(part.table.headers) - 1
    return starts


def test_a_noise_floor_is_printed_as_given_never_rounded_into_another():
    from harness.rendering import percent_text

    assert [percent_text(value) for value in (0.15, 0.05, 0.9999, 0.125, 0.0)] == ["15%", "5%", "99.99%", "12.5%", "0%"]
