"""Test-only backends, registered through ``LSTM_BENCH_PLUGINS=fake_backends`` exactly like a third-party
plugin. Each wraps the NumPy reference and plants one fault, or misbehaves when ``hidden == 13``."""

from __future__ import annotations

import os
import signal
import time

from backends.numpy_backend import NumpyBackend, NumpyClassifier
from harness.contract import ForwardOutput, LayerSummary
from harness.hookspecs import hookimpl
from harness.registry import BackendInfo

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


class FaultyBackend(NumpyBackend):
    """The NumPy reference with a planted fault chosen by ``fault``."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def build(self, spec):
        model = super().build(spec)
        if self.fault == "two-biases":
            return TwoBiasClassifier(spec, model.weights)
        if self.fault == "last-step-only":
            return LastStepOnlyClassifier(spec, model.weights)
        if spec.hidden == TRIGGER_HIDDEN:
            if self.fault == "crash":
                os.kill(os.getpid(), signal.SIGSEGV)
            if self.fault == "hang":
                time.sleep(3600)
            if self.fault == "raise":
                raise RuntimeError("planted failure")
        return model


class UnloadableBackend(NumpyBackend):
    """Fails in its constructor, as a backend whose framework is broken would."""

    def __init__(self) -> None:
        raise ImportError("libfake.so: cannot open shared object file")


FAULTS = ("two-biases", "last-step-only", "crash", "hang", "raise")


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
