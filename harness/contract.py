"""The backend contract: canonical weights, the per-layer summary, forward outputs and the two ABCs.

Every backend converts to and from ONE weight layout, named as in Keras:

=========================  =====================  ===========================================
name                       shape                  meaning
=========================  =====================  ===========================================
``embedding``              (V, E)                 row ``v`` is the vector of token id ``v``
``lstm.kernel``            (E, 4H)                input weights, gate blocks ``[i | f | c | o]``
``lstm.recurrent_kernel``  (H, 4H)                recurrent weights, same gate blocks
``lstm.bias``              (4H,)                  ONE bias vector, same gate blocks
``dense.kernel``           (F, 1)                 F = T*H with return_sequences, else H
``dense.bias``             (1,)
=========================  =====================  ===========================================

LSTM semantics (Keras'): for each step t, with ``z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias``
split into four blocks of H columns,

    i = sigmoid(z_i), f = sigmoid(z_f), c~ = tanh(z_c), o = sigmoid(z_o)
    c_t = f * c_{t-1} + i * c~
    h_t = o * tanh(c_t)

starting from ``h_0 = c_0 = 0``. The head flattens ``(B, T, H)`` row-major (feature ``t*H + j``) when
return_sequences is on, then ``predictions = sigmoid(features @ dense.kernel + dense.bias)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

import numpy as np

from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec

WEIGHT_NAMES = (
    "embedding",
    "lstm.kernel",
    "lstm.recurrent_kernel",
    "lstm.bias",
    "dense.kernel",
    "dense.bias",
)
"""Canonical weight names, in the order every backend lists them."""

Shape = tuple  # a tuple of ints, with None for the batch dimension in summaries


def weight_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The canonical shape of every weight of the model ``spec`` describes."""
    v, e, h = spec.vocab_size, spec.embed_dim, spec.hidden
    return {
        "embedding": (v, e),
        "lstm.kernel": (e, 4 * h),
        "lstm.recurrent_kernel": (h, 4 * h),
        "lstm.bias": (4 * h,),
        "dense.kernel": (spec.dense_features, 1),
        "dense.bias": (1,),
    }


LAYER_PARAM_FORMULAS = {
    "embedding": "V*E",
    "lstm": "4*(E*H + H*H + H)",
    "dense": "F + 1",
}
"""How `expected_layer_params` counts each layer that has parameters, as the reports print it."""


def expected_layer_params(spec: ModelSpec) -> dict[str, int]:
    """The analytic parameter count of each layer that has parameters (`LAYER_PARAM_FORMULAS`).

    ``embedding = V*E``, ``lstm = 4*(E*H + H*H + H)``, ``dense = F + 1``; input and flatten layers have none.
    """
    v, e, h = spec.vocab_size, spec.embed_dim, spec.hidden
    return {
        "embedding": v * e,
        "lstm": 4 * (e * h + h * h + h),
        "dense": spec.dense_features + 1,
    }


def total_param_formula() -> str:
    """The total as one formula, ``V*E + 4*(E*H + H*H + H) + (F + 1)``: each layer's formula, bracketed
    where it is itself a sum."""
    def term(formula: str) -> str:
        depth, top_level_sum = 0, False
        for character in formula:
            depth += {"(": 1, ")": -1}.get(character, 0)
            top_level_sum |= character == "+" and depth == 0
        return f"({formula})" if top_level_sum else formula

    return " + ".join(term(formula) for formula in LAYER_PARAM_FORMULAS.values())


def expected_total_params(spec: ModelSpec) -> int:
    """``V*E + 4*(E*H + H*H + H) + (F + 1)``: 250,115 for the article's defaults."""
    return sum(expected_layer_params(spec).values())


def expected_layer_output_shapes(spec: ModelSpec) -> dict[str, tuple[Shape, ...]]:
    """Each layer's output shapes with ``None`` for the batch, as Keras' ``model.summary()`` shows them."""
    t, h = spec.seq_len, spec.hidden
    lstm_out: Shape = (None, t, h) if spec.return_sequences else (None, h)
    lstm_shapes = (lstm_out, (None, h), (None, h)) if spec.return_state else (lstm_out,)
    shapes: dict[str, tuple[Shape, ...]] = {
        "input": ((None, t),),
        "embedding": ((None, t, spec.embed_dim),),
        "lstm": lstm_shapes,
    }
    if spec.return_sequences:
        shapes["flatten"] = ((None, t * h),)
    shapes["dense"] = ((None, 1),)
    return shapes


def check_weights(spec: ModelSpec, weights: Mapping[str, np.ndarray]) -> None:
    """Raise `BenchUsageError` unless ``weights`` has exactly the canonical names and shapes for ``spec``."""
    expected = weight_shapes(spec)
    missing = sorted(set(expected) - set(weights))
    unknown = sorted(set(weights) - set(expected))
    if missing or unknown:
        raise BenchUsageError(
            f"weights: missing {missing or 'none'}, unknown {unknown or 'none'} "
            f"(expected exactly {list(WEIGHT_NAMES)})"
        )
    for name, shape in expected.items():
        actual = tuple(np.shape(weights[name]))
        if actual != shape:
            raise BenchUsageError(f"weights: {name} has shape {actual}, expected {shape}")


@dataclass(frozen=True)
class LayerSummary:
    """One row of a Keras-style ``model.summary()``.

    Attributes:
        name: canonical layer name: ``input``, ``embedding``, ``lstm``, ``flatten`` or ``dense``.
        layer_type: the framework's own class name (``LSTM``, ``Linear``...), shown in brackets.
        output_shapes: one shape per output, ``None`` for the batch dimension.
        params: total parameters of the layer.
        trainable_params: the trainable part of ``params``.
    """

    name: str
    layer_type: str
    output_shapes: tuple[Shape, ...]
    params: int
    trainable_params: int


