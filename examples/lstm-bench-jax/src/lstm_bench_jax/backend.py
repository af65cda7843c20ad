"""The classifier in JAX: parameters are the canonical weights themselves, one dict of arrays.

- forward: the embedding lookup, then ``jax.lax.scan`` over time steps with the Keras gate order
  i, f, c, o, one bias and a zero initial state, then the dense head with a sigmoid; stacked layers
  read the layer below, a bidirectional layer runs a second scan over each example's real steps in
  reverse (``jnp.take_along_axis``), and a padded step (token id 0, when the spec pads) keeps the state
  and outputs 0 (``jnp.where`` inside the scan);
- gradients: ``jax.value_and_grad`` of the mean binary cross-entropy (predictions clipped to
  [1e-7, 1 - 1e-7] like Keras);
- optimizers: SGD and Adam written with ``jax.tree_util`` in the Keras form lstm-bench defines
  (`harness.api.OptimizerSpec`); the whole training step is one ``jax.jit`` function;
- profiles (``bench run --profile``): each phase runs in a ``jax.named_scope`` (``embedding``, ``lstm``,
  ``lstm_1``..., ``dense``, ``loss``, ``optimizer``), which XLA keeps as every instruction's ``op_name``;
  ``jax.profiler`` records the steps and lstm-bench reads its trace (`harness.api.profile_from_xla_xspace`)
  with `PROFILE_RULES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from harness.api import (
    DIRECTIONS,
    Backend,
    ClassifierModel,
    ForwardOutput,
    GateTrace,
    LayerSummary,
    ModelSpec,
    OptimizerSpec,
    StepProfile,
    check_weights,
    expected_layer_output_shapes,
    keras_default_weights,
    layer_weight_names,
    lstm_layer_names,
    lstm_weight_prefix,
    profile_from_xla_xspace,
    record_xspace,
)

BCE_EPSILON = 1e-7

PROFILE_RULES = (
    (r"(^|[/(])embedding[/)]", "embedding"),
    (r"(^|[/(])lstm(_\d+)?[/)]", "lstm"),
    (r"(^|[/(])dense[/)]", "head"),
    (r"(^|[/(])loss[/)]", "loss"),
    (r"(^|[/(])optimizer[/)]", "optimizer"),
)
"""The named scopes of `classify`, `mean_bce` and `train_step` and their lstm-bench categories (an
instruction's scope is e.g. ``jit(train_step)/transpose(jvp(lstm))/while/body/...``)."""


def lstm(params: Mapping[str, jax.Array], prefix: str, inputs: jax.Array, real: jax.Array, with_gates: bool = False):
    """Run one direction's LSTM (weights ``{prefix}.kernel`` ...) over ``inputs`` ``(B, T, E)``: every
    step's output ``(B, T, H)`` (0 at padded steps), the final h and c, and with ``with_gates`` every step's
    gates and states ``{"i", "f", "g", "o", "c", "h"}`` ``(B, T, H)`` (else None). ``real`` ``(B, T)`` is
    True at real steps; a padded step keeps the state."""
    kernel, recurrent_kernel = params[f"{prefix}.kernel"], params[f"{prefix}.recurrent_kernel"]
    units = recurrent_kernel.shape[0]
    projected = jnp.einsum("bte,eg->tbg", inputs, kernel) + params[f"{prefix}.bias"]  # time first

    def step(state, z_input_and_real):
        hidden, cell = state
        z_input, is_real = z_input_and_real
        z = z_input + hidden @ recurrent_kernel
        i = jax.nn.sigmoid(z[:, :units])
        f = jax.nn.sigmoid(z[:, units:2 * units])
        g = jnp.tanh(z[:, 2 * units:3 * units])
        o = jax.nn.sigmoid(z[:, 3 * units:])
        new_cell = f * cell + i * g
        new_hidden = o * jnp.tanh(new_cell)
        is_real = is_real[:, None]
        hidden, cell = jnp.where(is_real, new_hidden, hidden), jnp.where(is_real, new_cell, cell)
        output = jnp.where(is_real, new_hidden, 0.0)
        return (hidden, cell), ((output, {"i": i, "f": f, "g": g, "o": o, "c": cell, "h": hidden}) if with_gates
                                else output)

    zeros = jnp.zeros((inputs.shape[0], units), inputs.dtype)
    (hidden, cell), per_step = jax.lax.scan(step, (zeros, zeros), (projected, real.T))
    outputs, gates = per_step if with_gates else (per_step, None)
    if gates is not None:
        gates = {name: value.transpose(1, 0, 2) for name, value in gates.items()}
    return outputs.transpose(1, 0, 2), hidden, cell, gates


def reversal_within_lengths(real: jax.Array) -> jax.Array:
    """``(B, T)`` indices that read each example's real steps last to first, padding left in place."""
    steps = jnp.broadcast_to(jnp.arange(real.shape[1]), real.shape)
    first = jnp.argmax(real, axis=1)[:, None]
    last = real.shape[1] - 1 - jnp.argmax(real[:, ::-1], axis=1)[:, None]
    return jnp.where(real, first + last - steps, steps)


def take_steps(sequence: jax.Array, index: jax.Array) -> jax.Array:
    return jnp.take_along_axis(sequence, index[:, :, None], axis=1)


def classify(params, token_ids, spec: ModelSpec, with_gates: bool = False):
    """LSTM output, the last layer's final h and c (``[forward | backward]``), predictions ``(B, 1)``, and
    with ``with_gates`` every layer's and direction's gates and states by weight prefix, in the direction's
    reading order, with its input ``x`` (else None)."""
    real = token_ids != 0 if spec.padding != "none" else jnp.ones(token_ids.shape, bool)
    reversal = reversal_within_lengths(real)
    with jax.named_scope("embedding"):
        sequence = params["embedding"][token_ids]
    traces = {} if with_gates else None
    for layer_name in lstm_layer_names(spec):
        outputs, hiddens, cells = [], [], []
        with jax.named_scope(layer_name):
            for direction in DIRECTIONS[:2 if spec.bidirectional else 1]:
                prefix = lstm_weight_prefix(layer_name, direction)
                reads = sequence if direction == "forward" else take_steps(sequence, reversal)
                output, hidden, cell, gates = lstm(params, prefix, reads, real, with_gates)
                if with_gates:
                    traces[prefix] = {"x": reads, **gates}
                outputs.append(output if direction == "forward" else take_steps(output, reversal))
                hiddens.append(hidden)
                cells.append(cell)
            sequence = jnp.concatenate(outputs, axis=-1)
    with jax.named_scope(lstm_layer_names(spec)[-1]):
        hidden, cell = jnp.concatenate(hiddens, axis=-1), jnp.concatenate(cells, axis=-1)
    lstm_output = sequence if spec.return_sequences else hidden
    with jax.named_scope("dense"):
        features = sequence.reshape(sequence.shape[0], -1) if spec.return_sequences else hidden
        predictions = jax.nn.sigmoid(features @ params["dense.kernel"] + params["dense.bias"])
    return lstm_output, hidden, cell, predictions, traces


def mean_bce(params, token_ids, labels, spec: ModelSpec):
    """Mean binary cross-entropy of the batch, as ``keras.losses.BinaryCrossentropy()``."""
    predictions = classify(params, token_ids, spec)[3]
    with jax.named_scope("loss"):
        predictions = jnp.clip(predictions, BCE_EPSILON, 1 - BCE_EPSILON)
        return -jnp.mean(labels * jnp.log(predictions) + (1 - labels) * jnp.log(1 - predictions))


def init_optimizer_state(params):
    """Adam's moments (zeros like every parameter) and the step count."""
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"m": zeros, "v": zeros, "t": jnp.zeros((), jnp.int32)}


