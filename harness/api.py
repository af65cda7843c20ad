"""lstm-bench's public API: everything a plugin imports, from one place.

A plugin imports from here and nowhere else in ``harness``::

    from harness.api import Backend, BackendInfo, ClassifierModel, ForwardOutput, LayerSummary, hookimpl

The modules behind these names may move between releases; these names stay. Importing this module imports
NumPy but no deep-learning framework, so a plugin's registration module stays light.

- Declaring a plugin: `hookimpl`, `BackendInfo` (see docs/plugins.md).
- The backend contract: `Backend`, `ClassifierModel`, `LayerSummary`, `ForwardOutput`,
  `UnsupportedCapability`, the canonical weight names and shapes (`WEIGHT_NAMES`, `weight_shapes`,
  `check_weights`) and the analytic counts (`expected_layer_params`, `expected_total_params`,
  `expected_layer_output_shapes`). See docs/contract.md.
- What a backend is given: `ModelSpec`, `OptimizerSpec`; the canonical initial weights and batches
  (`keras_default_weights`, `sample_batch`, `sample_token_ids`).
- Writing a suite: `Suite`, `SuiteOptions`, `Cell`, `Record` and its statuses, `Table`, the tolerances
  and `tensor_error`.
- Errors: `BenchUsageError` (the user's mistake: one line, exit 2).
- The conformance kit: `check_backend`, `check_suite_names`, `ConformanceResult` (and the pytest plugin,
  ``pytest --bench-backend NAME`` with the ``bench_conformance`` fixture).
"""

from harness.canonical import keras_default_weights, sample_batch, sample_token_ids
from harness.cell import Cell
from harness.conformance import ConformanceResult, check_backend, check_suite_names
from harness.contract import (
    WEIGHT_NAMES,
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    UnsupportedCapability,
    check_weights,
    expected_layer_output_shapes,
    expected_layer_params,
    expected_total_params,
    weight_shapes,
)
from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.plugins.hookspecs import hookimpl
from harness.plugins.registry import BackendInfo
from harness.rendering import Table
from harness.results.record import (
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    STATUSES,
    UNAVAILABLE,
    UNSUPPORTED,
    Record,
)
from harness.suite import Suite, SuiteOptions
from harness.tolerances import (
    GRADIENT_TOLERANCE,
    LOSS_TOLERANCE,
    OUTPUT_TOLERANCE,
    TRAINING_TOLERANCE,
    TensorError,
    Tolerance,
    tensor_error,
)

__all__ = [
    "ERROR",
    "FAIL",
    "GRADIENT_TOLERANCE",
    "LOSS_TOLERANCE",
    "OUTPUT_TOLERANCE",
    "PASS",
    "SKIPPED",
    "STATUSES",
    "TRAINING_TOLERANCE",
    "UNAVAILABLE",
    "UNSUPPORTED",
    "WEIGHT_NAMES",
    "Backend",
    "BackendInfo",
    "BenchUsageError",
    "Cell",
    "ClassifierModel",
    "ConformanceResult",
    "ForwardOutput",
    "LayerSummary",
    "ModelSpec",
    "OptimizerSpec",
    "Record",
    "Suite",
    "SuiteOptions",
    "Table",
    "TensorError",
    "Tolerance",
    "UnsupportedCapability",
    "check_backend",
    "check_suite_names",
    "check_weights",
    "expected_layer_output_shapes",
    "expected_layer_params",
    "expected_total_params",
    "hookimpl",
    "keras_default_weights",
    "sample_batch",
    "sample_token_ids",
    "tensor_error",
    "weight_shapes",
]
