"""The classifier in JAX: parameters are the canonical weights themselves, one dict of arrays.

- forward: the embedding lookup, then ``jax.lax.scan`` over time steps with the Keras gate order
  i, f, c, o, one bias and a zero initial state, then the dense head with a sigmoid;
- gradients: ``jax.value_and_grad`` of the mean binary cross-entropy (predictions clipped to
  [1e-7, 1 - 1e-7] like Keras);
- optimizers: SGD and Adam written with ``jax.tree_util`` in the Keras form lstm-bench defines
  (`harness.api.OptimizerSpec`); the whole training step is one ``jax.jit`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from harness.api import (
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    ModelSpec,
    OptimizerSpec,
    check_weights,
    keras_default_weights,
)

BCE_EPSILON = 1e-7


def lstm(params: Mapping[str, jax.Array], inputs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run the LSTM over ``inputs`` ``(B, T, E)``: every step's h ``(B, T, H)``, and the final h and c."""
    kernel, recurrent_kernel, bias = params["lstm.kernel"], params["lstm.recurrent_kernel"], params["lstm.bias"]
    units = recurrent_kernel.shape[0]
    projected = jnp.einsum("bte,eg->tbg", inputs, kernel) + bias  # x_t W + b for all steps, time first

    def step(state, z_input):
        hidden, cell = state
        z = z_input + hidden @ recurrent_kernel
        i = jax.nn.sigmoid(z[:, :units])
        f = jax.nn.sigmoid(z[:, units:2 * units])
        g = jnp.tanh(z[:, 2 * units:3 * units])
        o = jax.nn.sigmoid(z[:, 3 * units:])
        cell = f * cell + i * g
        hidden = o * jnp.tanh(cell)
        return (hidden, cell), hidden

    zeros = jnp.zeros((inputs.shape[0], units), inputs.dtype)
    (hidden, cell), hiddens = jax.lax.scan(step, (zeros, zeros), projected)
    return hiddens.transpose(1, 0, 2), hidden, cell


def classify(params, token_ids, return_sequences: bool):
    """LSTM output, final states and predictions ``(B, 1)`` for int token ids ``(B, T)``."""
    sequence, hidden, cell = lstm(params, params["embedding"][token_ids])
    lstm_output = sequence if return_sequences else hidden
    features = sequence.reshape(sequence.shape[0], -1) if return_sequences else hidden
    predictions = jax.nn.sigmoid(features @ params["dense.kernel"] + params["dense.bias"])
    return lstm_output, hidden, cell, predictions


def mean_bce(params, token_ids, labels, return_sequences: bool):
    """Mean binary cross-entropy of the batch, as ``keras.losses.BinaryCrossentropy()``."""
    predictions = jnp.clip(classify(params, token_ids, return_sequences)[3], BCE_EPSILON, 1 - BCE_EPSILON)
    return -jnp.mean(labels * jnp.log(predictions) + (1 - labels) * jnp.log(1 - predictions))


def init_optimizer_state(params):
    """Adam's moments (zeros like every parameter) and the step count."""
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {"m": zeros, "v": zeros, "t": jnp.zeros((), jnp.int32)}


@partial(jax.jit, static_argnames=("return_sequences", "spec"))
def train_step(params, state, token_ids, labels, return_sequences: bool, spec: OptimizerSpec):
    """One step: loss and gradients by ``jax.value_and_grad``, then SGD or Keras-form Adam."""
    loss, grads = jax.value_and_grad(mean_bce)(params, token_ids, labels, return_sequences)
    if spec.name == "sgd":
        return loss, jax.tree_util.tree_map(lambda w, g: w - spec.learning_rate * g, params, grads), state
    t = state["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: m + (1 - spec.beta_1) * (g - m), state["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: v + (1 - spec.beta_2) * (g * g - v), state["v"], grads)
    step = spec.learning_rate * jnp.sqrt(1 - spec.beta_2 ** t) / (1 - spec.beta_1 ** t)
    params = jax.tree_util.tree_map(lambda w, m, v: w - step * m / (jnp.sqrt(v) + spec.epsilon), params, m, v)
    return loss, params, {"m": m, "v": v, "t": t}


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
        self._classify = jax.jit(partial(classify, return_sequences=spec.return_sequences))

    def _put(self, arrays: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """Copies on the device. On the CPU, ``jnp.asarray`` and ``device_put`` may share a NumPy array's
        memory, so the caller's arrays are copied first (the kit's ``behaviour`` suite checks it)."""
        return {name: jax.device_put(np.array(value, dtype=np.float32, copy=True), self.device)
                for name, value in arrays.items()}

    def summary(self) -> list[LayerSummary]:
        spec, params = self.spec, self.params
        lstm_params = sum(params[name].size for name in ("lstm.kernel", "lstm.recurrent_kernel", "lstm.bias"))
        dense_params = params["dense.kernel"].size + params["dense.bias"].size
        t, h = spec.seq_len, spec.hidden
        lstm_shape = (None, t, h) if spec.return_sequences else (None, h)
        rows = [
            LayerSummary("input", "InputLayer", ((None, t),), 0, 0),
            LayerSummary("embedding", "Embedding", ((None, t, spec.embed_dim),), params["embedding"].size, params["embedding"].size),
            LayerSummary("lstm", "lax.scan LSTM", (lstm_shape, (None, h), (None, h)) if spec.return_state else (lstm_shape,),
                         lstm_params, lstm_params),
        ]
        if spec.return_sequences:
            rows.append(LayerSummary("flatten", "reshape", ((None, t * h),), 0, 0))
        rows.append(LayerSummary("dense", "Dense", ((None, 1),), dense_params, dense_params))
        return rows

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: np.array(value, copy=True) for name, value in self.params.items()}  # np.asarray may alias

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        self.params = self._put({name: weights[name] for name in self.params})
        self.optimizer, self.optimizer_state = None, None

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        lstm_output, hidden, cell, predictions = (np.asarray(a) for a in self._classify(self.params, self._ids(token_ids)))
        states = (hidden, cell) if self.spec.return_state else (None, None)
        return ForwardOutput(lstm_output, states[0], states[1], predictions)

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = jax.value_and_grad(mean_bce)(self.params, self._ids(token_ids), self._labels(labels),
                                                   self.spec.return_sequences)
        return float(loss), {name: np.asarray(value) for name, value in grads.items()}

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        return self.prepare_train_step(token_ids, labels, optimizer)()

    def prepare_train_step(self, token_ids, labels, optimizer: OptimizerSpec) -> Callable[[], float]:
        if self.optimizer != optimizer:
            self.optimizer, self.optimizer_state = optimizer, init_optimizer_state(self.params)
        ids, targets = self._ids(token_ids), self._labels(labels)

        def step() -> float:
            loss, self.params, self.optimizer_state = train_step(
                self.params, self.optimizer_state, ids, targets, self.spec.return_sequences, optimizer
            )
            return float(loss)  # waits for the device

        return step

    def prepare_inference(self, token_ids) -> Callable[[], object]:
        ids = self._ids(token_ids)
        return lambda: self._classify(self.params, ids)[3].block_until_ready()

    def _ids(self, token_ids) -> jax.Array:
        return jax.device_put(jnp.asarray(np.asarray(token_ids), jnp.int32), self.device)

    def _labels(self, labels) -> jax.Array:
        return jax.device_put(jnp.asarray(np.asarray(labels), jnp.float32), self.device)
