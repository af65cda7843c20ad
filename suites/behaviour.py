"""Suite ``behaviour``: the contract's behaviours across calls, not only the answer of one call.

A backend can give the right answer once and still mislead every suite that calls it twice. Per device,
from the canonical weights:

- ``loss_and_gradients`` called twice on one batch gives the same loss and gradients (no gradient left
  to accumulate from the first call);
- ``forward`` on two different batches gives each batch its own answer, and the first batch again
  gives the first answer (nothing cached between calls);
- ``set_weights`` copies: changing the caller's arrays afterwards changes nothing in the model, and
  neither does changing the arrays ``get_weights`` returned;
- two models built in one process are independent: loading other weights into, or training, the second
  leaves the first's predictions where they were;
- the summary's parameter counts are the exported weights' sizes (embedding, lstm, dense, total).

Every check compares the backend with itself (a fresh model's answer, its own answer before), never with
the reference, so a wrong forward pass fails the gradients suite and only a wrong behaviour fails here.
Each check's worst relative error is judged against the gradients suite's tolerances (`harness.tolerances`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.canonical import keras_default_weights, sample_batch
from harness.contract import Backend, UnsupportedCapability, layer_weight_names, weight_names
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, Record
from harness.suite import NotRun, Suite, SuiteOptions
from harness.tolerances import GRADIENT_TOLERANCE, OUTPUT_TOLERANCE, TensorError, margin, tensor_error
from suites.reference_checks import outcomes_table, reasons_table

PERTURBATION = 0.5
"""Added to every element of the arrays a check changes behind the model's back."""
CHECKS = ("repeated gradients", "distinct batches", "set_weights copies", "get_weights copies",
          "independent models", "summary counts")


@dataclass
class BehaviourFindings:
    """The worker's measurement: per check, its errors (tensor -> error) or a sentence saying what broke."""

    errors: dict[str, dict[str, TensorError]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)


