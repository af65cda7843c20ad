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

Stacked, bidirectional and padded models (`ModelSpec.layers`, ``bidirectional``, ``padding``; the
whole text with examples is docs/contract.md, "Padding, stacking and directions"):

- **Names.** Layer k's weights are ``lstm_k.kernel`` etc. (``lstm`` for k = 0, so the article's names do
  not change); a bidirectional layer's backward direction is ``lstm_k.backward.kernel`` etc. Layer 0
  reads E features, every later layer ``D*H`` (D = 2 when bidirectional).
- **Padding.** With ``padding`` right or left, token id 0 is padding. A padded step leaves h and c as
  they were (the step is skipped), its output is exactly 0 in every layer and direction, and nothing
  about it reaches the loss: the embedding's row 0 and every weight get no gradient from it.
- **Directions.** The backward direction reads each example from its last real token to its first
  (padding is never read first); its output at step t is aligned with input position t. Each layer's
  output per step is ``[forward | backward]``, width 2H; layer k+1 reads that concatenation.
- **Final states.** The forward direction's final state is the state after the example's last real token;
  the backward direction's, after its first real token. ``state_h`` and ``state_c`` are the *last* layer's,
  ``(B, D*H)``, forward first; without return_sequences the LSTM's output is ``state_h``.
- **Head.** With return_sequences the dense head reads all T steps flattened row-major, ``T*D*H``
  features, padded steps being 0; otherwise it reads ``state_h``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec

if TYPE_CHECKING:
    from harness.explain.gate_trace import GateTrace
    from harness.profiling.step_profile import StepProfile


def lstm_layer_names(spec: ModelSpec) -> tuple[str, ...]:
    """The LSTM layers' canonical names, bottom first: ``lstm``, then ``lstm_1``, ``lstm_2``... (Keras'
    own naming of a model's second and third LSTM)."""
    return tuple("lstm" if layer == 0 else f"lstm_{layer}" for layer in range(spec.layers))


DIRECTIONS = ("forward", "backward")
"""A bidirectional layer's directions, in the order of its outputs, its states and its weights."""


def lstm_weight_prefix(layer_name: str, direction: str) -> str:
    """The prefix of one direction's three weights: ``lstm`` (forward) or ``lstm.backward``."""
    return layer_name if direction == "forward" else f"{layer_name}.backward"


