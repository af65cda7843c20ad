"""Suite ``train``: time one full optimizer step (forward, loss, backward, Adam update) per cell, verified
against the reference's step first (`suites.timed_work`)."""

from __future__ import annotations

from harness.measurement.flops import training_step_flops
from harness.plugins.hookspecs import hookimpl
from suites.timed_work import TIMING_OPTIMIZER, TrainWork, expected_train_changes, verified_train_steps
from suites.timing_suite import TimedSuite

__all__ = ["TIMING_OPTIMIZER", "TrainSuite"]


class TrainSuite(TimedSuite):
    """Training throughput: forward, binary cross-entropy, backward and an Adam update."""

    name = "train"
    run_order = 50
    description = "time one training step (forward, loss, backward, Adam update) across hidden sizes"
    step_noun = "training step: forward, loss, backward, Adam update"

    def expected(self, spec):
        return expected_train_changes(spec, verified_train_steps(spec))

    def prepare(self, model, spec, device, expected):
        return TrainWork(model, spec, device, expected)

    def flops(self, spec):
        return training_step_flops(spec)


@hookimpl
def bench_register_suites(register):
    """Register the ``train`` suite."""
    register(TrainSuite())
