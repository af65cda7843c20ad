"""Declares the ``flax`` backend (no framework import here)."""

from harness.api import BackendInfo, hookimpl


@hookimpl
def bench_register_backends(register):
    """Register Flax NNX: ``nnx.RNN`` of ``OptimizedLSTMCell``, optax optimizers, jitted steps."""
    register(BackendInfo(
        name="flax",
        implementation="backends.flax_backend:FlaxBackend",
        framework="Flax",
        requires=("flax", "optax", "jax"),
        install_hint="pip install 'lstm-bench[flax]'",
        default=False,
        description="Flax NNX: nnx.RNN of OptimizedLSTMCell (its parameters are the canonical ones), optax, nnx.jit",
    ))
