"""A plugin that tries to take the built-in name ``torch``."""

from harness.hookspecs import hookimpl
from harness.registry import BackendInfo


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="torch", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy"))