def lstm_layer_weights(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """Each LSTM layer's canonical weight names, forward direction first:
    ``{"lstm": ("lstm.kernel", "lstm.recurrent_kernel", "lstm.bias", "lstm.backward.kernel", ...)}``."""
    return {
        layer_name: tuple(f"{lstm_weight_prefix(layer_name, direction)}.{part}"
                          for direction in DIRECTIONS[:spec.directions]
                          for part in ("kernel", "recurrent_kernel", "bias"))
        for layer_name in lstm_layer_names(spec)
    }


def layer_weight_names(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """Every layer with weights and its canonical weight names, in model order."""
    return {"embedding": ("embedding",), **lstm_layer_weights(spec), "dense": ("dense.kernel", "dense.bias")}


def weight_names(spec: ModelSpec) -> tuple[str, ...]:
    """Every canonical weight name of the model ``spec`` describes, in the order backends list them."""
    return tuple(name for names in layer_weight_names(spec).values() for name in names)


WEIGHT_NAMES = weight_names(ModelSpec())
"""The article's model's canonical weight names (one unidirectional layer); `weight_names` gives any spec's."""

Shape = tuple  # a tuple of ints, with None for the batch dimension in summaries


def lstm_input_width(spec: ModelSpec, layer: int) -> int:
    """What LSTM layer ``layer`` (0-based) reads per step: E for the first, ``D * H`` for the others."""
    return spec.embed_dim if layer == 0 else spec.lstm_width


def weight_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The canonical shape of every weight of the model ``spec`` describes: per layer and direction
    ``kernel (in, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)`` with ``in`` = `lstm_input_width`."""
    h = spec.hidden
    shapes: dict[str, tuple[int, ...]] = {"embedding": (spec.vocab_size, spec.embed_dim)}
    for layer, names in enumerate(lstm_layer_weights(spec).values()):
        for name in names:
            part = name.rsplit(".", 1)[1]
            shapes[name] = {"kernel": (lstm_input_width(spec, layer), 4 * h), "recurrent_kernel": (h, 4 * h),
                            "bias": (4 * h,)}[part]
    shapes["dense.kernel"] = (spec.dense_features, 1)
    shapes["dense.bias"] = (1,)
    return shapes


def layer_param_formulas(spec: ModelSpec) -> dict[str, str]:
    """How `expected_layer_params` counts each layer that has parameters, as the reports print it: the
    article's ``V*E``, ``4*(E*H + H*H + H)``, ``F + 1``; a layer above the first reads ``H`` (or ``2*H``
    bidirectional) features instead of ``E``, and a bidirectional layer counts twice."""
    formulas = {"embedding": "V*E"}
    for layer, layer_name in enumerate(lstm_layer_names(spec)):
        width = "E" if layer == 0 else ("2*H" if spec.bidirectional else "H")
        formulas[layer_name] = ("2*" if spec.bidirectional else "") + f"4*({width}*H + H*H + H)"
    formulas["dense"] = "F + 1"
    return formulas


LAYER_PARAM_FORMULAS = layer_param_formulas(ModelSpec())
"""The article's model's per-layer formulas; `layer_param_formulas` gives any spec's."""


def expected_layer_params(spec: ModelSpec) -> dict[str, int]:
    """The analytic parameter count of each layer that has parameters (`layer_param_formulas`).

    ``embedding = V*E``, ``lstm = D*4*(in*H + H*H + H)`` per LSTM layer (``in`` = E, then D*H),
    ``dense = F + 1``; input and flatten layers have none.
    """
    h = spec.hidden
    counts = {"embedding": spec.vocab_size * spec.embed_dim}
    for layer, layer_name in enumerate(lstm_layer_names(spec)):
        counts[layer_name] = spec.directions * 4 * (lstm_input_width(spec, layer) * h + h * h + h)
    counts["dense"] = spec.dense_features + 1
    return counts


def total_param_formula(spec: ModelSpec | None = None) -> str:
    """The total as one formula, ``V*E + 4*(E*H + H*H + H) + (F + 1)`` for the article's model: each
    layer's formula, bracketed where it is itself a sum."""
    def term(formula: str) -> str:
        depth, top_level_sum = 0, False
        for character in formula:
            depth += {"(": 1, ")": -1}.get(character, 0)
            top_level_sum |= character == "+" and depth == 0
        return f"({formula})" if top_level_sum else formula

    return " + ".join(term(formula) for formula in layer_param_formulas(spec or ModelSpec()).values())


def expected_total_params(spec: ModelSpec) -> int:
    """``V*E + 4*(E*H + H*H + H) + (F + 1)``: 250,115 for the article's defaults."""
    return sum(expected_layer_params(spec).values())


def expected_layer_output_shapes(spec: ModelSpec) -> dict[str, tuple[Shape, ...]]:
    """Each layer's output shapes with ``None`` for the batch, as Keras' ``model.summary()`` shows them.

    Every LSTM layer below the last returns its whole sequence ``(None, T, D*H)``; the last returns its
    sequence or its last output ``(None, D*H)``, and under return_state also its final h and c, each
    ``(None, D*H)`` (both directions concatenated, forward first).
    """
    t, width = spec.seq_len, spec.lstm_width
    shapes: dict[str, tuple[Shape, ...]] = {"input": ((None, t),), "embedding": ((None, t, spec.embed_dim),)}
    names = lstm_layer_names(spec)
    for layer_name in names[:-1]:
        shapes[layer_name] = ((None, t, width),)
    last: Shape = (None, t, width) if spec.return_sequences else (None, width)
    shapes[names[-1]] = (last, (None, width), (None, width)) if spec.return_state else (last,)
    if spec.return_sequences:
        shapes["flatten"] = ((None, t * width),)
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
            f"(expected exactly {list(weight_names(spec))})"
        )
    for name, shape in expected.items():
        actual = tuple(np.shape(weights[name]))
        if actual != shape:
            raise BenchUsageError(f"weights: {name} has shape {actual}, expected {shape}")


