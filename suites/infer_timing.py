"""Suite ``infer``: time one forward pass without gradients per cell, rotating through distinct batches whose
answers are verified against the reference (`suites.timed_work`)."""

from __future__ import annotations

from harness.measurement.flops import forward_flops
from harness.plugins.hookspecs import hookimpl
from suites.timed_work import InferenceWork, expected_predictions, inference_batches
from suites.timing_suite import TimedSuite


class InferSuite(TimedSuite):
    """Inference throughput: predictions for a batch, no gradients."""

    name = "infer"
    run_order = 60
    description = "time one inference pass (forward only, no gradients) across hidden sizes"
    step_noun = "inference pass, no gradients"

    def expected(self, spec):
        return expected_predictions(spec, inference_batches(spec))

    def prepare(self, model, spec, device, expected):
        return InferenceWork(model, spec, device, inference_batches(spec), expected)

    def flops(self, spec):
        return forward_flops(spec)


@hookimpl
def bench_register_suites(register):
    """Register the ``infer`` suite."""
    register(InferSuite())
