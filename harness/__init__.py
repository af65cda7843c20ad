"""lstm-bench core: the model contract, plugin discovery, worker isolation, records and the CLI.

Nothing in this package imports a deep-learning framework; frameworks are imported only by the backend
implementation modules, inside the worker process that runs them.
"""

__version__ = "0.1.0"
