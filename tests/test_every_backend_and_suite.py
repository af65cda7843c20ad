"""Every registered backend passes every check suite, and every registered suite runs: both read from the
registry, so a backend or suite added by a plugin (or named in ``LSTM_BENCH_PLUGINS`` when pytest starts)
is covered here without being listed.

Each module-scoped run is one ``bench run``: one worker process per backend for all its cells.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.run_command import render_records
from harness.results.record import PASS, UNAVAILABLE, UNSUPPORTED, Record

from conftest import REGISTRY, backend_params

TINY_MODEL = ["--hidden", "4", "--vocab-size", "50", "--embed-dim", "3", "--seq-len", "3", "--batch-size", "2"]
TINY_TIMING = ["--min-time", "0.01", "--max-time", "0.05", "--warmup", "0"]
CHECK_SUITES = [suite.name for suite in REGISTRY.check_suites()]


@pytest.fixture(scope="module")
def every_backend_checked(tmp_path_factory):
    """``bench run --suite checks --backend all``, once for the module."""
    return _run_in_subprocess(tmp_path_factory.mktemp("checks"), "--suite", "checks", "--backend", "all", "--steps", "3")


@pytest.fixture(scope="module")
def every_suite_run(tmp_path_factory):
    """``bench run --suite all --backend numpy``, once for the module, with a tiny timing budget."""
    return _run_in_subprocess(tmp_path_factory.mktemp("suites"), "--suite", "all", "--backend", "numpy", "--steps", "2",
                              *TINY_TIMING)


def _run_in_subprocess(out_dir, *argv) -> list[Record]:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--format", "json", "--device", "cpu", "--out", str(out_dir),
         *TINY_MODEL, *argv],
        capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode in (0, 1) and result.stdout.startswith("{"), result.stderr
    return [Record.from_json(record) for record in json.loads(result.stdout)["records"]]


@pytest.mark.parametrize("backend", backend_params(REGISTRY.backends))
def test_every_backend_passes_every_check_suite(every_backend_checked, backend):
    records = [record for record in every_backend_checked if record.backend == backend]
    assert {record.suite for record in records} == set(CHECK_SUITES)
    failing = [f"{record.suite}: {record.status}: {record.message}" for record in records
               if record.status not in (PASS, UNSUPPORTED)]
    assert failing == []
    assert any(record.status == PASS for record in records)


def test_unavailable_backends_are_reported_not_failed(every_backend_checked):
    for record in every_backend_checked:
        assert record.status != UNAVAILABLE or record.message, record


@pytest.mark.parametrize("suite", sorted(REGISTRY.suites))
def test_every_suite_runs_judges_and_tabulates(every_suite_run, suite):
    records = [record for record in every_suite_run if record.suite == suite]
    assert records and all(record.status == PASS for record in records), [record.message for record in records]
    text = render_records([REGISTRY.suite(suite)], records, "table")
    assert "numpy" in text


def test_a_plugin_named_when_pytest_starts_joins_these_tests_with_no_list_edited(use_plugins):
    use_plugins("toy_plugin")
    tests_dir = Path(__file__).parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         str(tests_dir / "test_every_backend_and_suite.py"), str(tests_dir / "test_backends_contract.py")],
        capture_output=True, text=True, timeout=300, cwd=tests_dir.parent,
    )
    collected = result.stdout.splitlines()
    assert "tests/test_every_backend_and_suite.py::test_every_backend_passes_every_check_suite[toy]" in collected
    assert "tests/test_every_backend_and_suite.py::test_every_suite_runs_judges_and_tabulates[toy-count]" in collected
    assert "tests/test_backends_contract.py::test_reference_config_totals_250115[toy]" in collected
