"""`GateTrace`: every step's gates and states of every LSTM layer and direction, and where two traces
first part.

For each layer and direction (keyed by its weight prefix: ``lstm``, ``lstm.backward``, ``lstm_1``...) a
trace holds, batch first ``(B, T, width)`` and in the order the direction reads the steps (the backward
direction's step 0 is each example's last real token), the quantities of the article's picture:

- ``x``: the layer's input at the step (the embedding row in the first layer);
- ``i``, ``f``, ``g``, ``o``: the input, forget, candidate (c~) and output gates, activated;
- ``c``, ``h``: the cell and hidden state after the step.

The NumPy reference's trace is the ground truth (`reference_gate_trace`). A backend that can expose its
own gates returns a trace from ``ClassifierModel.lstm_gates``; for one that cannot,
`recomputed_gate_trace` recomputes the gates from the weights it reports and the states it exposes, and
says so in ``source``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from backends.numpy_reference import lstm_stack_forward, reversed_within_lengths, sigmoid
from harness.contract import DIRECTIONS, lstm_layer_names, lstm_weight_prefix
from harness.model_spec import ModelSpec
from harness.tolerances import OUTPUT_TOLERANCE, Tolerance

QUANTITIES = ("x", "i", "f", "g", "o", "c", "h")
"""The quantities of a step, in the order the article draws them (and `first_divergence` reads them)."""
QUANTITY_NAMES = {"x": "x_t (input)", "i": "i (input gate)", "f": "f (forget gate)", "g": "c~ (candidate)",
                  "o": "o (output gate)", "c": "c_t (cell state)", "h": "h_t (hidden state)"}
"""How the output names each quantity."""


@dataclass
class GateTrace:
    """Per layer and direction (its weight prefix), each of `QUANTITIES` as ``(B, T, width)``, in the
    direction's reading order (see the module docstring).

    Attributes:
        layers: ``{prefix: {quantity: array}}``.
        source: how the values were obtained, e.g. ``"the backend's own gates"`` or ``"recomputed from
            its weights and exposed states"``.
        recomputed: the quantities of each prefix that were recomputed rather than read from the
            backend (empty when all are its own).
    """

    layers: dict[str, dict[str, np.ndarray]]
    source: str
    recomputed: dict[str, tuple[str, ...]] = field(default_factory=dict)


def direction_prefixes(spec: ModelSpec) -> list[str]:
    """The weight prefix of every layer and direction of ``spec``, bottom layer and forward first."""
    return [lstm_weight_prefix(layer, direction) for layer in lstm_layer_names(spec)
            for direction in DIRECTIONS[:spec.directions]]


def reading_order(real: np.ndarray, direction: str) -> np.ndarray:
    """``(B, T)`` step indices in the order ``direction`` reads each example: the identity forward; the
    real steps last to first (padding left in place) backward, as the reference reads them."""
    if direction == "backward":
        return reversed_within_lengths(real)
    return np.tile(np.arange(real.shape[1]), (real.shape[0], 1))


def real_mask(spec: ModelSpec, token_ids: np.ndarray) -> np.ndarray:
    """``(B, T)`` True at real steps: every step without padding, the non-zero tokens with it."""
    token_ids = np.asarray(token_ids)
    return token_ids != 0 if spec.padded else np.ones(token_ids.shape, bool)


def reference_gate_trace(spec: ModelSpec, weights: Mapping[str, np.ndarray], token_ids: np.ndarray) -> GateTrace:
    """The NumPy reference's trace (float64) for ``token_ids`` ``(B, T)`` under ``weights``."""
    weights = {name: np.asarray(value, np.float64) for name, value in weights.items()}
    token_ids = np.asarray(token_ids)
    stack = lstm_stack_forward(weights["embedding"][token_ids], weights, spec,
                               real_mask(spec, token_ids) if spec.padded else None)
    return trace_of_stack(spec, stack, "the NumPy reference (float64)")


