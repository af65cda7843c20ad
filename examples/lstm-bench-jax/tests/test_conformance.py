"""lstm-bench-jax checks itself with lstm-bench's own conformance kit: ``pytest --bench-backend jax``."""

import pytest

from harness.api import check_suite_names


@pytest.mark.parametrize("suite", check_suite_names())
def test_jax_backend_conforms(bench_conformance, suite):
    bench_conformance(suite)
