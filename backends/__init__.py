"""Built-in backends. Each ``*_plugin`` module declares a backend (no framework import); each
``*_backend`` module implements it and is imported only inside that backend's worker process."""