def trace_of_stack(spec: ModelSpec, stack, source: str) -> GateTrace:
    """The trace of a NumPy reference forward pass (``backends.numpy_reference.StackSteps``)."""
    layers = {}
    for layer_name, by_direction in zip(lstm_layer_names(spec), stack.layers):
        for direction, steps in by_direction.items():
            layers[lstm_weight_prefix(layer_name, direction)] = {
                "x": steps.inputs, **{gate: steps.gate(gate).transpose(1, 0, 2).copy() for gate in "ifgo"},
                "c": steps.cells.transpose(1, 0, 2).copy(), "h": steps.hiddens.transpose(1, 0, 2).copy()}
    return GateTrace(layers, source)


def cell_step(x: np.ndarray, h: np.ndarray, c: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray,
              bias: np.ndarray) -> dict[str, np.ndarray]:
    """One LSTM step in the canonical layout (gates ``[i | f | g | o]``): the gates and the new c and h."""
    units = recurrent_kernel.shape[0]
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
    g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
    c_new = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": o * np.tanh(c_new)}


def recomputed_gate_trace(spec: ModelSpec, weights: Mapping[str, np.ndarray], token_ids: np.ndarray,
                          last_outputs: np.ndarray, final_c: np.ndarray | None) -> GateTrace:
    """A trace for a backend that cannot expose its gates, from what it does expose: the weights it reports
    (``get_weights``), its last layer's outputs ``(B, T, D*H)`` (``return_sequences``) and final cell state
    ``(B, D*H)`` (``return_state``; None if not exposed).

    In the last layer, ``h`` is the backend's own (its outputs, carried over padded steps), and each step's
    gates are recomputed from the reported weights, the step's input and the backend's previous ``h``, so a
    wrong state shows in ``h`` and a wrong weight layout in the gates; ``c`` is recomputed, except the final
    one when exposed. Lower layers, whose outputs no backend exposes, are recomputed from the weights alone."""
    weights = {name: np.asarray(value, np.float64) for name, value in weights.items()}
    token_ids = np.asarray(token_ids)
    real = real_mask(spec, token_ids)
    batch, steps = token_ids.shape
    rows = np.arange(batch)[:, None]
    layer_input = weights["embedding"][token_ids]
    layers, recomputed = {}, {}
    names = lstm_layer_names(spec)
    for depth, layer_name in enumerate(names):
        last = depth == len(names) - 1
        outputs = []
        for number, direction in enumerate(DIRECTIONS[:spec.directions]):
            prefix = lstm_weight_prefix(layer_name, direction)
            order = reading_order(real, direction)
            reads, real_read = layer_input[rows, order], real[rows, order]
            own_h = None
            if last:
                half = last_outputs[:, :, number * spec.hidden:(number + 1) * spec.hidden].astype(np.float64)
                own_h = half[rows, order]
            trace = {quantity: np.zeros((batch, steps, spec.hidden)) for quantity in "ifgoch"}
            h = np.zeros((batch, spec.hidden))
            c = np.zeros((batch, spec.hidden))
            for t in range(steps):
                step = cell_step(reads[:, t], h, c, weights[f"{prefix}.kernel"], weights[f"{prefix}.recurrent_kernel"],
                                 weights[f"{prefix}.bias"])
                is_real = real_read[:, t:t + 1]
                step["c"] = np.where(is_real, step["c"], c)
                step["h"] = np.where(is_real, own_h[:, t] if own_h is not None else step["h"], h)
                for quantity, value in step.items():
                    trace[quantity][:, t] = value
                h, c = step["h"], step["c"]
            if last and final_c is not None:
                last_real = real_read.shape[1] - 1 - np.argmax(real_read[:, ::-1], axis=1)
                trace["c"][np.arange(batch), last_real] = final_c[:, number * spec.hidden:(number + 1) * spec.hidden]
            trace["x"] = reads
            layers[prefix] = trace
            recomputed[prefix] = ("i", "f", "g", "o", "c") if last else ("i", "f", "g", "o", "c", "h")
            natural = np.zeros_like(trace["h"])
            natural[rows, order] = np.where(real_read[:, :, None], trace["h"], 0.0)
            outputs.append(natural)
        layer_input = np.concatenate(outputs, axis=-1)
    source = ("recomputed: gates from the weights it reports, h from its outputs"
              + (", the final c from its state" if final_c is not None else ""))
    return GateTrace(layers, source, recomputed)


