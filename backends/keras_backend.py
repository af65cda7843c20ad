"""The Keras 3 backend: the article's functional model, layer for layer.

Keras' weights already are the canonical layout (``embeddings``; ``kernel``, ``recurrent_kernel``,
``bias``; ``kernel``, ``bias``), so conversion is a plain copy. The engine is whatever ``KERAS_BACKEND``
says in the worker's environment (TensorFlow by default).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

from harness.contract import Backend, ClassifierModel, ForwardOutput, LayerSummary, check_weights
from harness.spec import ModelSpec

LAYER_WEIGHTS = {
    "embedding": ("embedding",),
    "lstm": ("lstm.kernel", "lstm.recurrent_kernel", "lstm.bias"),
    "dense": ("dense.kernel", "dense.bias"),
}
"""Canonical weight names of each layer, in the order of ``layer.get_weights()``."""


def engine_version() -> str:
    """The engine Keras runs on and its version, e.g. ``tensorflow 2.21.0``."""
    engine = keras.backend.backend()
    module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(engine, engine))
    return f"{engine} {getattr(module, '__version__', '?')}"


def engine_has_gpu() -> bool:
    """True when the engine itself sees a GPU."""
    engine = keras.backend.backend()
    if engine == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if engine == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if engine == "torch":
        import torch

        return torch.cuda.is_available()
    return False


class KerasBackend(Backend):
    """Keras 3 functional API on the engine named by ``KERAS_BACKEND``."""

    def framework_version(self) -> str:
        return f"keras {keras.__version__} ({engine_version()})"

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if engine_has_gpu() else ["cpu"]

    def build(self, spec: ModelSpec) -> KerasClassifier:
        keras.utils.set_random_seed(spec.seed)
        return KerasClassifier(spec)


class KerasClassifier(ClassifierModel):
    """``Input -> Embedding -> LSTM -> [Flatten] -> Dense(1, sigmoid)``, named canonically.

    ``model`` is the article's classifier (predictions only); ``probe`` shares its layers and also
    returns the LSTM's outputs, for `forward`.
    """

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        inputs = keras.Input(shape=(spec.seq_len,), dtype="int32", name="input")
        embedded = keras.layers.Embedding(spec.vocab_size, spec.embed_dim, name="embedding")(inputs)
        lstm_outputs = keras.layers.LSTM(
            spec.hidden, return_sequences=spec.return_sequences, return_state=spec.return_state, name="lstm"
        )(embedded)
        lstm_outputs = list(lstm_outputs) if spec.return_state else [lstm_outputs]
        features = lstm_outputs[0]
        if spec.return_sequences:
            features = keras.layers.Flatten(name="flatten")(features)
        predictions = keras.layers.Dense(1, activation="sigmoid", name="dense")(features)
        self.model = keras.Model(inputs, predictions, name="text_lstm")
        self.probe = keras.Model(inputs, [*lstm_outputs, predictions], name="text_lstm_probe")

    def summary(self) -> list[LayerSummary]:
        rows = []
        for layer in self.model.layers:
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            rows.append(LayerSummary(
                name=layer.name,
                layer_type=type(layer).__name__,
                output_shapes=tuple(tuple(output.shape) for output in outputs),
                params=layer.count_params(),
                trainable_params=sum(int(np.prod(weight.shape)) for weight in layer.trainable_weights),
            ))
        return rows

    def get_weights(self) -> dict[str, np.ndarray]:
        weights = {}
        for layer_name, names in LAYER_WEIGHTS.items():
            weights.update(zip(names, self.model.get_layer(layer_name).get_weights()))
        return weights

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        for layer_name, names in LAYER_WEIGHTS.items():
            self.model.get_layer(layer_name).set_weights([np.asarray(weights[name], dtype="float32") for name in names])

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        outputs = self.probe(np.asarray(token_ids, dtype="int32"), training=False)
        arrays = [keras.ops.convert_to_numpy(output) for output in outputs]
        state_h, state_c = (arrays[1], arrays[2]) if self.spec.return_state else (None, None)
        return ForwardOutput(arrays[0], state_h, state_c, arrays[-1])
