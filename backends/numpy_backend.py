"""The NumPy reference backend: the contract around `backends.numpy_reference`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from backends import numpy_reference as reference
from backends.numpy_optimizers import NumpyOptimizer
from harness.canonical import keras_default_weights
from harness.contract import (
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    UnsupportedCapability,
    check_weights,
    layer_weight_names,
)
from harness.errors import BenchUsageError
from harness.explain.gate_trace import GateTrace, trace_of_stack
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.profiling.phase_timer import PhaseTimer
from harness.profiling.step_profile import StepProfile

DTYPES = ("float32", "float64")


class NumpyBackend(Backend):
    """Gate-by-gate NumPy; float32 by default, ``dtype="float64"`` for gradient checks."""

    def __init__(self, dtype: str = "float32") -> None:
        if dtype not in DTYPES:
            raise BenchUsageError(f"numpy backend: dtype {dtype!r} is not supported (expected one of {DTYPES})")
        self.dtype = dtype

    def framework_version(self) -> str:
        return f"numpy {np.__version__} ({self.dtype})"

    def devices(self) -> list[str]:
        return ["cpu"]

    def build(self, spec: ModelSpec, device: str = "cpu") -> NumpyClassifier:
        if device != "cpu":
            raise UnsupportedCapability(f"numpy runs on the cpu only, not {device}")
        return NumpyClassifier(spec, keras_default_weights(spec, self.dtype))


class NumpyClassifier(ClassifierModel):
    """The classifier as six NumPy arrays in the canonical layout."""

    def __init__(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> None:
        self.spec = spec
        self.weights = weights
        self.optimizer: NumpyOptimizer | None = None
        self.workspace = reference.Workspace()
        self.timer = PhaseTimer()

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.weights.items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        dtype = self.weights["embedding"].dtype
        self.weights = {name: np.array(weights[name], dtype=dtype) for name in self.weights}

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        layers = self._layer_outputs(np.asarray(token_ids))
        last_lstm = layers[list(layer_weight_names(self.spec))[-2]]
        states = last_lstm[1:] if self.spec.return_state else (None, None)
        return ForwardOutput(last_lstm[0], states[0], states[1], layers["dense"][0])

    def lstm_gates(self, token_ids: np.ndarray) -> GateTrace:
        """The gates its own forward pass computes (in its dtype), kept per step by the reference."""
        token_ids = np.asarray(token_ids)
        stack = reference.lstm_stack_forward(self.weights["embedding"][token_ids], self.weights, self.spec,
                                             reference.real_steps(token_ids, self.spec), reference.Workspace())
        return trace_of_stack(self.spec, stack, f"its own gates ({self.weights['embedding'].dtype})")

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        dtype = self.weights["embedding"].dtype
        return reference.classifier_loss_and_gradients(
            self.weights, np.asarray(token_ids), np.asarray(labels, dtype=dtype), self.spec, self.workspace,
            self.timer.phase,
        )

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        if self.optimizer is None or self.optimizer.spec != optimizer:
            self.optimizer = NumpyOptimizer(optimizer)
        loss, gradients = self.loss_and_gradients(token_ids, labels)
        with self.timer.phase("optimizer"):
            self.optimizer.apply(self.weights, gradients)
        return loss

    def profile_steps(self, step: Callable[[], object], calls: int) -> StepProfile:
        """Timers around the reference's phases (embedding, lstm, head, loss, optimizer)."""
        return self.timer.profile(step, calls, profiler="phase timers (time.perf_counter)", kernel_path=self.kernel_path())

    def prepare_train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> Callable[[], object]:
        token_ids, labels = np.asarray(token_ids), np.asarray(labels, dtype=self.weights["embedding"].dtype)
        return lambda: self.train_step(token_ids, labels, optimizer)

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        token_ids = np.asarray(token_ids)
        return lambda: self.forward(token_ids)

    def kernel_path(self) -> str:
        return "NumPy step loop" + (", masked" if self.spec.padded else "")

    def summary(self) -> list[LayerSummary]:
        layers = self._layer_outputs(np.zeros((1, self.spec.seq_len), dtype=np.int64))
        params = {layer: sum(self.weights[name].size for name in names)
                  for layer, names in layer_weight_names(self.spec).items()}
        types = {"input": "InputLayer", "embedding": "Embedding", "flatten": "Flatten", "dense": "Dense"}
        lstm_type = "Bidirectional(LSTM)" if self.spec.bidirectional else "LSTM"
        return [
            LayerSummary(
                name=name,
                layer_type=types.get(name, lstm_type),
                output_shapes=tuple((None, *output.shape[1:]) for output in outputs),
                params=params.get(name, 0),
                trainable_params=params.get(name, 0),
            )
            for name, outputs in layers.items()
        ]

    def _layer_outputs(self, token_ids: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
        """Every layer's outputs in model order, as Keras' functional graph would produce them."""
        w, spec, phase = self.weights, self.spec, self.timer.phase
        with phase("embedding"):
            embedded = w["embedding"][token_ids]
        with phase("lstm"):
            stack = reference.lstm_stack_forward(embedded, w, spec, reference.real_steps(token_ids, spec))
        layers = {"input": (token_ids,), "embedding": (embedded,)}
        names = list(layer_weight_names(spec))[1:-1]
        for name, outputs in zip(names[:-1], stack.layer_outputs[:-1]):
            layers[name] = (outputs,)
        lstm_output = stack.outputs if spec.return_sequences else stack.final_hidden
        layers[names[-1]] = (lstm_output, stack.final_hidden, stack.final_cell) if spec.return_state else (lstm_output,)
        with phase("head"):
            features = reference.dense_features(stack, spec.return_sequences)
            if self.spec.return_sequences:
                layers["flatten"] = (features,)
            layers["dense"] = (reference.sigmoid(features @ w["dense.kernel"] + w["dense.bias"]),)
        return layers
