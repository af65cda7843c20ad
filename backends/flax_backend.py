"""The Flax backend: Flax NNX (the API Flax documents as current) with its ``OptimizedLSTMCell`` over
``nnx.RNN``, optax optimizers, and jitted steps (``nnx.jit``, with ``nnx.cached_partial`` so that a timed
step does not walk the module graph again at every call).

Parameters. ``nnx.OptimizedLSTMCell`` keeps one input projection without a bias (``dense_i.kernel``,
``(E, 4H)``) and one recurrent projection with a bias (``dense_h.kernel`` ``(H, 4H)``, ``dense_h.bias``
``(4H,)``), gate blocks in the order i, f, g, o: the canonical ``kernel``, ``recurrent_kernel`` and single
``bias`` exactly, with no transposes and no second bias to hide (`FlaxClassifier.canonical_paths` names
each one). ``nnx.Embed.embedding`` is ``(V, E)`` and ``nnx.Linear``'s kernel ``(F, 1)``: canonical too. So
the module's trainable parameters *are* the canonical ones, and the params suite counts them from the module.

Stacked and bidirectional models: one ``nnx.RNN`` per layer and direction; the backward one runs with
``reverse=True, keep_order=True``. A right-padded batch passes each example's length as ``seq_lengths``:
Flax keeps the carry of the last real step and reverses each example within its length for the backward
direction; the padded steps' outputs are then set to zero (the contract's). Left padding is not built.

Optimizers (`optax_optimizer`): ``optax.sgd``, and ``optax.adam`` under ``optax.inject_hyperparams`` with
epsilon as a schedule of the step count, ``epsilon / sqrt(1 - beta_2**t)``: optax adds epsilon after
bias-correcting v, as PyTorch does, and this makes its update Keras' exactly (`harness.optimizers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from backends.numpy_reference import BCE_EPSILON
from harness.canonical import keras_default_weights
from harness.contract import (
    DIRECTIONS,
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    check_weights,
    lstm_layer_names,
    lstm_weight_prefix,
    refuse_unsupported_options,
)
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec


class LstmLayer(nnx.Module):
    """One LSTM layer: a forward ``nnx.RNN`` of an ``OptimizedLSTMCell``, and a backward one when bidirectional."""

    def __init__(self, in_features: int, hidden: int, bidirectional: bool, rngs: nnx.Rngs) -> None:
        self.forward = nnx.RNN(nnx.OptimizedLSTMCell(in_features, hidden, rngs=rngs), return_carry=True)
        self.backward = (nnx.RNN(nnx.OptimizedLSTMCell(in_features, hidden, rngs=rngs), return_carry=True,
                                 reverse=True, keep_order=True) if bidirectional else None)

    def directions(self) -> list[nnx.RNN]:
        return [self.forward] + ([self.backward] if self.backward is not None else [])

    def __call__(self, inputs: jax.Array, lengths: jax.Array | None):
        """The layer's outputs ``(B, T, D*H)`` and final (h, c) ``(B, D*H)`` each, forward first."""
        outputs, hs, cs = [], [], []
        for rnn in self.directions():
            (c, h), sequence = rnn(inputs, seq_lengths=lengths)
            outputs.append(sequence)
            hs.append(h)
            cs.append(c)
        return jnp.concatenate(outputs, axis=-1), jnp.concatenate(hs, axis=-1), jnp.concatenate(cs, axis=-1)


class FlaxClassifierModule(nnx.Module):
    """``nnx.Embed -> LstmLayer x layers -> flatten -> nnx.Linear -> sigmoid``."""

    def __init__(self, spec: ModelSpec, rngs: nnx.Rngs) -> None:
        self.spec = spec
        self.embedding = nnx.Embed(spec.vocab_size, spec.embed_dim, rngs=rngs)
        width = spec.directions * spec.hidden
        self.layers = nnx.List([LstmLayer(spec.embed_dim if layer == 0 else width, spec.hidden, spec.bidirectional, rngs)
                                for layer in range(spec.layers)])
        self.dense = nnx.Linear(spec.dense_features, 1, rngs=rngs)

    def __call__(self, token_ids: jax.Array) -> dict[str, jax.Array]:
        """The last LSTM layer's sequence, final h and c, and the predictions."""
        real = token_ids != 0
        lengths = real.sum(axis=1) if self.spec.padded else None
        sequence = self.embedding(token_ids)
        for layer in self.layers:
            sequence, state_h, state_c = layer(sequence, lengths)
            if self.spec.padded:
                sequence = sequence * real[:, :, None]
        features = sequence.reshape(sequence.shape[0], -1) if self.spec.return_sequences else state_h
        return {"sequence": sequence, "state_h": state_h, "state_c": state_c,
                "predictions": jax.nn.sigmoid(self.dense(features))}


