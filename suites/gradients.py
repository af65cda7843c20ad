"""Suite ``gradients``: identical weights and batch in, identical outputs, loss and gradients out.

Every backend is loaded with the canonical initial weights (`harness.canonical.keras_default_weights`)
and given the same batch; its LSTM output, final states, predictions, mean binary cross-entropy and
the gradient of every canonical weight are compared with the NumPy reference in float64 (itself checked
against finite differences in the tests). Tolerances are documented in `harness.tolerances`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.canonical import sample_batch
from harness.cell import Cell
from harness.contract import FORWARD_OUTPUTS, Backend, UnsupportedCapability, weight_names
from harness.model_spec import ModelSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, UNSUPPORTED, Record
from harness.suite import NotRun, Suite, SuiteOptions
from harness.tolerances import (
    GRADIENT_TOLERANCE,
    LOSS_TOLERANCE,
    OUTPUT_TOLERANCE,
    TensorError,
    tensor_error,
)
from suites.fault_location import isolate_fault, where_outputs_differ
from suites.reference_checks import (
    describe_failure,
    loaded_model,
    reasons_table,
    reference_model,
)


def tensors(spec: ModelSpec) -> tuple[str, ...]:
    """What the suite compares for ``spec``: the forward outputs, the loss and every weight's gradient."""
    return (*FORWARD_OUTPUTS, "loss", *(f"grad {name}" for name in weight_names(spec)))


TENSORS = tensors(ModelSpec())
"""The article's model's tensors (`tensors` gives any spec's)."""


def tolerance_of(tensor: str):
    """The documented tolerance for a tensor of this suite."""
    if tensor == "loss":
        return LOSS_TOLERANCE
    return GRADIENT_TOLERANCE if tensor.startswith("grad ") else OUTPUT_TOLERANCE


@dataclass
class GradientErrors:
    """The worker's measurement: each tensor's error against the reference; ``unsupported`` says why the
    backend computed no gradients (the forward outputs are still compared)."""

    errors: dict[str, TensorError]
    unsupported: str | None = None
    locations: dict[str, str] = field(default_factory=dict)
    isolated: str = ""

    @property
    def conforms(self) -> bool:
        return all(tolerance_of(name).allows(error) for name, error in self.errors.items())


class GradientsSuite(Suite):
    """One forward and one backward pass per backend, against the float64 reference."""

    name = "gradients"
    run_order = 30
    description = "outputs, states, loss and every gradient vs the NumPy float64 reference, per device"
    per_device = True

    def cells(self, spec: ModelSpec, options: SuiteOptions) -> list[Cell]:
        # States are compared too; they do not change the loss.
        return super().cells(spec.replace(return_state=True), options)

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> GradientErrors | NotRun:
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        measured = self.compare(backend, spec, options.device)
        if not measured.conforms and measured.unsupported is None:
            measured.isolated = isolate_fault(lambda simpler: self.compare(backend, simpler, options.device).conforms,
                                              spec)
        return measured

    def compare(self, backend: Backend, spec: ModelSpec, device: str) -> GradientErrors:
        """Every tensor of ``backend``'s model for ``spec`` against the float64 reference."""
        token_ids, labels = sample_batch(spec)
        model, reference = loaded_model(backend, spec, device), reference_model(spec)
        actual, expected = model.forward(token_ids), reference.forward(token_ids)
        errors = {name: tensor_error(getattr(actual, name), getattr(expected, name)) for name in FORWARD_OUTPUTS}
        locations = {name: where_outputs_differ(getattr(actual, name), getattr(expected, name), spec, token_ids)
                     for name in ("lstm_output", "state_h", "state_c")
                     if getattr(actual, name) is not None and getattr(expected, name) is not None}
        try:
            loss, gradients = model.loss_and_gradients(token_ids, labels)
        except UnsupportedCapability as reason:
            return GradientErrors(errors, unsupported=str(reason), locations=locations)
        reference_loss, reference_gradients = reference.loss_and_gradients(token_ids, labels)
        errors["loss"] = tensor_error(loss, reference_loss)
        for name in weight_names(spec):
            errors[f"grad {name}"] = tensor_error(gradients.get(name), reference_gradients[name])
        return GradientErrors(errors, locations=locations)

    def judge(self, spec: ModelSpec, backend_name: str, measurement: GradientErrors | NotRun, options: SuiteOptions) -> Record:
        skipped = self.not_run(spec, backend_name, measurement, options)
        if skipped:
            return skipped
        errors = measurement.errors
        problems = [describe_failure(name, error, tolerance_of(name)) + (
                        f" ({measurement.locations[name]})" if measurement.locations.get(name) else "")
                    for name, error in errors.items() if not tolerance_of(name).allows(error)]
        if problems and measurement.isolated:
            problems.insert(0, measurement.isolated)
        details = {**self.record_details(options),
                   "errors": {name: error.to_json(tolerance_of(name)) for name, error in errors.items()}}
        if measurement.unsupported and not problems:
            return Record(self.name, backend_name, UNSUPPORTED, spec.to_dict(), f"{backend_name}: {measurement.unsupported}", details)
        message = f"{backend_name}: " + "; ".join(problems) if problems else ""
        return Record(self.name, backend_name, FAIL if problems else PASS, spec.to_dict(), message, details)

    def tables(self, records: list[Record]) -> list[Table]:
        tables = []
        def group_of(record: Record) -> str:
            return f"{ModelSpec(**record.spec).label()}, {record.details.get('device', 'cpu')}"

        for label in dict.fromkeys(group_of(record) for record in records):
            group = [record for record in records if group_of(record) == label]
            rows = []
            for tensor in dict.fromkeys(name for record in group for name in tensors(ModelSpec.from_saved(record.spec))):
                cells = []
                for record in group:
                    error = record.details.get("errors", {}).get(tensor)
                    cells.append("-" if error is None else f"{error['max_rel_error']:.1e}" + ("" if error["passed"] else " FAIL"))
                rows.append((tensor, f"{tolerance_of(tensor).rtol:g}", *cells))
            rows.append(("status", "", *(record.status for record in group)))
            tables.append(Table(
                title=f"gradients: max relative error vs NumPy float64 reference ({label})",
                headers=("tensor", "rtol", *(record.backend for record in group)),
                rows=tuple(rows),
                align=("left", "right", *("right" for _ in group)),
            ))
            tables.extend(reasons_table(group))
        return tables


@hookimpl
def bench_register_suites(register):
    """Register the ``gradients`` suite."""
    register(GradientsSuite())
