"""lstm-bench-jax checks itself with lstm-bench's own conformance kit: ``pytest --bench-backend jax``."""

import pytest

from harness.conformance import CHECK_SUITES


@pytest.mark.parametrize("suite", CHECK_SUITES)
def test_jax_backend_conforms(bench_conformance, suite):
    bench_conformance(suite)