class BehaviourSuite(Suite):
    """Repeated calls, copies and independence of a backend's models (see the module docstring)."""

    name = "behaviour"
    run_order = 35
    description = "repeated calls give the same answers, set_weights/get_weights copy, two models are independent, " \
                  "summary counts match the weights"
    per_device = True

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> BehaviourFindings | NotRun:
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        device, findings = options.device, BehaviourFindings()
        weights = keras_default_weights(spec)
        (token_ids, labels), (other_ids, _) = sample_batch(spec, 0), sample_batch(spec, 1)

        model = backend.build(spec, device)
        model.set_weights(weights)
        try:
            first_loss, first = model.loss_and_gradients(token_ids, labels)
            second_loss, second = model.loss_and_gradients(token_ids, labels)
            findings.errors["repeated gradients"] = {
                "loss": tensor_error(second_loss, first_loss),
                **{f"grad {name}": tensor_error(second.get(name), first[name]) for name in weight_names(spec)},
            }
        except UnsupportedCapability as reason:
            findings.unsupported["repeated gradients"] = str(reason)

        caller = {name: np.array(value, copy=True) for name, value in weights.items()}
        copied = backend.build(spec, device)
        copied.set_weights(caller)
        alone = copied.forward(other_ids).predictions  # a fresh model's answer to batch 1, before anything else
        answers = [model.forward(batch).predictions for batch in (token_ids, other_ids, token_ids)]
        findings.errors["distinct batches"] = {
            "predictions of batch 1 after batch 0": tensor_error(answers[1], alone),
            "predictions of batch 0 again": tensor_error(answers[2], answers[0]),
        }

        loaded = {name: np.array(value, copy=True) for name, value in copied.get_weights().items()}
        before = copied.forward(token_ids).predictions
        for value in caller.values():
            value += PERTURBATION
        findings.errors["set_weights copies"] = {
            **{name: tensor_error(value, loaded[name]) for name, value in copied.get_weights().items() if name in loaded},
            "predictions": tensor_error(copied.forward(token_ids).predictions, before),
        }
        for value in copied.get_weights().values():
            if isinstance(value, np.ndarray) and value.flags.writeable:
                value += PERTURBATION
        findings.errors["get_weights copies"] = {
            "predictions after changing get_weights' arrays": tensor_error(copied.forward(token_ids).predictions, before)}

        first_answer = model.forward(token_ids).predictions
        second_model = backend.build(spec, device)
        second_model.set_weights({name: value + PERTURBATION if name == "dense.bias" else value
                                  for name, value in weights.items()})
        independence = {"first model, after loading the second":
                        tensor_error(model.forward(token_ids).predictions, first_answer)}
        try:
            for _ in range(2):
                second_model.train_step(token_ids, labels, OptimizerSpec("sgd", learning_rate=0.5))
            independence["first model, after training the second"] = tensor_error(
                model.forward(token_ids).predictions, first_answer)
        except UnsupportedCapability:
            pass
        findings.errors["independent models"] = independence

        summary = {row.name: row.params for row in model.summary()}
        exported = model.get_weights()
        sizes = {layer: sum(int(np.size(exported[name])) for name in names) for layer, names in layer_weight_names(spec).items()}
        differing = [f"{layer}: summary {summary.get(layer, 0):,} vs weights {size:,}" for layer, size in sizes.items()
                     if summary.get(layer, 0) != size]
        total = sum(summary.values())
        if total != sum(sizes.values()):
            differing.append(f"total: summary {total:,} vs weights {sum(sizes.values()):,}")
        if differing:
            findings.broken["summary counts"] = "the summary's parameter counts are not the exported weights' sizes (" \
                                                + "; ".join(differing) + ")"
        return findings

    def judge(self, spec: ModelSpec, backend_name: str, measurement: BehaviourFindings | NotRun, options: SuiteOptions) -> Record:
        not_run = self.not_run(spec, backend_name, measurement, options)
        if not_run:
            return not_run
        problems, checks = [], {}
        for check in CHECKS:
            if check in measurement.unsupported:
                checks[check] = {"status": "unsupported", "reason": measurement.unsupported[check]}
                continue
            if check in measurement.broken:
                problems.append(f"{check}: {measurement.broken[check]}")
                checks[check] = {"status": FAIL, "reason": measurement.broken[check]}
                continue
            errors = measurement.errors.get(check)
            if errors is None:
                checks[check] = {"status": PASS}
                continue
            judged = {name: error.to_json(_tolerance(name)) for name, error in errors.items()}
            worst = max(judged, key=lambda name: judged[name]["max_rel_error"] / _tolerance(name).rtol)
            failing = [name for name, error in judged.items() if not error["passed"]]
            checks[check] = {"status": FAIL if failing else PASS, "worst": worst,
                             "rel_error": judged[worst]["max_rel_error"], "rtol": _tolerance(worst).rtol,
                             "margin": margin(judged[worst]["max_rel_error"], _tolerance(worst).rtol), "errors": judged}
            if failing:
                problems.append(f"{check}: {_explain(check, failing[0], judged[failing[0]])}")
        message = f"{backend_name}: " + "; ".join(problems) if problems else ""
        details = {**self.record_details(options), "checks": checks}
        return Record(self.name, backend_name, FAIL if problems else PASS, spec.to_dict(), message, details)

    def tables(self, records: list[Record]) -> list[Table]:
        return [outcomes_table("behaviour: repeated calls, copies, independence, counts", "check", records, "checks"),
                *reasons_table(records)]


def _tolerance(name: str):
    return GRADIENT_TOLERANCE if name.startswith("grad ") else OUTPUT_TOLERANCE


def _explain(check: str, tensor: str, error: dict[str, Any]) -> str:
    """One phrase naming what differs, e.g. ``grad lstm.kernel differs between two calls (rel error 1.0e+00)``."""
    what = {
        "repeated gradients": f"{tensor} differs between two calls on one batch (stale accumulation?)",
        "distinct batches": f"{tensor} is not the answer the backend gives that batch alone (a cached or reused result?)",
        "set_weights copies": f"{tensor} changed when the caller changed its arrays after set_weights (aliased, not copied)",
        "get_weights copies": "the model's predictions changed when get_weights' arrays were changed (aliased, not copied)",
        "independent models": f"{tensor}: the models share state",
    }[check]
    return f"{what} (rel error {error['max_rel_error']:.1e} > rtol {error['rtol']:g})"


@hookimpl
def bench_register_suites(register):
    """Register the ``behaviour`` suite."""
    register(BehaviourSuite())
