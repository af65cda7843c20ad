"""Suite ``training``: N optimizer steps from identical weights on identical batches, per step compared.

For SGD and for Adam (both in `TRAINING_OPTIMIZERS`, every hyper-parameter explicit), each backend and
the NumPy float64 reference start from the canonical initial weights and take ``--steps`` steps on the
same batches (`harness.canonical.sample_batch`). After every step the loss and each weight's change
since the start are compared; the first step and tensor outside `harness.tolerances.TRAINING_TOLERANCE`
is where the trajectories part.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.canonical import keras_default_weights, sample_batch
from harness.contract import Backend, UnsupportedCapability, weight_names
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, Record
from harness.suite import NotRun, Suite, SuiteOptions
from harness.tolerances import LOSS_TOLERANCE, TRAINING_TOLERANCE, tensor_error
from suites.reference_checks import (
    describe_failure,
    loaded_model,
    reasons_table,
    reference_model,
)

TRAINING_OPTIMIZERS = (
    OptimizerSpec("sgd", learning_rate=0.5),
    OptimizerSpec("adam", learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
)
"""Learning rates large enough that 20 steps move every weight measurably; Adam's betas and epsilon are
Keras' defaults."""


def tolerance_of(tensor: str):
    return LOSS_TOLERANCE if tensor == "loss" else TRAINING_TOLERANCE


def _worst_weight_error(errors: dict[str, Any]) -> dict[str, Any]:
    """The weight furthest from the reference after one step (its change since the start, normwise)."""
    name, error = max(((name, error) for name, error in errors.items() if name != "loss"),
                      key=lambda item: item[1].norm_rel_error)
    return {"tensor": name, "norm_rel_error": error.norm_rel_error, "criterion": "norm", "rtol": TRAINING_TOLERANCE.rtol}


class TrainingSuite(Suite):
    """Per-step loss and weight trajectories of SGD and Adam against the float64 reference."""

    name = "training"
    run_order = 40
    description = "SGD and Adam trajectories (loss and weights, step by step) vs the NumPy float64 reference, per device"
    per_device = True

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> dict[str, Any] | NotRun:
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        initial = {name: value.astype(np.float64) for name, value in keras_default_weights(spec).items()}
        runs = {}
        for optimizer in TRAINING_OPTIMIZERS:
            model, reference = loaded_model(backend, spec, options.device), reference_model(spec)
            steps = []
            for step in range(options.steps):
                token_ids, labels = sample_batch(spec, step)
                try:
                    loss = model.train_step(token_ids, labels, optimizer)
                except UnsupportedCapability as reason:
                    return NotRun.unsupported(str(reason))
                reference_loss = reference.train_step(token_ids, labels, optimizer)
                weights, reference_weights = model.get_weights(), reference.get_weights()
                errors = {"loss": tensor_error(loss, reference_loss)}
                for name in weight_names(spec):
                    errors[name] = tensor_error(
                        np.asarray(weights[name], np.float64) - initial[name], reference_weights[name] - initial[name]
                    )
                steps.append({"loss": float(loss), "reference_loss": float(reference_loss), "errors": errors})
            runs[optimizer.label()] = steps
        return {"runs": runs}

    def judge(self, spec: ModelSpec, backend_name: str, measurement: dict[str, Any], options: SuiteOptions) -> Record:
        not_run = self.not_run(spec, backend_name, measurement, options)
        if not_run:
            return not_run
        problems, runs = [], {}
        for label, steps in measurement["runs"].items():
            parted = _first_parting(steps)
            final = steps[-1]["errors"]
            runs[label] = {
                "losses": [step["loss"] for step in steps],
                "reference_losses": [step["reference_loss"] for step in steps],
                "max_loss_rel_error": max(step["errors"]["loss"].max_rel_error for step in steps),
                "worst_weight_errors": [_worst_weight_error(step["errors"]) for step in steps],
                "final_errors": {name: error.to_json(tolerance_of(name)) for name, error in final.items()},
                "parted_at": parted,
            }
            if parted:
                problems.append(f"{label} parts at step {parted['step']} in {parted['description']}")
        message = f"{backend_name}: " + "; ".join(problems) if problems else ""
        details = {**self.record_details(options), "steps": options.steps, "optimizers": runs}
        return Record(self.name, backend_name, FAIL if problems else PASS, spec.to_dict(), message, details)

    def tables(self, records: list[Record]) -> list[Table]:
        rows = []
        for record in records:
            for label, run in record.details.get("optimizers", {}).items():
                worst_name, worst = max(
                    ((name, error) for name, error in run["final_errors"].items() if name != "loss"),
                    key=lambda item: item[1]["norm_rel_error"],
                )
                parted = run["parted_at"]
                rows.append((
                    ModelSpec(**record.spec).label(),
                    f"{record.backend} ({record.details.get('device', 'cpu')})",
                    label,
                    f"{run['reference_losses'][0]:.4f} -> {run['reference_losses'][-1]:.4f}",
                    f"{run['max_loss_rel_error']:.1e}",
                    f"{worst['norm_rel_error']:.1e} ({worst_name})",
                    f"step {parted['step']}, {parted['tensor']}" if parted else "-",
                    record.status,
                ))
            if "optimizers" not in record.details:
                rows.append((ModelSpec(**record.spec).label(), f"{record.backend} ({record.details.get('device', 'cpu')})",
                             "-", "-", "-", "-", "-", record.status))
        steps = max((record.details.get("steps", 0) for record in records), default=0)
        table = Table(
            title=f"training: {steps} steps from identical weights vs NumPy float64 reference "
                  f"(weight errors relative to the reference's change; {TRAINING_TOLERANCE.describe()})",
            headers=("spec", "backend", "optimizer", "reference loss", "max loss rel err", "final weights norm rel err (worst)", "parts at", "status"),
            rows=tuple(rows),
            key_columns=3,
        )
        return [table, *reasons_table(records)]


def _first_parting(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first step (1-based) and tensor whose error is outside tolerance, or None."""
    for number, step in enumerate(steps, start=1):
        for name, error in step["errors"].items():
            tolerance = tolerance_of(name)
            if not tolerance.allows(error):
                return {"step": number, "tensor": name, "rel_error": tolerance.relative_error(error),
                        "max_abs_error": error.max_abs_error, "criterion": "norm" if tolerance.normwise else "max",
                        "rtol": tolerance.rtol, "description": describe_failure(name, error, tolerance)}
    return None


@hookimpl
def bench_register_suites(register):
    """Register the ``training`` suite."""
    register(TrainingSuite())
