"""Running ``bench explain``: the reference's trace in this process (NumPy only), each backend's in its own
worker process, as the ``gates`` suite measures it (`suites.gates.trace_backend`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.cell import Cell
from harness.execution.executor import LocalExecutor
from harness.execution.protocol import CellOutcome
from harness.execution.worker_manager import WorkerLimits
from harness.explain.explanation import BackendExplanation, Explanation, explain_backend
from harness.explain.gate_trace import reference_gate_trace
from harness.model_spec import ModelSpec
from harness.plugins.registry import BackendInfo
from harness.suite import GateProbe, NotRun, SuiteOptions

CELL_TIMEOUT_SECONDS = 300.0
"""Longest one backend's worker may take to import its framework and trace the sentence."""


def explain(text: str, words: list[str], token_ids: list[int], spec: ModelSpec, backends: Sequence[BackendInfo],
            weights_file: str | None, units: int, device: str = "cpu",
            progress: Callable[[str], None] = lambda line: None) -> Explanation:
    """The `Explanation` of ``text`` for ``spec``: the reference's values and each backend's against them."""
    from suites.gates import GateMeasurement, probe_inputs, traced_spec

    options = SuiteOptions(device=device, devices=(device,), probe=GateProbe(tuple(token_ids), weights_file))
    ids, weights = probe_inputs(spec, options)  # a bad --weights file: one line, before any worker starts
    reference = reference_gate_trace(traced_spec(spec, 1), weights, ids)
    explained = []
    executor = LocalExecutor(WorkerLimits(cell_timeout_seconds=CELL_TIMEOUT_SECONDS))
    try:
        for info in backends:
            availability = executor.availability(info)
            if not availability.available:
                explained.append(BackendExplanation(info.name, "unavailable", reason=availability.reason))
                continue
            progress(f"{info.name}: tracing {' '.join(words)!r} in a fresh worker process")
            outcomes: list[CellOutcome] = []
            executor.run_cells(info, [Cell("gates", spec, options)],
                               lambda index, outcome, kept=outcomes: kept.append(outcome),
                               lambda index, seconds, name=info.name: progress(f"{name}: still running after {seconds:.0f} s"))
            explained.append(_backend_explanation(info.name, outcomes, reference, spec, np.asarray(ids),
                                                  GateMeasurement))
    finally:
        executor.close()
    source = f"the file {weights_file}" if weights_file else f"the canonical initial weights for seed {spec.seed}"
    return Explanation(spec, text, words, list(token_ids), source, reference, explained, units)


def _backend_explanation(name: str, outcomes: list[CellOutcome], reference, spec: ModelSpec, token_ids: np.ndarray,
                         measurement_type) -> BackendExplanation:
    if not outcomes:
        return BackendExplanation(name, "error", reason="its worker returned nothing")
    outcome = outcomes[0]
    if outcome.error is not None:
        return BackendExplanation(name, "error", reason=outcome.error)
    if isinstance(outcome.value, NotRun):
        return BackendExplanation(name, outcome.value.status, reason=outcome.value.reason)
    if not isinstance(outcome.value, measurement_type):
        return BackendExplanation(name, "error", reason=f"unexpected measurement {type(outcome.value).__name__}")
    return explain_backend(name, outcome.value.trace, reference, spec, token_ids)
