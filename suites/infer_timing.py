"""Suite ``infer``: time one forward pass without gradients per cell."""

from __future__ import annotations

from harness.measurement.flops import forward_flops
from harness.plugins.hookspecs import hookimpl
from suites.timing_suite import TimedSuite


class InferSuite(TimedSuite):
    """Inference throughput: predictions for a batch, no gradients."""

    name = "infer"
    run_order = 60
    description = "time one inference pass (forward only, no gradients) across hidden sizes"
    step_noun = "inference pass, no gradients"

    def prepare(self, model, token_ids, labels):
        return model.prepare_inference(token_ids)

    def flops(self, spec):
        return forward_flops(spec)


@hookimpl
def bench_register_suites(register):
    """Register the ``infer`` suite."""
    register(InferSuite())
