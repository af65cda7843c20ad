"""Suite ``gates``: every step's gates and states, against the reference, and where a backend first parts.

Per device, the backend's model for the spec (built with ``return_sequences`` and ``return_state`` on,
which changes only the head, so every state is exposed) is loaded with the canonical weights and traced
over the canonical sample batch: its own gates where it implements ``ClassifierModel.lstm_gates`` and their
last layer's h agrees with the outputs its ``forward`` returns, else gates recomputed from the weights it
reports and the states it exposes (`harness.explain.gate_trace.recomputed_gate_trace`), so a hook that does
not describe the model's own computation cannot hide a fault. The trace is compared with the NumPy reference's,
step by step, at the output tolerance; a failure names the first layer and direction, step, gate and unit
where the backend leaves it. ``bench explain`` runs the same measurement on a sentence
(`harness.suite.GateProbe`) and shows the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.canonical import keras_default_weights, sample_batch
from harness.contract import Backend, weight_shapes
from harness.errors import BenchUsageError
from harness.explain.gate_trace import (
    GateTrace,
    first_divergence,
    largest_differences,
    real_mask,
    recomputed_gate_trace,
    reference_gate_trace,
)
from harness.model_spec import ModelSpec
from harness.plugins.hookspecs import hookimpl
from harness.rendering import Table
from harness.results.record import FAIL, PASS, Record
from harness.suite import NotRun, Suite, SuiteOptions
from harness.tolerances import OUTPUT_TOLERANCE
from suites.reference_checks import reasons_table


@dataclass
class GateMeasurement:
    """The worker's measurement: the backend's trace and the token ids it traced."""

    trace: GateTrace
    token_ids: np.ndarray


def traced_spec(spec: ModelSpec, batch_size: int) -> ModelSpec:
    """``spec`` with every state exposed (``return_sequences`` and ``return_state``) and ``batch_size``
    examples: the LSTM layers, and so the gates, are the same."""
    return spec.replace(return_sequences=True, return_state=True, batch_size=batch_size)


def load_weights_file(path: str, spec: ModelSpec) -> dict[str, np.ndarray]:
    """The weights in the ``.npz`` at ``path`` (canonical names): the embedding and every LSTM weight with
    ``spec``'s shapes, real and finite; the head's (``dense.*``), which the gates never read, may have any
    shape or be left out, so weights saved for another sentence length still load. A `BenchUsageError`
    naming what is wrong otherwise."""
    option = f"--weights {path}"
    try:
        loaded = np.load(Path(path), allow_pickle=False)
    except OSError as error:
        raise BenchUsageError(f"{option}: cannot read it ({error.strerror or type(error).__name__})") from None
    except (ValueError, EOFError) as error:
        reason = "it holds Python objects" if "pickle" in str(error) else f"{type(error).__name__}: {error}"
        raise BenchUsageError(f"{option}: cannot read it as a NumPy .npz of named arrays ({reason})") from None
    if not hasattr(loaded, "files"):
        raise BenchUsageError(f"{option}: a single array, not a NumPy .npz of named arrays (np.savez(path, "
                              "embedding=..., **{'lstm.kernel': ...}))")
    try:
        with loaded as archive:
            weights = {name: np.asarray(archive[name]) for name in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise BenchUsageError(f"{option}: cannot read its arrays ({type(error).__name__}: {error})") from None
    expected = weight_shapes(spec)
    needed = {name: shape for name, shape in expected.items() if not name.startswith("dense.")}
    missing = sorted(set(needed) - set(weights))
    unknown = sorted(set(weights) - set(expected))
    if missing or unknown:
        raise BenchUsageError(f"{option}: missing {missing or 'none'}, unknown {unknown or 'none'} (expected "
                              f"{sorted(needed)}, and the head's dense.kernel and dense.bias if saved)")
    for name, shape in needed.items():
        value = weights[name]
        if value.shape != shape:
            raise BenchUsageError(f"{option}: {name} has shape {value.shape}, expected {shape}")
        if value.dtype.kind != "f":
            raise BenchUsageError(f"{option}: {name} holds {value.dtype} values, expected floating point")
        if not np.all(np.isfinite(value)):
            raise BenchUsageError(f"{option}: {name} holds {int(np.sum(~np.isfinite(value)))} non-finite value(s)")
    return {name: value.astype(np.float32) for name, value in weights.items() if name in needed}


def probe_inputs(spec: ModelSpec, options: SuiteOptions) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The token ids ``(B, T)`` and the weights (for `traced_spec`) a cell traces: the probe's
    (`harness.suite.GateProbe`) or the canonical sample batch and weights."""
    probe = options.probe
    if probe is None:
        token_ids = sample_batch(spec)[0]
        weights = keras_default_weights(spec)
    else:
        token_ids = np.asarray([probe.token_ids], dtype=np.int64)
        weights = load_weights_file(probe.weights_file, spec) if probe.weights_file else keras_default_weights(spec)
    exposed = traced_spec(spec, token_ids.shape[0])
    head = keras_default_weights(exposed)  # the head's shape follows return_sequences; the gates never read it
    shapes = weight_shapes(exposed)
    return token_ids, {name: weights[name] if name in weights and weights[name].shape == shapes[name] else head[name]
                       for name in shapes}


