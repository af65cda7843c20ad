"""Declares the ``keras`` backend and its variants (no framework import here).

Each variant runs in its own worker with ``KERAS_BACKEND`` set, so TensorFlow, JAX and PyTorch never
share a process.
"""

from dataclasses import replace

from harness.api import BackendInfo, hookimpl

KERAS = BackendInfo(
    name="keras",
    implementation="backends.keras_backend:KerasBackend",
    framework="Keras",
    requires=("tensorflow", "keras"),
    install_hint="pip install 'lstm-bench[keras]'",
    description="Keras 3 functional model on TensorFlow, as in the article",
    worker_env={"KERAS_BACKEND": "tensorflow"},
)
KERAS_ON_JAX = replace(
    KERAS, name="keras-jax", requires=("jax", "keras"), install_hint="pip install keras jax", default=False,
    description="variant: Keras 3 on the JAX engine (KERAS_BACKEND=jax)", worker_env={"KERAS_BACKEND": "jax"},
)


@hookimpl
def bench_register_backends(register):
    """Register Keras 3 on TensorFlow (the article's model), with XLA, and on the JAX and torch engines."""
    register(KERAS)
    register(replace(
        KERAS, name="keras-xla", options={"jit_compile": True}, default=False,
        description="variant: keras on TensorFlow with XLA (jit_compile=True)",
    ))
    register(KERAS_ON_JAX)
    register(replace(
        KERAS_ON_JAX, name="keras-jax-fp32",
        description="variant: Keras on JAX with float32 matmul precision 'highest' (no TF32 on GPU)",
        worker_env={"KERAS_BACKEND": "jax", "JAX_DEFAULT_MATMUL_PRECISION": "highest"},
    ))
    register(replace(
        KERAS, name="keras-torch", requires=("torch", "keras"), install_hint="pip install keras 'lstm-bench[torch]'",
        description="variant: Keras 3 on the PyTorch engine (KERAS_BACKEND=torch)", worker_env={"KERAS_BACKEND": "torch"},
        default=False,
    ))
