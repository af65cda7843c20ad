"""lstm-bench core: the model contract, plugins, execution in worker processes, measurement, results,
reports and the CLI (the map: docs/architecture.md).

Plugins import from `harness.api` only. Nothing in this package imports a deep-learning framework;
frameworks are imported only by the backend implementation modules, inside the worker process that
runs them.
"""

__version__ = "0.1.0"
