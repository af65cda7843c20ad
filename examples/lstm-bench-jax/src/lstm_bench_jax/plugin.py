"""The plugin module lstm-bench loads through the ``lstm_bench`` entry point. It must stay light: it
declares the backend and names the class to import later, in the backend's own worker process."""

from harness.api import BackendInfo, hookimpl


@hookimpl
def bench_register_backends(register):
    """Register the ``jax`` backend."""
    register(BackendInfo(
        name="jax",
        implementation="lstm_bench_jax.backend:JaxBackend",
        framework="JAX",
        requires=("jax", "jaxlib"),
        install_hint="pip install jax",
        description="native JAX: jax.lax.scan over time, jax.grad, SGD/Adam in JAX (plugin lstm-bench-jax)",
    ))
