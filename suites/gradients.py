"""Suite ``gradients``: identical weights and batch in, identical outputs, loss and gradients out.

Every backend is loaded with the canonical initial weights (`harness.canonical.keras_default_weights`)
and given the same batch; its LSTM output, final states, predictions, mean binary cross-entropy and
the gradient of every canonical weight are compared with the NumPy reference in float64 (itself checked
against finite differences in the tests). Tolerances are documented in `harness.tolerances`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.canonical import sample_batch
from harness.cell import Cell
from harness.contract import DIRECTIONS, FORWARD_OUTPUTS, Backend, UnsupportedCapability, weight_names
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


def isolate_fault(compare, spec: ModelSpec) -> str:
    """For a stacked, bidirectional or padded spec that fails: which of its options the fault lives in,
    found by checking the same model with one option simplified (``compare(simpler_spec)`` returns
    `GradientErrors`), e.g. ``isolated: 1 layer conforms, 2 fail (the fault is in layer 2, lstm_1, or
    how it reads layer 1); unidirectional conforms (the backward direction, or how the directions are
    combined)``; empty when no simplification conforms or there is none to try."""
    found = []
    if spec.layers > 1:
        conforming = [layers for layers in range(1, spec.layers) if compare(spec.replace(layers=layers)).conforms]
        failing_from = next((layers for layers in range(1, spec.layers) if layers not in conforming), spec.layers)
        if conforming and failing_from > 1:
            found.append(f"with {failing_from - 1} layer{'s' if failing_from > 2 else ''} it conforms, with "
                         f"{failing_from} it fails (the fault is in layer {failing_from}, lstm_{failing_from - 1}, or in "
                         f"how it reads layer {failing_from - 1})")
    if spec.bidirectional and compare(spec.replace(bidirectional=False)).conforms:
        found.append("unidirectional conforms (the fault is in the backward direction, or in how the two "
                     "directions are combined)")
    if spec.padded and compare(spec.replace(padding="none", min_length=1)).conforms:
        found.append("without padding it conforms (the fault is in how padded steps are handled)")
    return "isolated: " + "; ".join(found) if found else ""


LOCATED_SHARE = 0.1
"""A part (a direction's half, the padded or the real steps) is named where a forward output differs when
its worst difference is at least this share of the whole tensor's."""


def where_outputs_differ(actual, expected, spec: ModelSpec, token_ids: np.ndarray) -> str:
    """Where an LSTM output differs from the reference, for a failure message: the two classic mistakes
    by name (directions concatenated in the other order; padded steps repeating the last real output),
    else which direction's half (bidirectional) and, for the output sequence of a padded spec, at padded
    or real steps, e.g. ``at padded steps only, in the backward half``; empty when the shapes differ or
    nothing stands out."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape or actual.size == 0:
        return ""
    difference = np.abs(actual - expected)
    worst = float(difference.max())
    if not worst > 0:
        return ""
    scale = max(float(np.abs(expected).max()), 1e-30)
    if spec.bidirectional:
        forward, backward = np.split(expected, 2, axis=-1)
        if np.abs(actual - np.concatenate([backward, forward], axis=-1)).max() <= LOCATED_SHARE * 1e-2 * scale:
            return "its halves are the reference's in the other order: [backward | forward] instead of [forward | backward]"
    if difference.ndim == 3 and spec.padded:
        real = token_ids != 0
        last_real = spec.seq_len - 1 - real[:, ::-1].argmax(axis=1)
        repeated = np.take_along_axis(expected, last_real[:, None, None], axis=1)
        after = np.arange(spec.seq_len)[None, :] > last_real[:, None]
        if after.any() and np.abs(actual - expected)[~after].max() <= LOCATED_SHARE * 1e-2 * scale \
                and np.allclose(actual[after], np.broadcast_to(repeated, actual.shape)[after], rtol=1e-3, atol=1e-6 * scale):
            return "the steps after each example's last real token repeat its last real output (expected 0 at padded steps)"
    parts = []
    if difference.ndim == 3 and spec.padded:
        at = [where for where, mask in (("padded", ~real), ("real", real))
              if mask.any() and difference[mask].max() >= LOCATED_SHARE * worst]
        parts.append(f"at {' and '.join(at)} steps" + (" only" if len(at) == 1 else ""))
    if spec.bidirectional:
        halves = np.split(difference, 2, axis=-1)
        found = [direction for direction, half in zip(DIRECTIONS, halves) if half.max() >= LOCATED_SHARE * worst]
        parts.append(f"in the {found[0]} half" if len(found) == 1 else "in both directions' halves")
    return ", ".join(parts)


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
        if isinstance(measured, GradientErrors) and not measured.conforms and measured.unsupported is None:
            measured.isolated = isolate_fault(lambda simpler: self.compare(backend, simpler, options.device), spec)
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
