"""Suite ``shapes``: output shapes for all four return_sequences x return_state combinations, of the
spec's own stacking and direction and of a stacked bidirectional one.

The contract: LSTM output ``(B, T, D*H)`` with return_sequences else ``(B, D*H)`` (D = 2 when
bidirectional); with return_state also ``h`` and ``c``, each ``(B, D*H)``; predictions ``(B, 1)``,
finite and within [0, 1]. Each layer's summary shapes must match Keras' too (``lstm_1``... when stacked).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from harness.canonical import sample_token_ids
from harness.cell import Cell
from harness.contract import FORWARD_OUTPUTS, Backend, expected_layer_output_shapes
from harness.model_spec import ModelSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, Record
from harness.shapes_text import shape_text, shapes_text
from harness.suite import Suite, SuiteOptions


def expected_output_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...] | None]:
    """The forward outputs' shapes for ``spec``; None where the output must be absent."""
    b, t, h = spec.batch_size, spec.seq_len, spec.lstm_width
    state = (b, h) if spec.return_state else None
    return {
        "lstm_output": (b, t, h) if spec.return_sequences else (b, h),
        "state_h": state,
        "state_c": state,
        "predictions": (b, 1),
    }


class ShapesSuite(Suite):
    """Runs a forward pass for each combination and checks every output's shape."""

    name = "shapes"
    run_order = 20
    description = "output shapes for return_sequences x return_state, as given and stacked bidirectional"

    def cells(self, spec: ModelSpec, options: SuiteOptions) -> list[Cell]:
        """One cell per return_sequences x return_state combination of ``spec``, and of ``spec`` stacked
        (two layers or more) and bidirectional."""
        cells = []
        structures = dict.fromkeys([(spec.layers, spec.bidirectional), (max(spec.layers, 2), True)])
        for (layers, bidirectional), (sequences, state) in itertools.product(structures, itertools.product((True, False), repeat=2)):
            cells += super().cells(spec.replace(return_sequences=sequences, return_state=state, layers=layers,
                                                bidirectional=bidirectional), options)
        return cells

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> dict[str, Any]:
        model = backend.build(spec)
        output = model.forward(sample_token_ids(spec))
        arrays = {name: getattr(output, name) for name in FORWARD_OUTPUTS}
        predictions = np.asarray(output.predictions)
        return {
            "outputs": {name: None if value is None else tuple(np.shape(value)) for name, value in arrays.items()},
            "layers": {row.name: row.output_shapes for row in model.summary()},
            "predictions_finite": bool(np.all(np.isfinite(predictions))),
            "predictions_range": (float(predictions.min()), float(predictions.max())),
        }

    def judge(self, spec: ModelSpec, backend_name: str, measurement: dict[str, Any], options: SuiteOptions) -> Record:
        problems = []
        expected = expected_output_shapes(spec)
        for name in FORWARD_OUTPUTS:
            actual = measurement["outputs"][name]
            if actual != expected[name]:
                problems.append(f"{name} is {_describe(actual)}, expected {_describe(expected[name])}")
        expected_layers = expected_layer_output_shapes(spec)
        layers = {name: tuple(tuple(shape) for shape in shapes) for name, shapes in measurement["layers"].items()}
        if layers != expected_layers:
            for name in sorted(set(layers) | set(expected_layers)):
                if layers.get(name) != expected_layers.get(name):
                    problems.append(_layer_problem(name, layers.get(name), expected_layers.get(name)))
        low, high = measurement["predictions_range"]
        if not measurement["predictions_finite"] or low < 0.0 or high > 1.0:
            problems.append(f"predictions span [{low}, {high}], expected finite values in [0, 1]")
        return Record(
            suite=self.name,
            backend=backend_name,
            status=FAIL if problems else PASS,
            spec=spec.to_dict(),
            message=f"{backend_name}: " + "; ".join(problems) if problems else "",
            details={
                "outputs": {name: None if shape is None else list(shape) for name, shape in measurement["outputs"].items()},
                "expected_outputs": {name: None if shape is None else list(shape) for name, shape in expected.items()},
                "layer_output_shapes": {name: shapes_text(shapes) for name, shapes in layers.items()},
            },
        )

    def tables(self, records: list[Record]) -> list[Table]:
        rows = []
        for record in records:
            outputs = record.details.get("outputs", {})
            rows.append((
                ModelSpec.from_saved(record.spec).label(),
                record.backend,
                *(_describe(outputs.get(name)) if outputs else "-" for name in FORWARD_OUTPUTS),
                record.status if not record.message else f"{record.status}: {record.message}",
            ))
        return [Table(
            title="shapes: forward outputs (B = batch, T = seq_len, H = hidden, x2 bidirectional; seq/last = "
                  "return_sequences, +state = return_state, +bi = bidirectional)",
            headers=("spec", "backend", *FORWARD_OUTPUTS, "status"),
            rows=tuple(rows),
            key_columns=2,
        )]


def _describe(shape) -> str:
    return "absent" if shape is None else shape_text(shape)


def _layer_problem(name: str, actual, expected) -> str:
    """What is wrong with one layer's row: an extra layer, a missing one, or other output shapes."""
    if expected is None:
        why = " (without return_sequences the LSTM's (B, H) feeds the dense head directly)" if name == "flatten" else ""
        return f"layer {name} outputs {shapes_text(actual)}, but this model has no {name} layer{why}: remove the extra row"
    if actual is None:
        return f"layer {name} is missing from the summary, expected outputs {shapes_text(expected)}"
    return f"layer {name} outputs {shapes_text(actual)}, expected {shapes_text(expected)}"


@hookimpl
def bench_register_suites(register):
    """Register the ``shapes`` suite."""
    register(ShapesSuite())
