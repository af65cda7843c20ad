"""Test-only backends, registered through ``LSTM_BENCH_PLUGINS=fake_backends`` exactly like a third-party
plugin. Each wraps the NumPy reference and plants one fault, or misbehaves when ``hidden == 13``."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from backends.numpy_backend import NumpyBackend, NumpyClassifier
from backends.numpy_optimizers import NumpyOptimizer
from harness.api import (
    BackendInfo,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    hookimpl,
    refuse_unsupported_options,
)

TRIGGER_HIDDEN = 13
"""Specs with this hidden size make the crashing and hanging backends misbehave; others run normally."""


class TwoBiasClassifier(NumpyClassifier):
    """Counts a second LSTM bias, as a naive ``nn.LSTM`` (b_ih and b_hh) would."""

    def summary(self) -> list[LayerSummary]:
        rows = super().summary()
        extra = 4 * self.spec.hidden
        return [
            LayerSummary(row.name, row.layer_type, row.output_shapes, row.params + extra, row.trainable_params + extra)
            if row.name == "lstm" else row
            for row in rows
        ]


class LastStepOnlyClassifier(NumpyClassifier):
    """Ignores return_sequences in forward: always returns the last step ``(B, H)``."""

    def forward(self, token_ids) -> ForwardOutput:
        output = super().forward(token_ids)
        if output.lstm_output.ndim == 3:
            return ForwardOutput(output.lstm_output[:, -1], output.state_h, output.state_c, output.predictions)
        return output


def swap_input_and_forget_gates(array: np.ndarray, hidden: int) -> np.ndarray:
    """Exchange the i and f blocks along the last axis: a gate-order bug (f, i, c, o)."""
    blocks = np.split(np.asarray(array), 4, axis=-1)
    return np.concatenate([blocks[1], blocks[0], blocks[2], blocks[3]], axis=-1)


class GateSwapClassifier(NumpyClassifier):
    """Loads the canonical layout as if its gates were ordered f, i, c, o."""

    def set_weights(self, weights):
        swapped = dict(weights)
        for name in ("lstm.kernel", "lstm.recurrent_kernel", "lstm.bias"):
            swapped[name] = swap_input_and_forget_gates(weights[name], self.spec.hidden)
        super().set_weights(swapped)


class OpaqueGateSwapClassifier(GateSwapClassifier):
    """The gate-order bug in a backend that cannot expose its gates (the contract's ``lstm_gates``)."""

    def lstm_gates(self, token_ids):
        return ClassifierModel.lstm_gates(self, token_ids)


class HookDisagreesClassifier(NumpyClassifier):
    """Its ``forward`` scales every LSTM output by 1.01 (a fault), while the ``lstm_gates`` it inherits
    describes the correct computation: a hook that does not describe the model."""

    def forward(self, token_ids):
        output = super().forward(token_ids)
        return ForwardOutput(output.lstm_output * 1.01, output.state_h, output.state_c, output.predictions)


class TransposedKernelClassifier(NumpyClassifier):
    """Loads ``lstm.kernel`` by reshaping its transpose, the classic torch-import bug."""

    def set_weights(self, weights):
        kernel = np.asarray(weights["lstm.kernel"])
        super().set_weights({**weights, "lstm.kernel": kernel.T.reshape(kernel.shape)})


class GradientOffClassifier(NumpyClassifier):
    """Returns the recurrent kernel's gradient 0.1% too large."""

    def loss_and_gradients(self, token_ids, labels):
        loss, gradients = super().loss_and_gradients(token_ids, labels)
        gradients["lstm.recurrent_kernel"] = gradients["lstm.recurrent_kernel"] * 1.001
        return loss, gradients


class DenseBiasDroppedClassifier(NumpyClassifier):
    """Computes the head without ``dense.bias`` (so it never learns it)."""

    def _without_bias(self):
        return {**self.weights, "dense.bias": np.zeros_like(self.weights["dense.bias"])}

    def forward(self, token_ids):
        saved, self.weights = self.weights, self._without_bias()
        try:
            return super().forward(token_ids)
        finally:
            self.weights = saved

    def loss_and_gradients(self, token_ids, labels):
        saved, self.weights = self.weights, self._without_bias()
        try:
            loss, gradients = super().loss_and_gradients(token_ids, labels)
        finally:
            self.weights = saved
        gradients["dense.bias"] = np.zeros_like(gradients["dense.bias"])
        return loss, gradients


class ForwardOnlyStepClassifier(NumpyClassifier):
    """Its timed train step is only a forward pass: no loss, no backward, no update."""

    def prepare_train_step(self, token_ids, labels, optimizer):
        token_ids = np.asarray(token_ids)
        return lambda: self.forward(token_ids)


class FirstStepOnlyClassifier(NumpyClassifier):
    """Its timed train step does the real step once, then only a forward pass."""

    def prepare_train_step(self, token_ids, labels, optimizer):
        real = super().prepare_train_step(token_ids, labels, optimizer)
        calls = []

        def step():
            calls.append(1)
            return real() if len(calls) == 1 else self.forward(np.asarray(token_ids))

        return step


class CachedInferenceClassifier(NumpyClassifier):
    """Its timed inference computes once and returns that answer ever after."""

    def prepare_inference(self, token_ids):
        real, cache = super().prepare_inference(token_ids), []

        def step():
            if not cache:
                cache.append(real())
            return cache[0]

        return step


class PrecomputedInferenceClassifier(NumpyClassifier):
    """Its timed inference was computed while preparing: the closure only hands the answer back."""

    def prepare_inference(self, token_ids):
        answer = self.forward(np.asarray(token_ids))
        return lambda: answer


class FirstBatchInferenceClassifier(NumpyClassifier):
    """Its timed inference always runs the first batch it was ever given, whatever the closure's own."""

    first_batch = None

    def prepare_inference(self, token_ids):
        if self.first_batch is None:
            self.first_batch = np.asarray(token_ids)
        return lambda: self.forward(self.first_batch)


class EveryOtherStepClassifier(NumpyClassifier):
    """Its timed train step applies the update on odd calls only."""

    def prepare_train_step(self, token_ids, labels, optimizer):
        real, calls = super().prepare_train_step(token_ids, labels, optimizer), []

        def step():
            calls.append(1)
            return real() if len(calls) % 2 else self.forward(np.asarray(token_ids))

        return step


class AdamRestartClassifier(NumpyClassifier):
    """Its timed train step builds a new Adam every call (zero moments, step count 1 each time)."""

    def prepare_train_step(self, token_ids, labels, optimizer):
        token_ids, labels = np.asarray(token_ids), np.asarray(labels, dtype=self.weights["embedding"].dtype)

        def step():
            self.optimizer = None
            return self.train_step(token_ids, labels, optimizer)

        return step


class PreparedFeaturesClassifier(NumpyClassifier):
    """Its timed inference computes the LSTM's features while preparing and runs only the dense head."""

    def prepare_inference(self, token_ids):
        steps = self._layer_outputs(np.asarray(token_ids))
        features = steps["flatten"][0] if self.spec.return_sequences else steps["lstm"][0]

        def step():
            return sigmoid(features @ self.weights["dense.kernel"] + self.weights["dense.bias"])

        return step


class StaleGradientsClassifier(NumpyClassifier):
    """Never zeroes its gradients: each call returns the sum of every call's gradients so far."""

    accumulated = None

    def loss_and_gradients(self, token_ids, labels):
        loss, gradients = super().loss_and_gradients(token_ids, labels)
        if self.accumulated is None:
            self.accumulated = gradients
        else:
            self.accumulated = {name: self.accumulated[name] + gradients[name] for name in gradients}
        return loss, {name: value.copy() for name, value in self.accumulated.items()}


class AliasedWeightsClassifier(NumpyClassifier):
    """``set_weights`` keeps the caller's arrays instead of copying them."""

    def set_weights(self, weights):
        self.weights = {name: np.asarray(weights[name]) for name in self.weights}


class AliasedExportClassifier(NumpyClassifier):
    """``get_weights`` hands out the model's own arrays instead of copies."""

    def get_weights(self):
        return dict(self.weights)


class ClippedGradientsClassifier(NumpyClassifier):
    """Clips the gradient's global norm to 1 before every optimizer step, as ``clipnorm=1`` would."""

    def train_step(self, token_ids, labels, optimizer):
        if self.optimizer is None or self.optimizer.spec != optimizer:
            self.optimizer = NumpyOptimizer(optimizer)
        loss, gradients = self.loss_and_gradients(token_ids, labels)
        norm = np.sqrt(sum(float(np.sum(value * value)) for value in gradients.values()))
        if norm > 1.0:
            gradients = {name: value / norm for name, value in gradients.items()}
        self.optimizer.apply(self.weights, gradients)
        return loss


class DeferredInferenceClassifier(NumpyClassifier):
    """Its timed inference returns a handle at once; the forward pass runs when ``output_to_numpy`` reads it,
    outside the timed region (a lazy framework whose closure forgot to force the result)."""

    def prepare_inference(self, token_ids):
        token_ids = np.asarray(token_ids)
        return lambda: (lambda: self.forward(token_ids).predictions)

    def output_to_numpy(self, output):
        return super().output_to_numpy(output() if callable(output) else output)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class CellNotSquashedClassifier(NumpyClassifier):
    """Computes ``h = o * c`` instead of ``o * tanh(c)`` (the gate equations written from memory)."""

    def forward(self, token_ids):
        w, ids = self.weights, np.asarray(token_ids)
        batch, steps, units = ids.shape[0], ids.shape[1], self.spec.hidden
        h = c = np.zeros((batch, units), w["embedding"].dtype)
        inputs, outputs = w["embedding"][ids], []
        for t in range(steps):
            z = inputs[:, t] @ w["lstm.kernel"] + h @ w["lstm.recurrent_kernel"] + w["lstm.bias"]
            i, f, g, o = np.split(z, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * c
            outputs.append(h)
        sequence = np.stack(outputs, axis=1)
        features = sequence.reshape(batch, -1) if self.spec.return_sequences else h
        predictions = sigmoid(features @ w["dense.kernel"] + w["dense.bias"])
        states = (h, c) if self.spec.return_state else (None, None)
        return ForwardOutput(sequence if self.spec.return_sequences else h, states[0], states[1], predictions)


class InferenceOnlyClassifier(ClassifierModel):
    """Implements only the required methods: training is unsupported, not failed."""

    def __init__(self, inner: NumpyClassifier) -> None:
        self.inner = inner
        self.spec = inner.spec

    def summary(self):
        return self.inner.summary()

    def get_weights(self):
        return self.inner.get_weights()

    def set_weights(self, weights):
        self.inner.set_weights(weights)

    def forward(self, token_ids):
        return self.inner.forward(token_ids)


FAULTY_CLASSIFIERS = {
    "two-biases": TwoBiasClassifier,
    "last-step-only": LastStepOnlyClassifier,
    "gate-swap": GateSwapClassifier,
    "opaque-gate-swap": OpaqueGateSwapClassifier,
    "hook-disagrees": HookDisagreesClassifier,
    "transposed-kernel": TransposedKernelClassifier,
    "gradient-off": GradientOffClassifier,
    "dense-bias-dropped": DenseBiasDroppedClassifier,
    "forward-only-step": ForwardOnlyStepClassifier,
    "first-step-only": FirstStepOnlyClassifier,
    "cached-inference": CachedInferenceClassifier,
    "precomputed-inference": PrecomputedInferenceClassifier,
    "first-batch-inference": FirstBatchInferenceClassifier,
    "every-other-step": EveryOtherStepClassifier,
    "adam-restart": AdamRestartClassifier,
    "prepared-features": PreparedFeaturesClassifier,
    "stale-gradients": StaleGradientsClassifier,
    "aliased-weights": AliasedWeightsClassifier,
    "aliased-export": AliasedExportClassifier,
    "clipped-gradients": ClippedGradientsClassifier,
    "deferred-inference": DeferredInferenceClassifier,
    "cell-not-squashed": CellNotSquashedClassifier,
}


class FaultyBackend(NumpyBackend):
    """The NumPy reference with a planted fault chosen by ``fault``."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    shared: dict = {}

    def build(self, spec, device="cpu"):
        if self.fault == "shared-model":
            if spec not in self.shared:
                self.shared[spec] = super().build(spec, device)
            return self.shared[spec]
        model = super().build(spec, device)
        if self.fault in FAULTY_CLASSIFIERS:
            return FAULTY_CLASSIFIERS[self.fault](spec, model.weights)
        if self.fault == "inference-only":
            return InferenceOnlyClassifier(model)
        if spec.hidden == TRIGGER_HIDDEN:
            if self.fault == "crash":
                os.kill(os.getpid(), signal.SIGSEGV)
            if self.fault == "hang":
                time.sleep(3600)
            if self.fault == "raise":
                raise RuntimeError("planted failure")
            if self.fault == "memory-hog":
                hoard = []
                for _ in range(100):  # up to 10 GiB, 100 MiB at a time, each page touched
                    hoard.append(np.ones(100 * 2**20 // 8))
                    time.sleep(0.01)
        return model


class ArticleOnlyBackend(NumpyBackend):
    """Builds one unidirectional, unpadded layer only, and says so for any other spec."""

    def build(self, spec, device="cpu"):
        refuse_unsupported_options(spec, "fake-article-only", layers=(1,), bidirectional=(False,), padding=("none",))
        return super().build(spec, device)


class UnprofiledBackend(NumpyBackend):
    """The NumPy reference as a plugin written before profiling: the contract's default ``profile_steps``."""

    def build(self, spec, device="cpu"):
        model = super().build(spec, device)
        model.profile_steps = lambda step, calls: ClassifierModel.profile_steps(model, step, calls)
        return model


class UnloadableBackend(NumpyBackend):
    """Fails in its constructor, as a backend whose framework is broken would."""

    def __init__(self) -> None:
        raise ImportError("libfake.so: cannot open shared object file")


FAULTS = (*FAULTY_CLASSIFIERS, "shared-model", "inference-only", "crash", "hang", "raise", "memory-hog")


@hookimpl
def bench_register_backends(register):
    """Register one fake per planted fault, a healthy copy of numpy, and two that cannot run."""
    register(BackendInfo(
        name="fake-ok", implementation="backends.numpy_backend:NumpyBackend", framework="NumPy",
        requires=("numpy",), description="the NumPy reference under another name",
    ))
    for fault in FAULTS:
        register(BackendInfo(
            name=f"fake-{fault}", implementation="fake_backends:FaultyBackend", framework="NumPy",
            requires=("numpy",), options={"fault": fault}, description=f"planted fault: {fault}",
        ))
    register(BackendInfo(
        name="fake-missing", implementation="fake_backends:FaultyBackend", framework="Nothing",
        requires=("lstm-bench-no-such-distribution",), install_hint="pip install lstm-bench-no-such-distribution",
    ))
    register(BackendInfo(name="fake-unloadable", implementation="fake_backends:UnloadableBackend", framework="NumPy"))
    register(BackendInfo(name="fake-unprofiled", implementation="fake_backends:UnprofiledBackend", framework="NumPy",
                         requires=("numpy",), description="no profile_steps: 'not profiled'"))
    register(BackendInfo(name="fake-article-only", implementation="fake_backends:ArticleOnlyBackend", framework="NumPy",
                         requires=("numpy",), description="refuses stacked, bidirectional and padded models"))
    register(BackendInfo(
        name="fake-torch-native-eps", implementation="fake_torch_backends:NativeEpsilonTorchBackend", framework="PyTorch",
        requires=("torch",), description="torch.optim.Adam with its own epsilon placement",
    ))
