"""`Explanation` as tables (terminal and markdown) and as one JSON document."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.explain.explanation import TOKENIZER, Explanation, quantities_of
from harness.explain.gate_trace import QUANTITIES, QUANTITY_NAMES
from harness.rendering import Table


def word_at(explanation: Explanation, prefix: str, step: int) -> str:
    """The word a direction reads at ``step`` (the backward direction reads the sentence last to first)."""
    words = explanation.words[::-1] if prefix.endswith(".backward") else explanation.words
    return words[step]


def explanation_tables(explanation: Explanation) -> list[Table]:
    """The words, the parameter arithmetic, each step's values, the backends against the reference and
    what the layer hands back."""
    spec, units = explanation.spec, explanation.units_shown
    tables = [
        Table(f"the words and their token ids ({TOKENIZER})", ("step", "word", "token id"),
              tuple((t, word, token) for t, (word, token) in enumerate(zip(explanation.words, explanation.token_ids),
                                                                       start=1))),
        Table(f"parameters: {explanation.parameter_sum} (V={spec.vocab_size} E={spec.embed_dim} H={spec.hidden} "
              f"T={spec.seq_len}, F = the head's inputs)", ("layer", "formula", "parameters"),
              tuple((layer, formula, f"{count:,}") for layer, formula, count in explanation.parameters)),
    ]
    compared = [backend for backend in explanation.backends if backend.trace is not None]
    cut = " (first units only: --units)" if max(spec.hidden, spec.embed_dim) > units else ""
    for prefix, quantities in explanation.reference.layers.items():
        steps = quantities["h"].shape[1]
        for step in range(steps):
            values = quantities_of(explanation.reference, prefix, step, units)
            rows = []
            for quantity in QUANTITIES:
                row = [QUANTITY_NAMES[quantity], *(_number(value) for value in values[quantity])]
                row += [""] * (units - len(values[quantity]))
                for backend in compared:
                    mine = np.asarray(backend.trace.layers[prefix][quantity])[0, step]
                    row.append(f"{np.max(np.abs(mine - quantities[quantity][0, step])):.1e}")
                rows.append(tuple(row))
            width = min(units, max(spec.hidden, quantities["x"].shape[-1]))
            word = word_at(explanation, prefix, step)
            tables.append(Table(
                f"{prefix}, step {step + 1} of {steps}: {word!r} (the reference's values, "
                f"unit by unit{cut}; each backend's largest |difference| at this step)",
                ("quantity", *(f"unit {unit}" for unit in range(width)), *(f"{backend.name} |diff|" for backend in compared)),
                tuple(row[:1 + width] + row[1 + units:] for row in rows)))
            if compared:
                tables.append(backend_values_table(explanation, compared, prefix, step, word, width))
    tables.append(Table(
        f"the backends against the reference (float64), at the output tolerance; weights: {explanation.weights_source}",
        ("backend", "values from", "largest |difference|", "first parts at", "status"),
        tuple((backend.name, backend.source or "-",
               f"{max((v for per in backend.largest.values() for v in per.values()), default=0.0):.1e}"
               if backend.trace is not None else "-",
               backend.divergence.describe() if backend.divergence else (backend.reason or "-"), backend.status)
              for backend in explanation.backends)))
    rows = []
    for combination in explanation.returns():
        for number, (name, shape, values) in enumerate(combination["outputs"]):
            head = (str(combination["return_sequences"]), str(combination["return_state"]),
                    "<- the model's" if combination["chosen"] else "") if number == 0 else ("", "", "")
            rows.append((*head, name, shape, _values_text(values, units)))
    tables.append(Table(f"what the {explanation.reference_last_layer()} layer hands back, from the reference (the "
                        "model's own choice marked)", ("return_sequences", "return_state", "", "output", "shape", "values"),
                        tuple(rows), key_columns=2))
    return tables


def backend_values_table(explanation: Explanation, compared, prefix: str, step: int, word: str, width: int) -> Table:
    """Each backend's own values at ``step`` (its gates, or those recomputed from what it exposes), beside
    the reference's in the table before."""
    units = explanation.units_shown
    rows = []
    for backend in compared:
        values = quantities_of(backend.trace, prefix, step, units)
        for number, quantity in enumerate(QUANTITIES):
            shown = [_number(value) for value in values.get(quantity, [])][:width]
            rows.append((backend.name if number == 0 else "", QUANTITY_NAMES[quantity], *shown,
                         *[""] * (width - len(shown))))
    return Table(f"{prefix}, step {step + 1}: {word!r}, each backend's values", ("backend", "quantity",
                 *(f"unit {unit}" for unit in range(width))), tuple(rows), key_columns=2)


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """Every value ``bench explain`` computed, as JSON."""
    def trace_json(trace) -> dict[str, Any]:
        return {prefix: {quantity: np.asarray(values, np.float64)[0].tolist() for quantity, values in quantities.items()}
                for prefix, quantities in trace.layers.items()}

    return {
        "text": explanation.text, "words": explanation.words, "token_ids": explanation.token_ids,
        "tokenizer": TOKENIZER, "spec": explanation.spec.to_dict(), "weights": explanation.weights_source,
        "parameters": [{"layer": layer, "formula": formula, "count": count}
                       for layer, formula, count in explanation.parameters],
        "parameter_sum": explanation.parameter_sum,
        "reference": {"source": explanation.reference.source, "values": trace_json(explanation.reference)},
        "returns": [{**combination, "outputs": [{"name": name, "shape": shape, "values": np.asarray(values).tolist()}
                                                for name, shape, values in combination["outputs"]]}
                    for combination in explanation.returns()],
        "backends": [{
            "name": backend.name, "status": backend.status, "source": backend.source, "reason": backend.reason,
            "largest_differences": backend.largest,
            "first_divergence": None if backend.divergence is None else {
                "layer": backend.divergence.prefix, "step": backend.divergence.step + 1,
                "quantity": backend.divergence.quantity, "unit": backend.divergence.unit,
                "value": backend.divergence.value, "reference": backend.divergence.reference,
                "text": backend.divergence.describe()},
            "recomputed": {prefix: list(names) for prefix, names in backend.trace.recomputed.items()}
            if backend.trace is not None else {},
            "values": trace_json(backend.trace) if backend.trace is not None else None,
        } for backend in explanation.backends],
    }


def _number(value: float) -> str:
    return f"{value:+.6f}"


def _values_text(values: np.ndarray, units: int) -> str:
    values = np.asarray(values)
    if values.ndim == 1:
        return "[" + ", ".join(_number(value) for value in values[:units]) + (", ..." if values.size > units else "") + "]"
    return "[" + ", ".join(_values_text(row, units) for row in values) + "]"
