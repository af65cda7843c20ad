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
from harness.results.record import PASS, UNSTABLE, UNSUPPORTED, Record

from conftest import REGISTRY, backend_params

TINY_MODEL = ["--hidden", "4", "--vocab-size", "50", "--embed-dim", "3", "--seq-len", "3", "--batch-size", "2"]
TINY_TIMING = ["--min-time", "0.01", "--max-time", "0.05", "--warmup", "0"]
CHECK_SUITES = [suite.name for suite in REGISTRY.check_suites()]


@pytest.fixture(scope="module")
def every_backend_checked(tmp_path_factory):
    """``bench run --suite checks --backend all --jobs 2``, once for the module (two backends' workers at once)."""
    return _run_in_subprocess(tmp_path_factory.mktemp("checks"), "--suite", "checks", "--backend", "all", "--steps", "3",
                              "--jobs", "2")


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
    assert result.returncode == 0 and result.stdout.startswith("{"), result.stderr[-3000:]
    return [Record.from_json(record) for record in json.loads(result.stdout)["records"]]


@pytest.mark.parametrize("backend", backend_params(REGISTRY.backends))
@pytest.mark.slow
def test_every_backend_passes_every_check_suite(every_backend_checked, backend):
    records = [record for record in every_backend_checked if record.backend == backend]
    assert {record.suite for record in records} == set(CHECK_SUITES)
    failing = [f"{record.suite}: {record.status}: {record.message}" for record in records
               if record.status not in (PASS, UNSUPPORTED)]
    assert failing == []
    assert any(record.status == PASS for record in records)


@pytest.mark.parametrize("suite", sorted(REGISTRY.suites))
def test_every_suite_runs_judges_and_tabulates(every_suite_run, suite):
    records = [record for record in every_suite_run if record.suite == suite]
    # a timing cell may be unstable on a noisy machine (tiny rounds, counter granularity); it still has figures
    accepted = {PASS, UNSTABLE} if REGISTRY.suite(suite).measures_time else {PASS}
    assert records and all(record.status in accepted for record in records), [record.message for record in records]
    text = render_records([REGISTRY.suite(suite)], records, "table")
    assert "numpy" in text


REGISTRY_DERIVED_TESTS = ("test_every_backend_and_suite.py", "test_backends_contract.py", "test_plugins.py",
                          "test_plugin_hooks.py", "test_spec.py")


def pytest_with_the_toy_plugin(*argv):
    tests_dir = Path(__file__).parent
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         *(str(tests_dir / name) for name in REGISTRY_DERIVED_TESTS), *argv],
        capture_output=True, text=True, timeout=900, cwd=tests_dir.parent,
    )


def test_collected_with_the_toy_plugin_a_plugin_named_at_start_joins_these_tests(use_plugins):
    use_plugins("toy_plugin")
    collected = pytest_with_the_toy_plugin("-q", "--collect-only", "-k", "not with_the_toy_plugin").stdout.splitlines()
    assert "tests/test_every_backend_and_suite.py::test_every_backend_passes_every_check_suite[toy]" in collected
    assert "tests/test_every_backend_and_suite.py::test_every_suite_runs_judges_and_tabulates[toy-count]" in collected
    assert "tests/test_backends_contract.py::test_reference_config_totals_250115[toy]" in collected


def test_with_the_toy_plugin_loaded_the_registry_derived_tests_pass(use_plugins):
    """The toy backend and suite run through the contract tests for real, and no test with a hand-written
    list of backends or suites breaks (the whole-registry checks run is left out: it has its own run)."""
    use_plugins("toy_plugin")
    result = pytest_with_the_toy_plugin("-v", "-k", "not every_backend_passes and not with_the_toy_plugin")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "test_backends_contract.py::test_forward_matches_the_reference_on_identical_weights[toy-True-True] PASSED" in result.stdout
    assert "test_every_suite_runs_judges_and_tabulates[toy-count] PASSED" in result.stdout
