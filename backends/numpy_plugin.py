"""Declares the ``numpy`` reference backend (no framework import here)."""

from harness.api import BackendInfo, hookimpl


@hookimpl
def bench_register_backends(register):
    """Register the NumPy reference, the ground truth every other backend is compared with."""
    register(BackendInfo(
        name="numpy",
        implementation="backends.numpy_backend:NumpyBackend",
        framework="NumPy",
        requires=("numpy",),
        install_hint="pip install numpy",
        description="reference: gate-by-gate NumPy, readable next to the equations",
        cpu_only=True,
    ))
