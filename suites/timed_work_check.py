"""Suite ``timed-work``: the prepared closures the timing suites time do the verified work (no timing).

For the ``train`` and ``infer`` closures (`ClassifierModel.prepare_train_step`, `prepare_inference`) this
runs exactly the verification a timing cell runs before and after sampling (`suites.timed_work`): three
steps from the canonical weights, on two rotated batches, must each land where the reference's Adam steps
do; every rotated batch's answer must be the reference's and follow changes of the weights. So
``bench check`` alone catches a backend whose timed work is not the work the other checks verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.contract import Backend, UnsupportedCapability
from harness.model_spec import ModelSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, UNSUPPORTED, Record
from harness.suite import NotRun, Suite, SuiteOptions
from suites.reference_checks import outcomes_table, reasons_table
from suites.timed_work import (
    InferenceWork,
    TimedWorkMismatch,
    TrainWork,
    expected_predictions,
    expected_train_changes,
    inference_batches,
)

CLOSURES = ("train", "infer")


@dataclass
class ClosureFindings:
    """Per closure: the verification's `Verified` as JSON, the mismatch found, or why it is unsupported."""

    verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    mismatches: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)


class TimedWorkSuite(Suite):
    """The timing suites' closures, verified as a timing cell verifies them, without timing."""

    name = "timed-work"
    run_order = 45
    description = "the closures the timing suites time do the verified work: train steps land on the " \
                  "reference's Adam steps, inference answers each batch, nothing cached"
    per_device = True

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> ClosureFindings | NotRun:
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        device, findings = options.device, ClosureFindings()
        batches = inference_batches(spec)
        preparations = {
            "train": lambda model: TrainWork(model, spec, device, expected_train_changes(spec)),
            "infer": lambda model: InferenceWork(model, spec, device, batches, expected_predictions(spec, batches)),
        }
        for closure, prepare in preparations.items():
            try:
                work = prepare(backend.build(spec, device))
                work.after_first_step(work.step())
                work.step()
                work.after_sampling()
            except UnsupportedCapability as reason:
                findings.unsupported[closure] = str(reason)
            except TimedWorkMismatch as mismatch:
                findings.mismatches[closure] = str(mismatch)
            else:
                findings.verified[closure] = work.verified.to_json() if work.verified else {}
        return findings

    def judge(self, spec: ModelSpec, backend_name: str, measurement: ClosureFindings | NotRun, options: SuiteOptions) -> Record:
        not_run = self.not_run(spec, backend_name, measurement, options)
        if not_run:
            return not_run
        outcomes = {
            **{closure: {"status": PASS, **verified} for closure, verified in measurement.verified.items()},
            **{closure: {"status": FAIL, "reason": reason} for closure, reason in measurement.mismatches.items()},
            **{closure: {"status": UNSUPPORTED, "reason": reason} for closure, reason in measurement.unsupported.items()},
        }
        details = {**self.record_details(options),
                   "closures": {closure: outcomes[closure] for closure in CLOSURES if closure in outcomes}}
        if measurement.mismatches:
            return Record(self.name, backend_name, FAIL, spec.to_dict(),
                          f"{backend_name}: " + "; ".join(measurement.mismatches.values()), details)
        if not measurement.verified:
            return Record(self.name, backend_name, UNSUPPORTED, spec.to_dict(),
                          f"{backend_name}: " + "; ".join(measurement.unsupported.values()), details)
        return Record(self.name, backend_name, PASS, spec.to_dict(), "", details)

    def tables(self, records: list[Record]) -> list[Table]:
        return [outcomes_table("timed-work: the timing suites' closures vs the reference", "closure", records, "closures"),
                *reasons_table(records)]


@hookimpl
def bench_register_suites(register):
    """Register the ``timed-work`` suite."""
    register(TimedWorkSuite())
