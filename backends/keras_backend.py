"""The Keras 3 backend: the article's functional model, layer for layer.

Keras' weights already are the canonical layout (``embeddings``; ``kernel``, ``recurrent_kernel``,
``bias``; ``kernel``, ``bias``), so conversion is a plain copy. The engine is whatever ``KERAS_BACKEND``
says in the worker's environment (TensorFlow by default).

Training feeds Keras' own optimizer *dense* gradients. On TensorFlow the embedding gradient is a
``tf.IndexedSlices`` with one slice per token occurrence, and Keras 3's Adam squares it slice by slice:
a token that occurs k times in a batch gets ``sum(g_j**2)`` instead of ``(sum g_j)**2`` in its second
moment, so its row moves differently from the canonical Adam (and from PyTorch). SGD is linear and
unaffected. ``KerasBackend(sparse_embedding_updates=True)`` keeps Keras' native ``train_on_batch`` path,
to show the difference (see docs/equivalence.md).

Stacked, bidirectional and padded models are what a Keras user writes: ``Embedding(mask_zero=True)``
when the spec pads, one ``LSTM`` per layer (every layer below the last with ``return_sequences=True``),
each wrapped in ``Bidirectional`` when the spec says so. One setting departs from Keras' defaults:
``zero_output_for_mask=True``, because a plain masked ``LSTM`` otherwise repeats its last real output at
right-padded steps, and ``Flatten`` (which drops the mask, with a warning) would feed those repeats to the
head (docs/equivalence.md). ``Bidirectional`` already forces it. Keras returns a bidirectional layer's
states as four tensors; the contract's ``state_h`` and ``state_c`` are ``[forward | backward]``
concatenations of them.

Device placement uses ``keras.device`` (``cpu:0`` / ``gpu:0``) for building, inputs and every call, on
any engine. Timed steps are each engine's fast path: on TensorFlow a ``tf.function`` (optionally XLA,
``jit_compile=True``), elsewhere Keras' own compiled ``train_on_batch`` / ``predict_on_batch``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping

import keras
import numpy as np

from harness.contract import (
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    check_weights,
    layer_weight_names,
    lstm_layer_names,
)
from harness.measurement.gemm_peak import GPU_GEMM_SIZE, best_gflops
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec
from harness.profiling.step_profile import StepProfile

FLATTEN_DROPS_MASK = ".*does not support masking and will therefore destroy the mask information.*"
"""Keras' warning, at every call, when ``Flatten`` reads a masked sequence: expected here (the padded
steps are 0 by then), so this worker process ignores it."""
warnings.filterwarnings("ignore", message=FLATTEN_DROPS_MASK)


def engine() -> str:
    """The engine Keras runs on: ``tensorflow``, ``jax`` or ``torch``."""
    return keras.backend.backend()


def engine_version() -> str:
    """The engine Keras runs on and its version, e.g. ``tensorflow 2.21.0``."""
    module = __import__(engine())
    return f"{engine()} {getattr(module, '__version__', '?')}"


def engine_has_gpu() -> bool:
    """True when the engine itself sees a GPU."""
    if engine() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if engine() == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if engine() == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def keras_device(device: str) -> str:
    """The ``keras.device`` name of a harness device: ``cpu`` -> ``cpu:0``, ``cuda`` -> ``gpu:0``."""
    return "gpu:0" if device.startswith("cuda") else "cpu:0"


class KerasBackend(Backend):
    """Keras 3 functional API on the engine named by ``KERAS_BACKEND``.

    :param jit_compile: compile timed steps with XLA (TensorFlow's ``jit_compile=True``; Keras' own
        ``jit_compile`` on other engines).
    :param sparse_embedding_updates: train with ``model.train_on_batch`` and Keras' native sparse
        embedding gradients instead of dense ones (not the canonical Adam; see the module docstring).
    """

    def __init__(self, jit_compile: bool = False, sparse_embedding_updates: bool = False) -> None:
        self.jit_compile = jit_compile
        self.sparse_embedding_updates = sparse_embedding_updates

    def framework_version(self) -> str:
        xla = ", XLA" if self.jit_compile else ""
        return f"keras {keras.__version__} ({engine_version()}{xla})"

    def devices(self) -> list[str]:
        if engine() == "torch":
            return ["cuda"] if engine_has_gpu() else ["cpu"]  # only the default device: see on_device
        return ["cpu", "cuda"] if engine_has_gpu() else ["cpu"]

    def build(self, spec: ModelSpec, device: str = "cpu") -> KerasClassifier:
        keras.utils.set_random_seed(spec.seed)
        return KerasClassifier(spec, device=device, jit_compile=self.jit_compile,
                               sparse_embedding_updates=self.sparse_embedding_updates)

    def gemm_peak_gflops(self, device: str) -> float | None:
        """True float32 matrix products on the device with the engine itself (no TF32, no bf16 passes),
        so that every backend's "% of peak" has the same denominator."""
        if device == "cpu":
            return None
        flops = 2 * GPU_GEMM_SIZE**3
        if engine() == "jax":
            import jax
            import jax.numpy as jnp

            gpu = jax.devices("gpu")[0]
            a = jax.device_put(jnp.ones((GPU_GEMM_SIZE, GPU_GEMM_SIZE), jnp.float32), gpu)
            b = jax.device_put(jnp.ones((GPU_GEMM_SIZE, GPU_GEMM_SIZE), jnp.float32), gpu)
            product = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST))
            return best_gflops(lambda: product(a, b).block_until_ready(), flops)
        if engine() == "torch":
            from backends.torch_backend import TorchBackend

            return TorchBackend().gemm_peak_gflops(device)
        import tensorflow as tf

        previous = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            with tf.device("/GPU:0"):
                a = tf.random.normal((GPU_GEMM_SIZE, GPU_GEMM_SIZE))
                b = tf.random.normal((GPU_GEMM_SIZE, GPU_GEMM_SIZE))
                return best_gflops(lambda: tf.matmul(a, b)[:1, :1].numpy(), flops)
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(previous)


