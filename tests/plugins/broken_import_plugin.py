"""A plugin that cannot even be imported."""

import lstm_bench_module_that_does_not_exist  # noqa: F401