@dataclass(frozen=True)
class Divergence:
    """Where a trace first leaves the tolerance: the layer and direction, the step (an index in its
    reading order; said counting from 1, as the tables do), the quantity and the unit, with both values."""

    prefix: str
    example: int
    step: int
    quantity: str
    unit: int
    value: float
    reference: float
    allowed: float

    def describe(self, against: str = "the reference's") -> str:
        return (f"{self.prefix} step {self.step + 1} {QUANTITY_NAMES[self.quantity]} unit {self.unit}: "
                f"{self.value:.7g} against {against} {self.reference:.7g} (|difference| "
                f"{abs(self.value - self.reference):.2e} > {self.allowed:.2e})")


def largest_differences(trace: GateTrace, reference: GateTrace, real: np.ndarray) -> dict[str, dict[str, float]]:
    """Per prefix and quantity, the largest absolute difference over the real steps."""
    result = {}
    for prefix, quantities in reference.layers.items():
        mine = trace.layers.get(prefix, {})
        order = {}
        for quantity in QUANTITIES:
            if quantity not in mine or quantity not in quantities:
                continue
            mask = _real_in_reading_order(real, prefix)[:, :, None]
            difference = np.abs(np.asarray(mine[quantity], np.float64) - quantities[quantity]) * mask
            order[quantity] = float(np.max(difference)) if difference.size else 0.0
        result[prefix] = order
    return result


def first_divergence(trace: GateTrace, reference: GateTrace, real: np.ndarray,
                     tolerance: Tolerance = OUTPUT_TOLERANCE, quantities: tuple[str, ...] = QUANTITIES) -> Divergence | None:
    """The first (layer and direction, step, quantity in `QUANTITIES` order, unit) where ``trace`` leaves
    ``tolerance`` (``atol + rtol * max |reference|`` of that quantity in that layer), over each example's
    real steps; None when it never does. A quantity missing or misshapen in ``trace`` diverges at its first
    element. ``quantities``: those compared, in this order."""
    order = quantities
    for prefix, expected_values in reference.layers.items():
        mine = trace.layers.get(prefix, {})
        real_read = _real_in_reading_order(real, prefix)
        allowed = {quantity: tolerance.atol + tolerance.rtol * float(np.max(np.abs(value)))
                   for quantity, value in expected_values.items()}
        batch, steps = real_read.shape
        for t in range(steps):
            for quantity in order:
                expected = expected_values[quantity]
                actual = mine.get(quantity)
                if actual is None or np.shape(actual) != expected.shape:
                    return Divergence(prefix, 0, t, quantity, 0, float("nan"), float(expected[0, t, 0]), allowed[quantity])
                for example in range(batch):
                    if not real_read[example, t]:
                        continue
                    row = np.asarray(actual[example, t], np.float64)
                    bad = np.flatnonzero(~(np.abs(row - expected[example, t]) <= allowed[quantity]))
                    if bad.size:
                        unit = int(bad[0])
                        return Divergence(prefix, example, t, quantity, unit, float(row[unit]),
                                          float(expected[example, t, unit]), allowed[quantity])
    return None


def _real_in_reading_order(real: np.ndarray, prefix: str) -> np.ndarray:
    direction = "backward" if prefix.endswith(".backward") else "forward"
    rows = np.arange(real.shape[0])[:, None]
    return real[rows, reading_order(real, direction)]
