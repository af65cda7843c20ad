"""A plugin written against lstm-bench 0.1's import paths, which moved: it must still load, with a warning."""

from harness.hookspecs import hookimpl
from harness.registry import BackendInfo


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="old-style", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy"))
