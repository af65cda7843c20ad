"""Suite ``train``: time one full optimizer step (forward, loss, backward, Adam update) per cell."""

from __future__ import annotations

from harness.measurement.flops import training_step_flops
from harness.optimizers import OptimizerSpec
from harness.plugins.hookspecs import hookimpl
from suites.timing_suite import TimedSuite

TIMING_OPTIMIZER = OptimizerSpec("adam", learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
"""Keras' defaults, the article's ``optimizer='adam'``."""


class TrainSuite(TimedSuite):
    """Training throughput: forward, binary cross-entropy, backward and an Adam update."""

    name = "train"
    run_order = 50
    description = "time one training step (forward, loss, backward, Adam update) across hidden sizes"
    step_noun = "training step: forward, loss, backward, Adam update"

    def prepare(self, model, token_ids, labels):
        return model.prepare_train_step(token_ids, labels, TIMING_OPTIMIZER)

    def flops(self, spec):
        return training_step_flops(spec)


@hookimpl
def bench_register_suites(register):
    """Register the ``train`` suite."""
    register(TrainSuite())