def trace_backend(backend: Backend, spec: ModelSpec, options: SuiteOptions) -> GateMeasurement | NotRun:
    """``backend``'s trace of the probe (see the module docstring); runs in the backend's worker."""
    token_ids, weights = probe_inputs(spec, options)
    exposed = traced_spec(spec, token_ids.shape[0])
    model = backend.build(exposed, options.device)
    model.set_weights(weights)
    output = model.forward(token_ids)
    batch, steps = token_ids.shape
    for name, value, shape in (("lstm_output", output.lstm_output, (batch, steps, exposed.lstm_width)),
                               ("state_c", output.state_c, (batch, exposed.lstm_width))):
        if value is not None and tuple(np.shape(model.output_to_numpy(value))) != shape:
            return NotRun.failed(f"with return_sequences and return_state its forward returns {name} of shape "
                                 f"{tuple(np.shape(model.output_to_numpy(value)))}, expected {shape}")
    recomputed = recomputed_gate_trace(exposed, model.get_weights(), token_ids, model.output_to_numpy(output.lstm_output),
                                       None if output.state_c is None else model.output_to_numpy(output.state_c))
    own = model.lstm_gates(token_ids)
    if own is None:
        return GateMeasurement(recomputed, token_ids)
    last = [prefix for prefix in recomputed.layers if prefix.split(".")[0] == list(recomputed.layers)[-1].split(".")[0]]
    disagreement = first_divergence(GateTrace({prefix: {"h": own.layers.get(prefix, {}).get("h")} for prefix in last}, ""),
                                    GateTrace({prefix: {"h": recomputed.layers[prefix]["h"]} for prefix in last}, ""),
                                    real_mask(exposed, token_ids), quantities=("h",))
    if disagreement is not None:
        recomputed.source = (f"its lstm_gates disagree with its own outputs ({disagreement.describe(against='its outputs')})"
                             f", so {recomputed.source}")
        return GateMeasurement(recomputed, token_ids)
    return GateMeasurement(own, token_ids)


class GatesSuite(Suite):
    """Per-gate values against the reference (see the module docstring)."""

    name = "gates"
    run_order = 25
    description = "every step's gates and states against the reference; a failure names the first step, gate and unit"
    per_device = True

    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> GateMeasurement | NotRun:
        missing = self.device_unavailable(backend, options)
        if missing:
            return NotRun.skipped(missing)
        return trace_backend(backend, spec, options)

    def judge(self, spec: ModelSpec, backend_name: str, measurement: GateMeasurement | NotRun,
              options: SuiteOptions) -> Record:
        not_run = self.not_run(spec, backend_name, measurement, options)
        if not_run:
            return not_run
        token_ids, weights = probe_inputs(spec, options)
        exposed = traced_spec(spec, token_ids.shape[0])
        reference = reference_gate_trace(exposed, weights, token_ids)
        real = real_mask(exposed, token_ids)
        divergence = first_divergence(measurement.trace, reference, real)
        largest = largest_differences(measurement.trace, reference, real)
        worst = max((value for per_prefix in largest.values() for value in per_prefix.values()), default=0.0)
        details = {**self.record_details(options), "source": measurement.trace.source,
                   "largest_difference": worst, "largest_differences": largest, "rtol": OUTPUT_TOLERANCE.rtol,
                   "first_divergence": None if divergence is None else {
                       "layer": divergence.prefix, "example": divergence.example, "step": divergence.step + 1,
                       "quantity": divergence.quantity, "unit": divergence.unit, "value": divergence.value,
                       "reference": divergence.reference}}
        if divergence is None:
            return Record(self.name, backend_name, PASS, spec.to_dict(), "", details)
        message = f"{backend_name}: first parts from the reference at {divergence.describe()}" + (
            f"; gates {measurement.trace.source}" if measurement.trace.recomputed else "")
        return Record(self.name, backend_name, FAIL, spec.to_dict(), message, details)

    def tables(self, records: list[Record]) -> list[Table]:
        rows = []
        for record in records:
            details = record.details
            if "source" not in details:
                rows.append((ModelSpec(**record.spec).label(), record.backend, "-", "-", record.message or "-",
                             record.status))
                continue
            found = details["first_divergence"]
            rows.append((ModelSpec(**record.spec).label(), f"{record.backend} ({details.get('device', 'cpu')})",
                         details["source"], f"{details['largest_difference']:.1e}",
                         "-" if found is None else f"{found['layer']} step {found['step']} {found['quantity']} "
                                                   f"unit {found['unit']}", record.status))
        return [Table("gates: every step's gates and states against the reference (largest absolute difference; "
                      "where a backend first leaves the output tolerance)",
                      ("spec", "backend", "gates from", "largest difference", "first parts at", "status"),
                      tuple(rows), key_columns=2), *reasons_table(records)]


@hookimpl
def bench_register_suites(register):
    """Register the ``gates`` suite."""
    register(GatesSuite())