def mean_bce(model: FlaxClassifierModule, token_ids: jax.Array, labels: jax.Array) -> jax.Array:
    """Keras' binary cross-entropy of the model's predictions, averaged over the batch."""
    p = jnp.clip(model(token_ids)["predictions"], BCE_EPSILON, 1.0 - BCE_EPSILON)
    return -jnp.mean(labels * jnp.log(p) + (1.0 - labels) * jnp.log(1.0 - p))


def optax_optimizer(spec: OptimizerSpec) -> optax.GradientTransformation:
    """optax's SGD, or its Adam with the epsilon schedule that makes it Keras' (module docstring)."""
    if spec.name == "sgd":
        return optax.sgd(spec.learning_rate)
    return optax.inject_hyperparams(optax.adam)(
        learning_rate=spec.learning_rate, b1=spec.beta_1, b2=spec.beta_2,
        eps=lambda count: spec.epsilon / jnp.sqrt(1.0 - spec.beta_2 ** (count + 1)))


@nnx.jit
def _train_step(model: FlaxClassifierModule, optimizer: nnx.Optimizer, token_ids: jax.Array, labels: jax.Array) -> jax.Array:
    loss, grads = nnx.value_and_grad(mean_bce)(model, token_ids, labels)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def _loss_and_grads(model: FlaxClassifierModule, token_ids: jax.Array, labels: jax.Array):
    return nnx.value_and_grad(mean_bce)(model, token_ids, labels)


@nnx.jit
def _predict(model: FlaxClassifierModule, token_ids: jax.Array) -> dict[str, jax.Array]:
    return model(token_ids)


class FlaxBackend(Backend):
    """Flax NNX on JAX's default device, or the GPU."""

    def framework_version(self) -> str:
        """Versions and platform; XLA's CPU thread pool does not follow ``--threads`` (no XLA option sets its
        size), which is said here."""
        return (f"flax {flax.__version__}, optax {optax.__version__}, jax {jax.__version__} ({jax.default_backend()}; "
                "XLA's own CPU thread pool, --threads not applied)")

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if any(device.platform == "gpu" for device in jax.devices()) else ["cpu"]

    def build(self, spec: ModelSpec, device: str = "cpu") -> FlaxClassifier:
        refuse_unsupported_options(spec, "flax", padding=("none", "right"))
        target = jax.devices("gpu" if device.startswith("cuda") else "cpu")[0]
        with jax.default_device(target):
            module = FlaxClassifierModule(spec, nnx.Rngs(spec.seed))
        model = FlaxClassifier(spec, module, target)
        model.set_weights(keras_default_weights(spec))
        return model


