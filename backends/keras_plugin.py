"""Declares the ``keras`` backend and its variants (no framework import here).

Each variant runs in its own worker with ``KERAS_BACKEND`` set, so TensorFlow, JAX and PyTorch never
share a process.
"""

from harness.hookspecs import hookimpl
from harness.registry import BackendInfo

KERAS = "Keras"
INSTALL = "pip install 'lstm-bench[keras]'"


@hookimpl
def bench_register_backends(register):
    """Register Keras 3 on TensorFlow (the article's model), with XLA, and on the JAX and torch engines."""
    register(BackendInfo(
        name="keras",
        implementation="backends.keras_backend:KerasBackend",
        framework=KERAS,
        requires=("tensorflow", "keras"),
        install_hint=INSTALL,
        description="Keras 3 functional model on TensorFlow, as in the article",
        worker_env={"KERAS_BACKEND": "tensorflow"},
    ))
    register(BackendInfo(
        name="keras-xla",
        implementation="backends.keras_backend:KerasBackend",
        framework=KERAS,
        requires=("tensorflow", "keras"),
        install_hint=INSTALL,
        description="variant: keras on TensorFlow with XLA (jit_compile=True)",
        options={"jit_compile": True},
        worker_env={"KERAS_BACKEND": "tensorflow"},
        default=False,
    ))
    register(BackendInfo(
        name="keras-jax",
        implementation="backends.keras_backend:KerasBackend",
        framework=KERAS,
        requires=("jax", "keras"),
        install_hint="pip install keras jax",
        description="variant: Keras 3 on the JAX engine (KERAS_BACKEND=jax)",
        worker_env={"KERAS_BACKEND": "jax"},
        default=False,
    ))
    register(BackendInfo(
        name="keras-jax-fp32",
        implementation="backends.keras_backend:KerasBackend",
        framework=KERAS,
        requires=("jax", "keras"),
        install_hint="pip install keras jax",
        description="variant: Keras on JAX with float32 matmul precision 'highest' (no TF32 on GPU)",
        worker_env={"KERAS_BACKEND": "jax", "JAX_DEFAULT_MATMUL_PRECISION": "highest"},
        default=False,
    ))
    register(BackendInfo(
        name="keras-torch",
        implementation="backends.keras_backend:KerasBackend",
        framework=KERAS,
        requires=("torch", "keras"),
        install_hint="pip install keras 'lstm-bench[torch]'",
        description="variant: Keras 3 on the PyTorch engine (KERAS_BACKEND=torch)",
        worker_env={"KERAS_BACKEND": "torch"},
        default=False,
    ))