@dataclass(frozen=True)
class ForwardOutput:
    """What a forward pass returns, as NumPy arrays.

    Attributes:
        lstm_output: ``(B, T, H)`` with return_sequences, else ``(B, H)``.
        state_h: final hidden state ``(B, H)`` when return_state, else None.
        state_c: final cell state ``(B, H)`` when return_state, else None.
        predictions: ``(B, 1)`` sigmoid outputs in [0, 1].
    """

    lstm_output: np.ndarray
    state_h: np.ndarray | None
    state_c: np.ndarray | None
    predictions: np.ndarray


FORWARD_OUTPUTS = tuple(output.name for output in fields(ForwardOutput))
"""The outputs of a forward pass, in `ForwardOutput`'s order: ``lstm_output, state_h, state_c, predictions``."""


class UnsupportedCapability(Exception):
    """Raised by a backend for an optional capability it lacks; suites report it as ``unsupported``."""


class ClassifierModel(ABC):
    """One backend's build of the classifier for one `ModelSpec`.

    `summary`, `get_weights`, `set_weights` and `forward` are required. `loss_and_gradients` and
    `train_step` are optional: a backend without them inherits the default, which raises
    `UnsupportedCapability`, and the gradients and training suites report it as unsupported.
    """

    spec: ModelSpec

    @abstractmethod
    def summary(self) -> list[LayerSummary]:
        """Per-layer rows in model order: input, embedding, lstm, [flatten,] dense."""

    @abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """All trainable weights in the canonical names and layouts (see module docstring)."""

    @abstractmethod
    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Load canonical weights; raise `BenchUsageError` on a wrong name or shape (see `check_weights`)."""

    @abstractmethod
    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        """Run inference on int token ids ``(B, T)`` in ``[0, vocab_size)``; no gradients, no dropout."""

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean binary cross-entropy of the batch and its gradient for every canonical weight.

        :param token_ids: ``(B, T)`` ints.
        :param labels: ``(B, 1)`` floats in {0, 1}.
        :returns: the loss, and dense gradients in the canonical names and layouts (an embedding gradient
            that the framework keeps sparse is densified, with repeated tokens summed).
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not implement loss_and_gradients")

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        """One optimizer step on the batch; returns the loss computed before the update.

        The first call creates the optimizer state for ``optimizer``; later calls continue it, so N calls
        are N steps of one training run. Follow `harness.optimizers` exactly (SGD, or Keras' Adam).
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not implement train_step")

    def prepare_train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> Callable[[], object]:
        """For timing: put the batch on the model's device once and return a function that runs one full
        optimizer step (forward, loss, backward, update) and returns only when the device has finished.

        Nothing outside the returned function is timed; everything inside it is. The step works on the
        model itself: after a call, `get_weights` returns the updated weights, and each call continues the
        optimizer state as `train_step` does (two closures prepared on two batches share it). The ``train``
        suite verifies this outside the timed region (``suites.timed_work``): from the canonical weights,
        each of the first three calls must leave the weights where the reference's steps put them. What it
        returns is ignored.
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not implement prepare_train_step")

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        """For timing: put the batch on the model's device once and return a function that runs a forward
        pass without gradients and returns the batch's **predictions** ``(B, 1)`` once the device has
        finished (anything `output_to_numpy` reads: a NumPy array, a framework tensor, a `ForwardOutput`).

        The function must compute from the model's current weights at every call: the ``infer`` suite
        prepares several batches, rotates through them, checks each answer against the reference and,
        after sampling, changes the weights with `set_weights` and expects the answer to follow
        (``suites.timed_work``). Converting the answer to NumPy happens outside the timed region.
        """
        raise UnsupportedCapability(f"{type(self).__name__} does not implement prepare_inference")

    def output_to_numpy(self, output: object) -> np.ndarray:
        """The predictions a prepared inference returned, as a NumPy array; called outside the timed region.

        The default reads a `ForwardOutput`'s ``predictions``, then anything NumPy converts (``__array__``,
        a ``.numpy()`` method, after ``.cpu()`` where the object has one). Override it for other types.
        """
        if isinstance(output, ForwardOutput):
            output = output.predictions
        if hasattr(output, "detach"):
            output = output.detach()
        if hasattr(output, "cpu"):
            output = output.cpu()
        if hasattr(output, "numpy") and not isinstance(output, np.ndarray):
            output = output.numpy()
        return np.asarray(output)

    def reset_peak_device_memory(self) -> None:
        """Start a new peak-memory window on an accelerator (no-op on the CPU)."""

    def peak_device_memory_bytes(self) -> int | None:
        """Peak bytes allocated on the model's accelerator since the last reset; None on the CPU."""
        return None


class Backend(ABC):
    """A framework that builds the canonical classifier. Instantiated inside its own worker process.

    Subclasses import their framework at module level: the harness imports a backend's module only in
    the worker that runs it, never in ``bench list``.
    """

    @abstractmethod
    def framework_version(self) -> str:
        """E.g. ``torch 2.13.0+cpu`` or ``keras 3.15.0 (tensorflow 2.21.0)``."""

    @abstractmethod
    def devices(self) -> list[str]:
        """Devices this backend can run on right now, e.g. ``["cpu", "cuda"]``."""

    @abstractmethod
    def build(self, spec: ModelSpec, device: str = "cpu") -> ClassifierModel:
        """Build the model on ``device`` (one of `devices`) with framework-default initial weights."""

    def gemm_peak_gflops(self, device: str) -> float | None:
        """Optional: this framework's float32 matrix-multiply throughput on an accelerator, for the
        fraction-of-peak figures. None where not measured (the CPU peak is measured by the harness)."""
        return None