@dataclass(frozen=True)
class LayerSummary:
    """One row of a Keras-style ``model.summary()``.

    Attributes:
        name: canonical layer name: ``input``, ``embedding``, ``lstm`` (``lstm_1``... when stacked), ``flatten``
            or ``dense``.
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
        lstm_output: the last LSTM layer's output: ``(B, T, D*H)`` with return_sequences (0 at padded
            steps), else ``(B, D*H)``, equal to ``state_h``; D = 2 when bidirectional, else 1.
        state_h: the last layer's final hidden state ``(B, D*H)`` when return_state, else None: per
            direction the state after the example's last real token (forward) or first (backward),
            forward first.
        state_c: the last layer's final cell state ``(B, D*H)`` when return_state, else None, as state_h.
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


REFUSES = " does not build "
"""How `refuse_unsupported_options` words a refusal (``jax does not build --layers 2 ...``); ``bench check``
gathers every refused option of a run by it."""


def refuse_unsupported_options(spec: ModelSpec, backend: str, **supported: tuple) -> None:
    """Raise `UnsupportedCapability` naming every option of ``spec`` that ``backend`` does not build.

    A backend calls it first thing in `Backend.build`, with the values it builds of each `ModelSpec`
    field it limits, e.g. ``refuse_unsupported_options(spec, "jax", layers=(1,), padding=("none",))``;
    every suite then reports the cell ``unsupported`` with the reason, which ``bench check`` prints:
    ``jax does not build --layers 2 (it builds: 1); --padding right (it builds: none)``. A backend that
    silently built the article's model instead would fail every check.
    """
    refused = []
    for name, values in supported.items():
        if name not in ModelSpec.field_names():
            raise TypeError(f"refuse_unsupported_options: {name!r} is not a ModelSpec field")
        value = getattr(spec, name)
        if value not in values:
            flag = "--" + name.replace("_", "-")
            shown = f"{flag} {value}" if not isinstance(value, bool) else (flag if value else f"--no-{flag[2:]}")
            builds = ", ".join(({True: "on", False: "off"}[accepted] if isinstance(accepted, bool) else str(accepted))
                               for accepted in values)
            refused.append(f"{shown} (it builds: {builds})")
    if refused:
        raise UnsupportedCapability(f"{backend}{REFUSES}" + "; ".join(refused))


class ClassifierModel(ABC):
    """One backend's build of the classifier for one `ModelSpec`.

    `summary`, `get_weights`, `set_weights` and `forward` are required. `loss_and_gradients` and
    `train_step` are optional: a backend without them inherits the default, which raises
    `UnsupportedCapability`, and the gradients and training suites report it as unsupported.
    """

    spec: ModelSpec

    @abstractmethod
    def summary(self) -> list[LayerSummary]:
        """Per-layer rows in model order: input, embedding, lstm, [lstm_1, ...,] [flatten,] dense (a
        bidirectional layer is one row, its parameters both directions')."""

    @abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """All trainable weights in the canonical names and layouts (see module docstring)."""

    @abstractmethod
    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Load canonical weights; raise `BenchUsageError` on a wrong name or shape (see `check_weights`)."""

    @abstractmethod
    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        """Run inference on int token ids ``(B, T)`` in ``[0, vocab_size)``; no gradients, no dropout. With
        ``spec.padding`` right or left, id 0 is padding (see the module docstring): each example's length
        is its count of non-zero ids, and its zeros are all on the spec's side."""

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

    def profile_steps(self, step: Callable[[], object], calls: int) -> StepProfile | None:
        """Optional: run a prepared ``step`` (what `prepare_train_step` or `prepare_inference` returned)
        ``calls`` times under the framework's own profiler and say where the time went: a
        `harness.profiling.step_profile.StepProfile` (seconds per step in each category of
        `harness.profiling.categories.CATEGORIES`, mapped from the framework's op names by this backend; the
        top ops; the LSTM kernel read from the trace, None where it does not say; a Chrome trace). Called
        after a timing cell's samples, never during them (``bench run --profile``). None, the default:
        "not profiled"."""
        return None

    def lstm_gates(self, token_ids: np.ndarray) -> GateTrace | None:
        """Optional: every LSTM layer's and direction's gates and states for ``token_ids`` ``(B, T)``, as the
        framework computes them: a `harness.explain.gate_trace.GateTrace` (per weight prefix, ``x``, ``i``,
        ``f``, ``g``, ``o``, ``c``, ``h`` as ``(B, T, width)`` in the direction's reading order). ``bench
        explain`` and the ``gates`` suite compare it with the reference step by step. None, the default:
        lstm-bench recomputes the gates from the weights the model reports and the states it exposes, and
        says so."""
        return None

    def kernel_path(self) -> str | None:
        """Optional: which LSTM kernel this model runs, where the framework can tell (e.g. ``cuDNN``, ``ATen
        fused LSTM, packed``, ``generic loop (tf.while_loop)``), for the timing tables; None: not said."""
        return None

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
