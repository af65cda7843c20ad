"""Plugins: the hook specifications, their typed calls, discovery, the registry, and availability.

- `harness.plugins.hookspecs`: the hooks a plugin implements (``bench_register_backends``, ``bench_register_suites``).
- `harness.plugins.hook_calls`: how lstm-bench calls them (typed wrappers; ``LSTM_BENCH_TRACE_PLUGINS`` traces them).
- `harness.plugins.discovery`: finding plugins (entry points, ``LSTM_BENCH_PLUGINS``, allow and block lists).
- `harness.plugins.registry`: what they registered (`BackendInfo`, suites, broken plugins).
- `harness.plugins.availability`: whether a backend's framework is installed, without importing it.

Plugin authors import from `harness.api`, not from here.
"""