@partial(jax.jit, static_argnames=("model", "spec"))
def train_step(params, state, token_ids, labels, model: ModelSpec, spec: OptimizerSpec):
    """One step: loss and gradients by ``jax.value_and_grad``, then SGD or Keras-form Adam."""
    loss, grads = jax.value_and_grad(mean_bce)(params, token_ids, labels, model)
    with jax.named_scope("optimizer"):
        return (loss, *optimizer_update(params, state, grads, spec))


def optimizer_update(params, state, grads, spec: OptimizerSpec):
    """SGD or Keras-form Adam: the new parameters and optimizer state."""
    if spec.name == "sgd":
        return jax.tree_util.tree_map(lambda w, g: w - spec.learning_rate * g, params, grads), state
    t = state["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: m + (1 - spec.beta_1) * (g - m), state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: v + (1 - spec.beta_2) * (g * g - v), state["v"], grads)
    step = spec.learning_rate * jnp.sqrt(1 - spec.beta_2 ** t) / (1 - spec.beta_1 ** t)
    params = jax.tree_util.tree_map(lambda w, m, v: w - step * m / (jnp.sqrt(v) + spec.epsilon), params, m, v)
    return params, {"m": m, "v": v, "t": t}


def kernel_from_scopes(scopes: set[str]) -> str | None:
    """XLA's ``while`` loop when one ran in an LSTM layer's scope (the ``lax.scan``), else None."""
    if any(re.search(r"(^|[/(])lstm(_\d+)?\)?/while$", scope) for scope in scopes):
        return "XLA while loop (lax.scan)"
    return None


class JaxBackend(Backend):
    """lstm-bench's contract in native JAX."""

    def framework_version(self) -> str:
        return f"jax {jax.__version__} ({jax.default_backend()})"

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if any(device.platform == "gpu" for device in jax.devices()) else ["cpu"]

    def build(self, spec: ModelSpec, device: str = "cpu") -> JaxClassifier:
        return JaxClassifier(spec, keras_default_weights(spec), device)


class JaxClassifier(ClassifierModel):
    """The canonical weights as JAX arrays on one device."""

    def __init__(self, spec: ModelSpec, weights: Mapping[str, np.ndarray], device: str = "cpu") -> None:
        self.spec = spec
        self.device = jax.devices("gpu" if device.startswith("cuda") else "cpu")[0]
        self.params = self._put(weights)
        self.optimizer: OptimizerSpec | None = None
        self.optimizer_state = None
        self._classify = jax.jit(partial(classify, spec=spec))

    def _put(self, arrays: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """Copies on the device. On the CPU, ``jnp.asarray`` and ``device_put`` may share a NumPy array's
        memory, so the caller's arrays are copied first (the kit's ``behaviour`` suite checks it)."""
        return {name: jax.device_put(np.array(value, dtype=np.float32, copy=True), self.device)
                for name, value in arrays.items()}

    def summary(self) -> list[LayerSummary]:
        """The layers' shapes as the outputs of `classify` have them (the contract's), and each layer's
        parameter count from its arrays."""
        counts = {layer: sum(self.params[name].size for name in names)
                  for layer, names in layer_weight_names(self.spec).items()}
        types = {"input": "InputLayer", "embedding": "Embedding", "flatten": "reshape", "dense": "Dense"}
        return [LayerSummary(name, types.get(name, "lax.scan LSTM"), shapes, counts.get(name, 0), counts.get(name, 0))
                for name, shapes in expected_layer_output_shapes(self.spec).items()]

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: np.array(value, copy=True) for name, value in self.params.items()}  # np.asarray may alias

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        self.params = self._put({name: weights[name] for name in self.params})
        self.optimizer, self.optimizer_state = None, None

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        lstm_output, hidden, cell, predictions = (np.asarray(a) for a in self._classify(self.params, self._ids(token_ids))[:4])
        states = (hidden, cell) if self.spec.return_state else (None, None)
        return ForwardOutput(lstm_output, states[0], states[1], predictions)

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = jax.value_and_grad(mean_bce)(self.params, self._ids(token_ids), self._labels(labels), self.spec)
        return float(loss), {name: np.asarray(value) for name, value in grads.items()}

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        return self.prepare_train_step(token_ids, labels, optimizer)()

    def prepare_train_step(self, token_ids, labels, optimizer: OptimizerSpec) -> Callable[[], float]:
        if self.optimizer != optimizer:
            self.optimizer, self.optimizer_state = optimizer, init_optimizer_state(self.params)
        ids, targets = self._ids(token_ids), self._labels(labels)

        def step() -> float:
            loss, self.params, self.optimizer_state = train_step(
                self.params, self.optimizer_state, ids, targets, self.spec, optimizer
            )
            return float(loss)  # waits for the device

        return step

    def profile_steps(self, step: Callable[[], object], calls: int) -> StepProfile:
        """``jax.profiler`` around ``calls`` steps, read by lstm-bench (see the module docstring)."""
        options = jax.profiler.ProfileOptions()
        options.python_tracer_level = 0  # tracing every Python call would cost more than a small model's step
        start = partial(jax.profiler.start_trace, profiler_options=options)
        space, wall = record_xspace(start, jax.profiler.stop_trace, step, calls)
        return profile_from_xla_xspace(space, wall, calls, PROFILE_RULES, kernel_from_scopes,
                                       profiler=f"jax.profiler (jax {jax.__version__})")

    def kernel_path(self) -> str:
        return "XLA while loop (lax.scan)"

    def lstm_gates(self, token_ids) -> GateTrace:
        """Every step's gates and states, as its own scan computes them (`classify` with ``with_gates``)."""
        traces = jax.jit(partial(classify, spec=self.spec, with_gates=True))(self.params, self._ids(token_ids))[4]
        return GateTrace({prefix: {name: np.asarray(value) for name, value in values.items()}
                          for prefix, values in traces.items()}, "its own gates (the lax.scan's, float32)")

    def prepare_inference(self, token_ids) -> Callable[[], object]:
        ids = self._ids(token_ids)
        return lambda: self._classify(self.params, ids)[3].block_until_ready()

    def _ids(self, token_ids) -> jax.Array:
        return jax.device_put(jnp.asarray(np.asarray(token_ids), jnp.int32), self.device)

    def _labels(self, labels) -> jax.Array:
        return jax.device_put(jnp.asarray(np.asarray(labels), jnp.float32), self.device)
