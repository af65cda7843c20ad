"""Suite ``params``: every backend's per-layer parameter counts against the analytic formula.

``total = V*E + 4*(E*H + H*H + H) + (F + 1)`` with ``F = T*H`` (return_sequences) or ``H``; the article's
model has 250,000 + 108 + 7 = 250,115. Stacked and bidirectional models count each LSTM layer as
``D*4*(in*H + H*H + H)``, ``in`` = E for the first layer and ``D*H`` above it, with ``F = T*D*H`` or
``D*H`` (`harness.contract.layer_param_formulas`). Every parameter must be trainable.
"""

from __future__ import annotations

from harness.contract import (
    Backend,
    LayerSummary,
    expected_layer_output_shapes,
    expected_layer_params,
    layer_param_formulas,
    total_param_formula,
)
from harness.model_spec import ModelSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, Record
from harness.shapes_text import count_text, shapes_text
from harness.suite import Suite, SuiteOptions


class ParamsSuite(Suite):
    """Keras-style summary per backend, and a cross-backend check against the analytic counts."""

    name = "params"
    run_order = 10
    description = "per-layer parameter counts vs the analytic formula (Keras-style summary)"

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> list[LayerSummary]:
        return backend.build(spec).summary()

    def judge(self, spec: ModelSpec, backend_name: str, measurement: list[LayerSummary], options: SuiteOptions) -> Record:
        expected_params = expected_layer_params(spec)
        expected_names = list(expected_layer_output_shapes(spec))
        problems = []
        names = [row.name for row in measurement]
        if names != expected_names:
            problems.append(f"layers are {names}, expected {expected_names}")
        for row in measurement:
            expected = expected_params.get(row.name, 0)
            if row.params != expected:
                formula = layer_param_formulas(spec).get(row.name, "no parameters")
                problems.append(f"layer {row.name} has {row.params:,} params, expected {expected:,} = {formula}")
            if row.trainable_params != row.params:
                problems.append(f"layer {row.name} has {row.params - row.trainable_params:,} non-trainable params, expected 0")
        total = sum(row.params for row in measurement)
        trainable = sum(row.trainable_params for row in measurement)
        expected_total = sum(expected_params.values())
        if total != expected_total:
            problems.append(f"total {total:,} params, expected {expected_total:,}")
        return Record(
            suite=self.name,
            backend=backend_name,
            status=FAIL if problems else PASS,
            spec=spec.to_dict(),
            message=f"{backend_name}: " + "; ".join(problems) if problems else "",
            details={
                "total_params": total,
                "trainable_params": trainable,
                "non_trainable_params": total - trainable,
                "expected_total_params": expected_total,
                "layers": [
                    {
                        "name": row.name,
                        "type": row.layer_type,
                        "output_shape": shapes_text(row.output_shapes),
                        "params": row.params,
                        "trainable_params": row.trainable_params,
                        "expected_params": expected_params.get(row.name, 0),
                    }
                    for row in measurement
                ],
            },
        )

    def tables(self, records: list[Record]) -> list[Table]:
        tables = []
        for record in records:
            if "layers" not in record.details:
                continue
            rows = [(f"{layer['name']} ({layer['type']})", layer["output_shape"], count_text(layer["params"]))
                    for layer in record.details["layers"]]
            totals = record.details
            rows += [
                ("Total params:", "", count_text(totals["total_params"])),
                ("Trainable params:", "", count_text(totals["trainable_params"])),
                ("Non-trainable params:", "", count_text(totals["non_trainable_params"])),
            ]
            tables.append(Table(
                title=f"{record.backend}: model summary ({ModelSpec(**record.spec).label()})",
                headers=("Layer (type)", "Output Shape", "Param #"),
                rows=tuple(rows),
                align=("left", "left", "right"),
            ))
        tables.append(self._comparison(records))
        return tables

    def _comparison(self, records: list[Record]) -> Table:
        specs = [ModelSpec.from_saved(record.spec) for record in records]
        deepest = max(specs or [ModelSpec()], key=lambda spec: spec.layers)
        columns = list(layer_param_formulas(deepest))  # embedding, lstm, lstm_1, ..., dense: model order
        formulas = list(dict.fromkeys(total_param_formula(spec) for spec in specs or [ModelSpec()]))
        rows = []
        for record in records:
            layers = {layer["name"]: layer["params"] for layer in record.details.get("layers", [])}
            expected = record.details.get("expected_total_params")
            rows.append((
                ModelSpec(**record.spec).label(),
                record.backend,
                *(count_text(layers[name]) if name in layers else "-" for name in columns),
                count_text(record.details["total_params"]) if "total_params" in record.details else "-",
                count_text(expected) if expected is not None else "-",
                record.status if not record.message else f"{record.status}: {record.message}",
            ))
        return Table(
            title=f"params: every backend vs {'; '.join(formulas)}",
            headers=("spec", "backend", *columns, "total", "expected", "status"),
            rows=tuple(rows),
            align=("left", "left", *["right"] * (len(columns) + 2), "left"),
            key_columns=2,
        )


@hookimpl
def bench_register_suites(register):
    """Register the ``params`` suite."""
    register(ParamsSuite())
