"""Built-in suites, one module each, registered through the ``lstm_bench`` entry points."""
