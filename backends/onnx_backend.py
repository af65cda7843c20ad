"""The ONNX Runtime backend: the classifier as an ONNX graph built from the canonical weights, run by ONNX
Runtime. Inference only: a runtime has no training, so the gradient and training capabilities raise
`UnsupportedCapability` and show as ``unsupported``.

The graph (`classifier_graph`, opset `OPSET`): ``Gather`` (the embedding) -> ``Transpose`` to time-major
-> one ONNX ``LSTM`` node per layer -> ``Flatten`` (return_sequences) -> ``Gemm`` -> ``Sigmoid``; the
last layer's output sequence and final states are graph outputs too, so `forward` reads every output the
contract asks for from one run.

Layouts (`onnx_lstm_weights`): ONNX's ``LSTM`` keeps its gates in the order **i, o, f, c** (the canonical
order is i, f, c, o: `ONNX_GATE_ORDER`), its ``W`` is ``(directions, 4H, input)`` and ``R`` ``(directions,
4H, H)`` (the canonical kernels transposed, gate blocks reordered), and its ``B`` ``(directions, 8H)``
holds an input bias and a recurrent bias, added together: the canonical bias goes in the first half, zeros
in the second. A bidirectional layer is one node with ``direction="bidirectional"``, forward first as in
the contract; a right-padded batch passes each example's length as ``sequence_lens`` (the runtime skips
the padded steps, starts the backward direction at the last real token and writes zeros past the
length). Left padding is not built (``unsupported``).

Weights are initializers; `OnnxClassifier.set_weights` rebuilds the session, so a prepared inference
always runs the current weights. Threads follow ``--threads`` (``intra_op_num_threads``); the graph
optimisation level is the backend's option (the ``onnxruntime-basic`` and ``onnxruntime-noopt`` variants).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from harness.canonical import keras_default_weights
from harness.contract import (
    DIRECTIONS,
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    UnsupportedCapability,
    check_weights,
    layer_weight_names,
    lstm_layer_names,
    lstm_weight_prefix,
    refuse_unsupported_options,
)
from harness.model_spec import ModelSpec

OPSET = 17
CANONICAL_GATE_ORDER = ("i", "f", "c", "o")
ONNX_GATE_ORDER = ("i", "o", "f", "c")
"""The ONNX ``LSTM`` operator's gate blocks, in order (the canonical kernels' are `CANONICAL_GATE_ORDER`)."""
OPTIMIZATION_LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def reorder_gates(matrix: np.ndarray, hidden: int, order: tuple[str, ...] | None = None) -> np.ndarray:
    """``matrix``'s gate blocks along its first axis (4 blocks of ``hidden``, canonical order) in ``order``
    (default `ONNX_GATE_ORDER`)."""
    order = order or ONNX_GATE_ORDER
    blocks = {gate: matrix[index * hidden:(index + 1) * hidden] for index, gate in enumerate(CANONICAL_GATE_ORDER)}
    return np.concatenate([blocks[gate] for gate in order], axis=0)


def onnx_lstm_weights(weights: Mapping[str, np.ndarray], spec: ModelSpec, layer: int) -> tuple[np.ndarray, ...]:
    """One layer's ``W``, ``R`` and ``B`` for the ONNX ``LSTM`` operator from the canonical weights (see the
    module docstring)."""
    hidden, name = spec.hidden, lstm_layer_names(spec)[layer]
    w, r, b = [], [], []
    for direction in DIRECTIONS[:spec.directions]:
        prefix = lstm_weight_prefix(name, direction)
        w.append(reorder_gates(np.asarray(weights[f"{prefix}.kernel"]).T, hidden))
        r.append(reorder_gates(np.asarray(weights[f"{prefix}.recurrent_kernel"]).T, hidden))
        bias = reorder_gates(np.asarray(weights[f"{prefix}.bias"]), hidden)
        b.append(np.concatenate([bias, np.zeros_like(bias)]))
    return tuple(np.stack(part).astype(np.float32) for part in (w, r, b))


def classifier_graph(spec: ModelSpec, weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The classifier as an ONNX model with ``weights`` as initializers; input ``token_ids`` int64 ``(B, T)``,
    outputs ``lstm_output``, ``state_h``, ``state_c`` (the last layer's, ``(B, D*H)``) and ``predictions``."""
    nodes, initializers = [], []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], outputs: list[str], **attributes) -> list[str]:
        nodes.append(helper.make_node(op, inputs, outputs, name=outputs[0], **attributes))
        return outputs

    constant("embedding", np.asarray(weights["embedding"], dtype=np.float32))
    node("Gather", ["embedding", "token_ids"], ["embedded"])
    sequence = node("Transpose", ["embedded"], ["lstm_input"], perm=[1, 0, 2])[0]
    lengths = ""
    if spec.padding == "right":
        node("Not", node("Equal", ["token_ids", constant("zero_id", np.array(0, dtype=np.int64))], ["is_padding"]), ["is_real"])
        node("Cast", ["is_real"], ["real_steps"], to=TensorProto.INT32)
        lengths = node("ReduceSum", ["real_steps", constant("time_axis", np.array([1], dtype=np.int64))], ["sequence_lens"],
                       keepdims=0)[0]
    width = constant("to_width", np.array([0, 0, -1], dtype=np.int64))
    for layer, name in enumerate(lstm_layer_names(spec)):
        w, r, b = onnx_lstm_weights(weights, spec, layer)
        outputs = node("LSTM", [sequence, constant(f"{name}.W", w), constant(f"{name}.R", r), constant(f"{name}.B", b), lengths],
                       [f"{name}.Y", f"{name}.Y_h", f"{name}.Y_c"], hidden_size=spec.hidden,
                       direction="bidirectional" if spec.bidirectional else "forward")
        steps_first = node("Transpose", [outputs[0]], [f"{name}.Y_tbdh"], perm=[0, 2, 1, 3])[0]  # (T, B, D, H)
        sequence = node("Reshape", [steps_first, width], [f"{name}.output"])[0]  # (T, B, D*H), forward first
    batch_width = constant("to_batch_width", np.array([0, -1], dtype=np.int64))
    for state in ("h", "c"):
        node("Transpose", [f"{name}.Y_{state}"], [f"state_{state}_bdh"], perm=[1, 0, 2])
        node("Reshape", [f"state_{state}_bdh", batch_width], [f"state_{state}"])
    node("Transpose", [sequence], ["lstm_sequence"], perm=[1, 0, 2])  # (B, T, D*H)
    if spec.return_sequences:
        node("Identity", ["lstm_sequence"], ["lstm_output"])
        features = node("Flatten", ["lstm_sequence"], ["flatten"], axis=1)[0]
    else:
        features = node("Identity", ["state_h"], ["lstm_output"])[0]
    node("Gemm", [features, constant("dense.kernel", np.asarray(weights["dense.kernel"], dtype=np.float32)),
                  constant("dense.bias", np.asarray(weights["dense.bias"], dtype=np.float32))], ["logits"])
    node("Sigmoid", ["logits"], ["predictions"])
    width_out = spec.directions * spec.hidden
    graph = helper.make_graph(
        nodes, "lstm_text_classifier",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["batch", spec.seq_len])],
        [helper.make_tensor_value_info("lstm_output", TensorProto.FLOAT,
                                       ["batch", spec.seq_len, width_out] if spec.return_sequences else ["batch", width_out]),
         helper.make_tensor_value_info("state_h", TensorProto.FLOAT, ["batch", width_out]),
         helper.make_tensor_value_info("state_c", TensorProto.FLOAT, ["batch", width_out]),
         helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["batch", 1])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstm-bench")
    model.ir_version = min(model.ir_version, 8)
    return model


