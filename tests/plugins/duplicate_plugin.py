"""A plugin that tries to take the built-in name ``torch``."""

from harness.api import BackendInfo, hookimpl


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="torch", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy"))
