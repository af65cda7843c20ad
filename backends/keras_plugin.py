"""Declares the ``keras`` backend (no framework import here)."""

from harness.hookspecs import hookimpl
from harness.registry import BackendInfo


@hookimpl
def bench_register_backends(register):
    """Register Keras 3 on TensorFlow, the article's own model."""
    register(BackendInfo(
        name="keras",
        implementation="backends.keras_backend:KerasBackend",
        framework="Keras",
        requires=("tensorflow", "keras"),
        install_hint="pip install 'lstm-bench[keras]'",
        description="Keras 3 functional model on TensorFlow, as in the article",
        worker_env={"KERAS_BACKEND": "tensorflow"},
    ))
