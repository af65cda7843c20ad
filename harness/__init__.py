"""lstm-bench core: the model contract, plugins, execution in worker processes, measurement, results,
reports and the CLI (the map: docs/architecture.md).

Plugins import from `harness.api` only. Nothing in this package imports a deep-learning framework;
frameworks are imported only by the backend implementation modules, inside the worker process that
runs them.
"""

__version__ = "0.1.0"

from harness import moved_modules  # noqa: E402 - after the version, which it does not need

moved_modules.install()