class FlaxClassifier(ClassifierModel):
    """Canonical-layout access to a `FlaxClassifierModule`."""

    def __init__(self, spec: ModelSpec, module: FlaxClassifierModule, device) -> None:
        self.spec, self.module, self.device = spec, module, device
        self.optimizer: nnx.Optimizer | None = None
        self.optimizer_spec: OptimizerSpec | None = None
        self._step: Callable | None = None

    def canonical_paths(self) -> dict[str, nnx.Param]:
        """Each canonical weight's ``nnx.Param`` in the module (module docstring)."""
        m = self.module
        params = {"embedding": m.embedding.embedding}
        for layer, name in zip(m.layers, lstm_layer_names(self.spec)):
            for direction, rnn in zip(DIRECTIONS, layer.directions()):
                prefix = lstm_weight_prefix(name, direction)
                params[f"{prefix}.kernel"] = rnn.cell.dense_i.kernel
                params[f"{prefix}.recurrent_kernel"] = rnn.cell.dense_h.kernel
                params[f"{prefix}.bias"] = rnn.cell.dense_h.bias
        params["dense.kernel"] = m.dense.kernel
        params["dense.bias"] = m.dense.bias
        return params

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: np.array(param[...], copy=True) for name, param in self.canonical_paths().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        for name, param in self.canonical_paths().items():
            param[...] = jax.device_put(np.array(weights[name], dtype=np.float32, copy=True), self.device)

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        out = {name: np.asarray(value) for name, value in _predict(self.module, self._ids(token_ids)).items()}
        lstm_output = out["sequence"] if self.spec.return_sequences else out["state_h"]
        states = (out["state_h"], out["state_c"]) if self.spec.return_state else (None, None)
        return ForwardOutput(lstm_output, *states, out["predictions"])

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = _loss_and_grads(self.module, self._ids(token_ids), self._labels(labels))
        gradient_module = nnx.merge(nnx.graphdef(self.module), grads, nnx.state(self.module, nnx.Not(nnx.Param)))
        paths = FlaxClassifier(self.spec, gradient_module, self.device).canonical_paths()
        return float(loss), {name: np.array(param[...], copy=True) for name, param in paths.items()}

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        return float(self._stepper(optimizer)(self._ids(token_ids), self._labels(labels)))

    def prepare_train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> Callable[[], object]:
        ids, targets = self._ids(token_ids), self._labels(labels)
        step = self._stepper(optimizer)
        return lambda: step(ids, targets).block_until_ready()

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        ids = self._ids(token_ids)
        predict = nnx.cached_partial(_predict, self.module)
        return lambda: predict(ids)["predictions"].block_until_ready()

    def kernel_path(self) -> str:
        return "XLA while loop (nnx.RNN scan of OptimizedLSTMCell)" + (", seq_lengths" if self.spec.padded else "")

    def summary(self) -> list[LayerSummary]:
        out = _predict(self.module, jnp.ones((1, self.spec.seq_len), dtype=jnp.int32))
        width = self.spec.directions * self.spec.hidden
        lstm_names = lstm_layer_names(self.spec)

        def count(module) -> int:
            return sum(leaf.size for leaf in jax.tree.leaves(nnx.state(module, nnx.Param)))

        last = (out["sequence"] if self.spec.return_sequences else out["state_h"], out["state_h"], out["state_c"])
        rows = [LayerSummary("input", "input", ((None, self.spec.seq_len),), 0, 0),
                LayerSummary("embedding", "Embed", ((None, self.spec.seq_len, self.spec.embed_dim),),
                             count(self.module.embedding), count(self.module.embedding))]
        for layer, name in zip(self.module.layers, lstm_names):
            shapes = (tuple((None, *value.shape[1:]) for value in last[:3 if self.spec.return_state else 1])
                      if name == lstm_names[-1] else ((None, self.spec.seq_len, width),))
            rows.append(LayerSummary(name, "RNN(OptimizedLSTMCell)", shapes, count(layer), count(layer)))
        if self.spec.return_sequences:
            rows.append(LayerSummary("flatten", "reshape", ((None, self.spec.seq_len * width),), 0, 0))
        rows.append(LayerSummary("dense", "Linear", ((None, 1),), count(self.module.dense), count(self.module.dense)))
        return rows

    def _stepper(self, optimizer: OptimizerSpec) -> Callable:
        """The jitted train step bound to the module and its optimizer (created for a new `OptimizerSpec`)."""
        if self.optimizer is None or self.optimizer_spec != optimizer:
            self.optimizer = nnx.Optimizer(self.module, optax_optimizer(optimizer), wrt=nnx.Param)
            self.optimizer_spec = optimizer
            self._step = nnx.cached_partial(_train_step, self.module, self.optimizer)
        return self._step

    def _ids(self, token_ids) -> jax.Array:
        return jax.device_put(np.asarray(token_ids, dtype=np.int32), self.device)

    def _labels(self, labels) -> jax.Array:
        return jax.device_put(np.asarray(labels, dtype=np.float32), self.device)
