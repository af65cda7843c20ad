# Sourced by the GPU scripts: run lstm-bench from a source checkout without installing it (the GPU machine
# has torch and jax but not this package): every built-in plugin named through LSTM_BENCH_PLUGINS instead
# of entry points, and the checkout on PYTHONPATH.
export LSTM_BENCH_PLUGINS=backends.numpy_plugin,backends.torch_plugin,backends.keras_plugin,suites.params,suites.shapes,suites.gradients,suites.behaviour,suites.training_trajectory,suites.timed_work_check,suites.train_timing,suites.infer_timing,harness.addons.memory,harness.addons.machine_load
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