def run_threads() -> int | None:
    """The run's ``--threads`` (the worker's ``LSTM_BENCH_THREADS``); None: ONNX Runtime's default."""
    threads = os.environ.get("LSTM_BENCH_THREADS")
    return int(threads) if threads and threads.isdigit() else None


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime over `classifier_graph`, at a graph optimisation level (`OPTIMIZATION_LEVELS`)."""

    def __init__(self, optimization: str = "all") -> None:
        if optimization not in OPTIMIZATION_LEVELS:
            raise ValueError(f"onnxruntime: optimization {optimization!r} is not one of {tuple(OPTIMIZATION_LEVELS)}")
        self.optimization = optimization

    def framework_version(self) -> str:
        threads = run_threads()
        return (f"onnxruntime {ort.__version__}, onnx {onnx.__version__} (providers: {', '.join(ort.get_available_providers())}; "
                f"graph optimisation {self.optimization}; {threads or 'default'} threads)")

    def devices(self) -> list[str]:
        return [device for device, provider in PROVIDERS.items() if provider in ort.get_available_providers()]

    def build(self, spec: ModelSpec, device: str = "cpu") -> OnnxClassifier:
        refuse_unsupported_options(spec, "onnxruntime", padding=("none", "right"))
        device_kind, _, index = device.partition(":")
        if PROVIDERS.get(device_kind) not in ort.get_available_providers():
            raise UnsupportedCapability(f"onnxruntime has no execution provider for {device} "
                                        f"(available: {', '.join(ort.get_available_providers())})")
        return OnnxClassifier(spec, keras_default_weights(spec), device_kind, self.optimization,
                              device_id=int(index) if index.isdigit() else 0)


class OnnxClassifier(ClassifierModel):
    """The canonical weights, the ONNX model made of them, and an inference session over it."""

    def __init__(self, spec: ModelSpec, weights: Mapping[str, np.ndarray], device: str, optimization: str,
                 device_id: int = 0) -> None:
        self.spec, self.device, self.optimization, self.device_id = spec, device, optimization, device_id
        self.weights = {name: np.array(value, dtype=np.float32, copy=True) for name, value in weights.items()}
        self.session = self._session()

    def _session(self) -> ort.InferenceSession:
        self.model = classifier_graph(self.spec, self.weights)
        options = ort.SessionOptions()
        options.graph_optimization_level = OPTIMIZATION_LEVELS[self.optimization]
        options.log_severity_level = 3
        threads = run_threads()
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        provider = (PROVIDERS[self.device], {"device_id": self.device_id}) if self.device == "cuda" else PROVIDERS[self.device]
        return ort.InferenceSession(self.model.SerializeToString(), options, providers=[provider])

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.weights.items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        self.weights = {name: np.array(weights[name], dtype=np.float32, copy=True) for name in self.weights}
        self.session = self._session()

    def _run(self, token_ids: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        return self.session.run(outputs, {"token_ids": np.asarray(token_ids, dtype=np.int64)})

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        lstm_output, state_h, state_c, predictions = self._run(token_ids, ["lstm_output", "state_h", "state_c", "predictions"])
        states = (state_h, state_c) if self.spec.return_state else (None, None)
        return ForwardOutput(lstm_output, *states, predictions)

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        """The predictions alone from the batch put on the device once (an ``OrtValue``); the session is read
        at each call (`set_weights` replaces it); the answer is an ``OrtValue``, read outside the timed call."""
        ids = np.ascontiguousarray(token_ids, dtype=np.int64)  # kept alive: a CPU OrtValue shares its memory
        batch = ort.OrtValue.ortvalue_from_numpy(ids, self.device, self.device_id)

        def step():
            return self.session.run_with_ort_values(["predictions"], {"token_ids": batch})[0]

        step.keeps = ids
        return step

    def kernel_path(self) -> str:
        provider = PROVIDERS[self.device]
        return f"ONNX LSTM op ({provider}" + (", sequence_lens" if self.spec.padded else "") + ")"

    def summary(self) -> list[LayerSummary]:
        outputs = self.forward(np.ones((1, self.spec.seq_len), dtype=np.int64))
        width = self.spec.directions * self.spec.hidden
        params = {layer: sum(self.weights[name].size for name in names) for layer, names in layer_weight_names(self.spec).items()}
        lstm_names = lstm_layer_names(self.spec)
        shapes = {"input": ((None, self.spec.seq_len),), "embedding": ((None, self.spec.seq_len, self.spec.embed_dim),),
                  **{name: ((None, self.spec.seq_len, width),) for name in lstm_names[:-1]},
                  lstm_names[-1]: tuple((None, *output.shape[1:]) for output in (
                      (outputs.lstm_output, outputs.state_h, outputs.state_c) if self.spec.return_state else (outputs.lstm_output,))),
                  "flatten": ((None, self.spec.seq_len * width),), "dense": ((None, 1),)}
        types = {"input": "input", "embedding": "Gather", "flatten": "Flatten", "dense": "Gemm+Sigmoid"}
        order = ["input", "embedding", *lstm_names, *(["flatten"] if self.spec.return_sequences else []), "dense"]
        return [LayerSummary(name, types.get(name, "LSTM"), shapes[name], params.get(name, 0), params.get(name, 0))
                for name in order]