class KerasClassifier(ClassifierModel):
    """``Input -> Embedding -> LSTM -> [Flatten] -> Dense(1, sigmoid)``, named canonically.

    ``model`` is the article's classifier (predictions only); ``probe`` shares its layers and also
    returns the LSTM's outputs, for `forward`.
    """

    def __init__(self, spec: ModelSpec, device: str = "cpu", jit_compile: bool = False,
                 sparse_embedding_updates: bool = False) -> None:
        self.spec = spec
        self.device = device
        self.jit_compile = jit_compile
        self.sparse_embedding_updates = sparse_embedding_updates
        with self.on_device():
            inputs = keras.Input(shape=(spec.seq_len,), dtype="int32", name="input")
            sequence = keras.layers.Embedding(spec.vocab_size, spec.embed_dim, mask_zero=spec.padded,
                                              name="embedding")(inputs)
            names = lstm_layer_names(spec)
            for layer_name in names:
                last = layer_name == names[-1]
                lstm_outputs = self._lstm_layer(layer_name, last)(sequence)
                lstm_outputs = list(lstm_outputs) if spec.return_state and last else [lstm_outputs]
                sequence = lstm_outputs[0]
            if spec.return_state and spec.bidirectional:  # [out, h_fwd, c_fwd, h_bwd, c_bwd] -> [out, h, c]
                lstm_outputs = [lstm_outputs[0],
                                keras.layers.Concatenate(name="state_h")([lstm_outputs[1], lstm_outputs[3]]),
                                keras.layers.Concatenate(name="state_c")([lstm_outputs[2], lstm_outputs[4]])]
            features = lstm_outputs[0]
            if spec.return_sequences:
                features = keras.layers.Flatten(name="flatten")(features)
            predictions = keras.layers.Dense(1, activation="sigmoid", name="dense")(features)
            self.model = keras.Model(inputs, predictions, name="text_lstm")
            self.probe = keras.Model(inputs, [*lstm_outputs, predictions], name="text_lstm_probe")
        self.loss = keras.losses.BinaryCrossentropy()
        self.optimizer_spec: OptimizerSpec | None = None
        self.compiled_step = None

    def _lstm_layer(self, layer_name: str, last: bool) -> keras.layers.Layer:
        """LSTM layer ``layer_name``: the whole sequence unless it is the last layer (then as the spec says),
        zeros at masked steps, wrapped in ``Bidirectional`` (forward first, concatenated) when asked.

        ``zero_output_for_mask`` only where the layer returns its sequence: without return_sequences,
        Keras 3.15 then returns 0 as the output of every right-padded example instead of its final h
        (docs/equivalence.md)."""
        spec = self.spec
        lstm = keras.layers.LSTM(spec.hidden, return_sequences=spec.return_sequences or not last,
                                 return_state=spec.return_state and last,
                                 zero_output_for_mask=spec.padded and (spec.return_sequences or not last),
                                 name=f"{layer_name}_forward" if spec.bidirectional else layer_name)
        return keras.layers.Bidirectional(lstm, name=layer_name) if spec.bidirectional else lstm

    def on_device(self):
        """The ``keras.device`` scope of this model's device.

        On the torch engine, Keras 3.15 cannot build an LSTM inside a ``keras.device`` scope (its int
        seed variable becomes a ``torch.nn.Parameter``: "Only Tensors of floating point and complex dtype
        can require gradients"), so there the model lives on Keras' default device (CUDA when present)
        and `KerasBackend.devices` offers only that one.
        """
        if engine() == "torch":
            return contextlib.nullcontext()
        return keras.device(keras_device(self.device))

    def summary(self) -> list[LayerSummary]:
        """The model's layers; a bidirectional layer's four states are shown concatenated, as h and c."""
        rows = []
        for layer in self.model.layers:
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            shapes = [tuple(output.shape) for output in outputs]
            if len(shapes) == 5:
                shapes = [shapes[0], (None, shapes[1][1] + shapes[3][1]), (None, shapes[2][1] + shapes[4][1])]
            layer_type = type(layer).__name__
            if isinstance(layer, keras.layers.Bidirectional):
                layer_type = f"Bidirectional({type(layer.forward_layer).__name__})"
            rows.append(LayerSummary(
                name=layer.name,
                layer_type=layer_type,
                output_shapes=tuple(shapes),
                params=layer.count_params(),
                trainable_params=sum(int(np.prod(weight.shape)) for weight in layer.trainable_weights),
            ))
        return rows

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies: on the JAX engine, ``layer.get_weights()`` can return views of the variables' memory."""
        weights = {}
        for layer_name, names in layer_weight_names(self.spec).items():
            weights.update(zip(names, (np.array(value, copy=True) for value in self.model.get_layer(layer_name).get_weights())))
        return weights

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Copies the caller's arrays first: on the JAX engine on the CPU, assigning a NumPy array to a
        variable can share its memory, so changing it afterwards would change the model."""
        check_weights(self.spec, weights)
        for layer_name, names in layer_weight_names(self.spec).items():
            self.model.get_layer(layer_name).set_weights([np.array(weights[name], dtype="float32", copy=True) for name in names])

    def canonical_variables(self) -> dict[str, keras.Variable]:
        """Each canonical weight's Keras variable (already in the canonical layout)."""
        variables = {}
        for layer_name, names in layer_weight_names(self.spec).items():
            variables.update(zip(names, self.model.get_layer(layer_name).trainable_weights))
        return variables

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        with self.on_device():
            outputs = self.probe(np.asarray(token_ids, dtype="int32"), training=False)
        arrays = [keras.ops.convert_to_numpy(output) for output in outputs]
        state_h, state_c = (arrays[1], arrays[2]) if self.spec.return_state else (None, None)
        return ForwardOutput(arrays[0], state_h, state_c, arrays[-1])

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Each engine's own autodiff: ``tf.GradientTape``, ``jax.value_and_grad`` over
        ``model.stateless_call``, or torch's ``backward``. Gradients come back dense and canonical."""
        with self.on_device():
            token_ids_tensor = keras.ops.convert_to_tensor(np.asarray(token_ids, dtype="int32"))
            labels_tensor = keras.ops.convert_to_tensor(np.asarray(labels, dtype="float32"))
        variables = self.canonical_variables()
        if engine() == "jax":
            loss, gradients = self._jax_gradients(token_ids_tensor, labels_tensor)
        elif engine() == "torch":
            loss, gradients = self._torch_gradients(token_ids_tensor, labels_tensor, variables)
        else:
            import tensorflow as tf

            with self.on_device(), tf.GradientTape() as tape:
                loss = self.loss(labels_tensor, self.model(token_ids_tensor, training=True))
            # The embedding gradient arrives as tf.IndexedSlices; convert_to_tensor sums repeated rows.
            gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, list(variables.values()))]
        return float(loss), {name: keras.ops.convert_to_numpy(g) for name, g in zip(variables, gradients)}

    def _jax_gradients(self, token_ids, labels):
        import jax

        trainable = self.model.trainable_variables
        position = {id(variable): index for index, variable in enumerate(trainable)}
        non_trainable = [variable.value for variable in self.model.non_trainable_variables]

        def loss_of(trainable_values):
            predictions, _ = self.model.stateless_call(trainable_values, non_trainable, token_ids, training=True)
            return self.loss(labels, predictions)

        loss, gradients = jax.value_and_grad(loss_of)([variable.value for variable in trainable])
        return loss, [gradients[position[id(variable)]] for variable in self.canonical_variables().values()]

    def _torch_gradients(self, token_ids, labels, variables):
        for variable in variables.values():
            variable.value.grad = None
        loss = self.loss(labels, self.model(token_ids, training=True))
        loss.backward()
        return loss.detach(), [variable.value.grad for variable in variables.values()]

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        return float(self.prepare_train_step(token_ids, labels, optimizer)())

    def prepare_train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> Callable[[], float]:
        with self.on_device():
            token_ids_tensor = keras.ops.convert_to_tensor(np.asarray(token_ids, dtype="int32"))
            labels_tensor = keras.ops.convert_to_tensor(np.asarray(labels, dtype="float32"))
        if engine() != "tensorflow" or self.sparse_embedding_updates:
            # Keras' own compiled train step; on JAX and torch the embedding gradient is dense already.
            if self.optimizer_spec != optimizer:
                self.model.compile(optimizer=_make_optimizer(optimizer), loss=self.loss, jit_compile=self._keras_jit())
                self.optimizer_spec = optimizer

            def keras_step() -> float:
                with self.on_device():
                    self.model.reset_metrics()
                    return float(self.model.train_on_batch(token_ids_tensor, labels_tensor))

            return keras_step
        if self.optimizer_spec != optimizer:
            self.compiled_step = self._dense_gradient_step(_make_optimizer(optimizer))
            self.optimizer_spec = optimizer

        def tensorflow_step() -> float:
            with self.on_device():
                return float(self.compiled_step(token_ids_tensor, labels_tensor))  # float() waits for the device

        return tensorflow_step

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        with self.on_device():
            token_ids_tensor = keras.ops.convert_to_tensor(np.asarray(token_ids, dtype="int32"))
        if engine() != "tensorflow":
            def keras_predict():
                with self.on_device():
                    return self.model.predict_on_batch(token_ids_tensor)  # returns NumPy: synchronised

            return keras_predict
        import tensorflow as tf

        predict = tf.function(lambda batch: self.model(batch, training=False), jit_compile=self.jit_compile)

        def tensorflow_predict():
            with self.on_device():
                return predict(token_ids_tensor).numpy()

        return tensorflow_predict

    def profile_steps(self, step: Callable[[], object], calls: int) -> StepProfile | None:
        """The engine's own profiler (`backends.keras_profiling`)."""
        from backends.keras_profiling import profile_keras_steps

        return profile_keras_steps(engine(), self.model, step, calls, self.device)

    def kernel_path(self) -> str:
        """The LSTM kernel Keras 3.15 takes, by its own rules (``LSTM.inner_loop`` tries the engine's fused
        ``backend.lstm`` first): the JAX and torch engines refuse any mask there; TensorFlow takes cuDNN only
        on a GPU (``cudnn_ok``) and, under a mask, only for right padding (``_is_sequence_right_padded``);
        the torch engine has a fused fallback on the CPU. Read from the source, not observed."""
        on_gpu, masked, name = self.device.startswith("cuda") and engine_has_gpu(), self.spec.padded, engine()
        generic = {"tensorflow": "generic loop (tf.while_loop)", "jax": "generic loop (lax.scan)",
                   "torch": "generic loop (torch)"}.get(name, "generic loop")
        if masked and (name != "tensorflow" or self.spec.padding == "left"):
            return generic
        if on_gpu:
            return "cuDNN" + (" (right-padded mask)" if masked else "")
        return "torch fallback LSTM" if name == "torch" else generic

    def reset_peak_device_memory(self) -> None:
        if self.device.startswith("cuda"):
            _reset_device_peak()

    def peak_device_memory_bytes(self) -> int | None:
        return _device_peak_bytes() if self.device.startswith("cuda") else None

    def _keras_jit(self):
        return True if self.jit_compile else "auto"

    def _dense_gradient_step(self, keras_optimizer: keras.optimizers.Optimizer):
        """A ``tf.function`` training step: forward, loss, gradients made dense, Keras' optimizer update."""
        import tensorflow as tf

        variables = list(self.canonical_variables().values())
        with self.on_device():
            keras_optimizer.build(variables)

        @tf.function(jit_compile=self.jit_compile, reduce_retracing=True)
        def step(token_ids, labels):
            with tf.GradientTape() as tape:
                loss = self.loss(labels, self.model(token_ids, training=True))
            gradients = [tf.convert_to_tensor(gradient) for gradient in tape.gradient(loss, variables)]
            keras_optimizer.apply_gradients(zip(gradients, variables))
            return loss

        return step


def _make_optimizer(spec: OptimizerSpec) -> keras.optimizers.Optimizer:
    """``keras.optimizers.SGD`` or ``keras.optimizers.Adam`` with every hyper-parameter explicit."""
    if spec.name == "sgd":
        return keras.optimizers.SGD(learning_rate=spec.learning_rate)
    return keras.optimizers.Adam(
        learning_rate=spec.learning_rate, beta_1=spec.beta_1, beta_2=spec.beta_2, epsilon=spec.epsilon
    )


def _reset_device_peak() -> None:
    if engine() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("GPU:0")
    elif engine() == "torch":
        import torch

        torch.cuda.reset_peak_memory_stats()


def _device_peak_bytes() -> int | None:
    """Peak device memory since the last reset (JAX: since the process started, it has no reset)."""
    if engine() == "tensorflow":
        import tensorflow as tf

        return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    if engine() == "torch":
        import torch

        return int(torch.cuda.max_memory_allocated())
    if engine() == "jax":
        import jax

        stats = jax.devices("gpu")[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use")
    return None
