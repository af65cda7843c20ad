"""What the gradients and training suites share: the reference model and the verdict for a set of errors."""

from __future__ import annotations

from backends.numpy_backend import NumpyBackend, NumpyClassifier
from harness.canonical import keras_default_weights
from harness.contract import ClassifierModel
from harness.model_spec import ModelSpec
from harness.rendering import Table
from harness.results.record import Record
from harness.tolerances import TensorError, Tolerance

REFERENCE_DTYPE = "float64"


def reference_model(spec: ModelSpec) -> NumpyClassifier:
    """The NumPy reference in float64, loaded with the canonical initial weights."""
    model = NumpyBackend(REFERENCE_DTYPE).build(spec)
    model.set_weights(keras_default_weights(spec))
    return model


def loaded_model(backend, spec: ModelSpec, device: str = "cpu") -> ClassifierModel:
    """``backend``'s model for ``spec`` on ``device``, loaded with the canonical initial weights."""
    model = backend.build(spec, device)
    model.set_weights(keras_default_weights(spec))
    return model


def failures(errors: dict[str, TensorError], tolerance_of) -> list[str]:
    """One phrase per tensor outside its tolerance, e.g. ``grad lstm.kernel rel error 1.0e-03 > rtol 1e-04``."""
    return [
        describe_failure(name, error, tolerance_of(name))
        for name, error in errors.items()
        if not tolerance_of(name).allows(error)
    ]


def describe_failure(name: str, error: TensorError, tolerance: Tolerance) -> str:
    """``grad lstm.kernel rel error 1.0e-03 > rtol 1e-04 (max abs 2.0e-06)``."""
    return (
        f"{name} rel error {tolerance.relative_error(error):.1e} > {tolerance.describe()} "
        f"(max abs {error.max_abs_error:.1e})"
    )


def outcomes_table(title: str, part: str, records: list[Record], details_key: str) -> Table:
    """One row per record and part of it (a behaviour check, a timed closure) from ``details[details_key]``,
    each part ``{"status", "worst", "rel_error", "margin"}`` or ``{"status", "reason"}``: spec, backend
    and device, the part, its worst error (or why there is none), the margin to the tolerance, the status."""
    rows = []
    for record in records:
        for name, outcome in record.details.get(details_key, {}).items():
            worst = f"{outcome['rel_error']:.1e} ({outcome['worst']})" if "rel_error" in outcome else outcome.get("reason", "-")
            found = outcome.get("margin")
            rows.append((ModelSpec(**record.spec).label(), f"{record.backend} ({record.details.get('device', 'cpu')})",
                         name, worst, "-" if found is None else f"{found:,.0f}x", outcome["status"]))
    return Table(f"{title} (worst relative error; margin = tolerance / error)",
                 ("spec", "backend", part, "worst error", "margin", "status"), tuple(rows), key_columns=2)


def reasons_table(records: list[Record]) -> list[Table]:
    """A table of each record that carries a message (why it failed, errored or is unsupported), if any."""
    notes = tuple((record.backend, f"{record.status}: {record.message}") for record in records if record.message)
    return [Table("why", ("backend", "reason"), notes)] if notes else []
