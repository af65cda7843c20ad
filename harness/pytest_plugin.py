"""lstm-bench's pytest plugin (entry point ``pytest11``): the conformance kit inside a plugin's own tests.

    pytest --bench-backend jax tests/

A test asks for the ``bench_conformance`` fixture and a suite name; the whole check runs once per
backend and session (in worker processes, like ``bench check``), and each test asserts one suite,
failing with the messages that name the layer or tensor::

    import pytest
    from harness.api import check_suite_names

    @pytest.mark.parametrize("suite", check_suite_names())
    def test_conforms(bench_conformance, suite):
        bench_conformance(suite)

Without ``--bench-backend`` these tests are skipped.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("lstm-bench")
    group.addoption("--bench-backend", action="append", default=[], metavar="NAME",
                    help="run lstm-bench's conformance checks against this backend (repeatable)")


def pytest_generate_tests(metafunc) -> None:
    if "bench_backend" in metafunc.fixturenames:
        names = metafunc.config.getoption("--bench-backend")
        marks = [] if names else [pytest.mark.skip(reason="no --bench-backend given")]
        metafunc.parametrize("bench_backend", [pytest.param(name, marks=marks) for name in names] or
                             [pytest.param(None, marks=marks)], scope="session")


@pytest.fixture(scope="session")
def _bench_conformance_results():
    return {}


@pytest.fixture
def bench_conformance(bench_backend, _bench_conformance_results):
    """``bench_conformance(suite)`` asserts that ``--bench-backend`` passes that conformance suite."""
    from harness.conformance import check_backend
    from harness.model_spec import ModelSpec
    from harness.results.record import PASS, UNSUPPORTED

    if bench_backend not in _bench_conformance_results:
        _bench_conformance_results[bench_backend] = check_backend(bench_backend)
    result = _bench_conformance_results[bench_backend]

    def assert_suite(suite: str) -> None:
        records = result.for_suite(suite)
        assert records, f"{bench_backend}: suite {suite} produced no result"
        failing = [record for record in records if record.status not in (PASS, UNSUPPORTED)]
        assert not failing, "\n".join(
            f"{suite} [{ModelSpec(**record.spec).label()}] {record.status}: {record.message}" for record in failing
        )

    return assert_suite
