"""lstm-bench's public API: everything a plugin imports, from one place.

A plugin imports from here and nowhere else in ``harness``::

    from harness.api import Backend, BackendInfo, ClassifierModel, ForwardOutput, LayerSummary, hookimpl

The modules behind these names may move between releases; these names stay. Each name is imported on first
use (PEP 562), so ``from harness.api import BackendInfo, hookimpl`` in a plugin's registration module
loads only the plugin machinery, and nothing here ever imports a deep-learning framework.

- Declaring a plugin: `hookimpl`, `BackendInfo` (see docs/plugins.md).
- The backend contract: `Backend`, `ClassifierModel`, `LayerSummary`, `ForwardOutput` (`FORWARD_OUTPUTS`),
  `UnsupportedCapability`, the canonical weight names and shapes (`WEIGHT_NAMES`, `weight_names`,
  `layer_weight_names`, `lstm_layer_names`, `lstm_weight_prefix`, `DIRECTIONS`, `weight_shapes`,
  `check_weights`), `refuse_unsupported_options` (a model option a backend does not build) and the analytic counts (`expected_layer_params`, `expected_total_params`,
  `expected_layer_output_shapes`). See docs/contract.md. For the optional `Backend.gemm_peak_gflops`:
  `best_gflops` and `GPU_GEMM_SIZE`.
- What a backend is given: `ModelSpec`, `OptimizerSpec`; the canonical initial weights and batches
  (`keras_default_weights`, `sample_batch`, `sample_token_ids`, `example_lengths`).
- Writing a suite: `Suite`, `SuiteOptions`, `Cell`, `NotRun` (a cell the backend did not run),
  `Record` and its statuses, `Table`, the tolerances and `tensor_error`; for a timing suite
  `TimingBudget`, `time_step`, `RoundMeasurement`, `summarize` and the analytic FLOPs (`forward_flops`,
  `training_step_flops`).
- Writing a per-cell add-on (a profiler, an energy meter): `CellAddon`, registered with the
  ``bench_register_addons`` hook.
- Profiling a timed cell (``bench run --profile``, the optional `ClassifierModel.profile_steps`):
  `StepProfile`, `CATEGORIES`, `category_of`, `intervals_trace`; for an XLA program (JAX, TensorFlow's
  ``jit_compile``) `record_xspace` and `profile_from_xla_xspace`, which read the profiler's XSpace.
- Exposing every step's gates (``bench explain``, the ``gates`` suite; the optional
  `ClassifierModel.lstm_gates`): `GateTrace`.
- Errors: `BenchUsageError` (the user's mistake: one line, exit 2).
- The conformance kit: `check_backend`, `check_suite_names`, `ConformanceResult` (and the pytest plugin,
  ``pytest --bench-backend NAME`` with the ``bench_conformance`` fixture).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "harness.addons.base": ("CellAddon",),
    "harness.canonical": ("example_lengths", "keras_default_weights", "sample_batch", "sample_token_ids"),
    "harness.cell": ("Cell",),
    "harness.conformance": ("ConformanceResult", "check_backend", "check_suite_names"),
    "harness.contract": (
        "DIRECTIONS", "FORWARD_OUTPUTS", "WEIGHT_NAMES", "Backend", "ClassifierModel", "ForwardOutput", "LayerSummary",
        "UnsupportedCapability", "check_weights", "expected_layer_output_shapes", "expected_layer_params",
        "expected_total_params", "layer_weight_names", "lstm_layer_names", "lstm_weight_prefix",
        "refuse_unsupported_options", "weight_names", "weight_shapes",
    ),
    "harness.errors": ("BenchUsageError",),
    "harness.measurement.flops": ("forward_flops", "training_step_flops"),
    "harness.measurement.gemm_peak": ("GPU_GEMM_SIZE", "best_gflops"),
    "harness.measurement.round_measurement": ("RoundMeasurement",),
    "harness.measurement.statistics": ("summarize",),
    "harness.measurement.timer": ("TimingBudget", "time_step"),
    "harness.model_spec": ("ModelSpec",),
    "harness.optimizers": ("OptimizerSpec", "keras_epsilon_for_torch"),
    "harness.plugins.hookspecs": ("hookimpl",),
    "harness.explain.gate_trace": ("GateTrace",),
    "harness.profiling.categories": ("CATEGORIES", "category_of"),
    "harness.profiling.chrome_trace": ("intervals_trace",),
    "harness.profiling.step_profile": ("StepProfile",),
    "harness.profiling.xla_trace": ("profile_from_xla_xspace", "record_xspace"),
    "harness.plugins.registry": ("BackendInfo",),
    "harness.rendering": ("Table",),
    "harness.results.record": (
        "ERROR", "FAIL", "MEASURED_STATUSES", "PASS", "SKIPPED", "STATUSES", "UNAVAILABLE", "UNSTABLE", "UNSUPPORTED",
        "Record",
    ),
    "harness.suite": ("NotRun", "Suite", "SuiteOptions"),
    "harness.tolerances": (
        "GRADIENT_TOLERANCE", "LOSS_TOLERANCE", "OUTPUT_TOLERANCE", "TRAINING_TOLERANCE", "TensorError", "Tolerance",
        "tensor_error",
    ),
}
"""Where each public name is defined."""

_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)


def __getattr__(name: str) -> Any:
    """Import a public name from its home module on first use, and keep it here."""
    if name not in _HOME_OF:
        raise AttributeError(f"module 'harness.api' has no attribute {name!r} (public names: harness.api.__all__)")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static checkers and IDEs see the names as ordinary imports
    from harness.addons.base import CellAddon  # noqa: F401
    from harness.canonical import example_lengths, keras_default_weights, sample_batch, sample_token_ids  # noqa: F401
    from harness.cell import Cell  # noqa: F401
    from harness.conformance import ConformanceResult, check_backend, check_suite_names  # noqa: F401
    from harness.contract import (  # noqa: F401
        DIRECTIONS,
        FORWARD_OUTPUTS,
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
        layer_weight_names,
        lstm_layer_names,
        lstm_weight_prefix,
        refuse_unsupported_options,
        weight_names,
        weight_shapes,
    )
    from harness.errors import BenchUsageError  # noqa: F401
    from harness.explain.gate_trace import GateTrace  # noqa: F401
    from harness.measurement.flops import forward_flops, training_step_flops  # noqa: F401
    from harness.measurement.gemm_peak import GPU_GEMM_SIZE, best_gflops  # noqa: F401
    from harness.measurement.round_measurement import RoundMeasurement  # noqa: F401
    from harness.measurement.statistics import summarize  # noqa: F401
    from harness.measurement.timer import TimingBudget, time_step  # noqa: F401
    from harness.model_spec import ModelSpec  # noqa: F401
    from harness.optimizers import OptimizerSpec, keras_epsilon_for_torch  # noqa: F401
    from harness.plugins.hookspecs import hookimpl  # noqa: F401
    from harness.plugins.registry import BackendInfo  # noqa: F401
    from harness.profiling.categories import CATEGORIES, category_of  # noqa: F401
    from harness.profiling.chrome_trace import intervals_trace  # noqa: F401
    from harness.profiling.step_profile import StepProfile  # noqa: F401
    from harness.profiling.xla_trace import profile_from_xla_xspace, record_xspace  # noqa: F401
    from harness.rendering import Table  # noqa: F401
    from harness.results.record import (  # noqa: F401
        ERROR,
        FAIL,
        MEASURED_STATUSES,
        PASS,
        SKIPPED,
        STATUSES,
        UNAVAILABLE,
        UNSTABLE,
        UNSUPPORTED,
        Record,
    )
    from harness.suite import NotRun, Suite, SuiteOptions  # noqa: F401
    from harness.tolerances import (  # noqa: F401
        GRADIENT_TOLERANCE,
        LOSS_TOLERANCE,
        OUTPUT_TOLERANCE,
        TRAINING_TOLERANCE,
        TensorError,
        Tolerance,
        tensor_error,
    )
