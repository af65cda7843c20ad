"""lstm-bench-jax: the LSTM text classifier written natively in JAX, as an lstm-bench plugin."""
