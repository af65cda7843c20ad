"""A backend with a planted slowdown, to measure whether ``bench compare`` finds what is really there.

Backend ``planted`` is the NumPy reference whose timed steps (training and inference) do their real work
and then ``LSTM_BENCH_PLANTED_SLOWDOWN`` (a fraction: 0.10 = 10%) more: a busy loop as long as that
fraction of the step's own running median duration. Run A with the variable at 0 and run B at 0.10, both
with ``--threads 1``, and B's cells are truly 1.10x slower. (Not PyTorch: with a multi-threaded pool the
busy loop lets the pool's threads fall asleep between steps, and waking them slows the real step too, so
the truth would no longer be 1.10: a first attempt on torch measured 1.19-1.33.) Used by ``benchmarks/compare_calibration.py``; load it with
``LSTM_BENCH_PLUGINS=benchmarks.planted_slowdown`` from the repository root.
"""

from __future__ import annotations

import os
import time
from collections import deque
from statistics import median

from harness.api import BackendInfo, hookimpl

SLOWDOWN_ENV = "LSTM_BENCH_PLANTED_SLOWDOWN"


class PlantedSlowdownBackend:
    """The NumPy reference, its timed steps slowed by a known fraction."""

    def __init__(self) -> None:
        from backends.numpy_backend import NumpyBackend

        self._inner = NumpyBackend()
        self.slowdown = float(os.environ.get(SLOWDOWN_ENV, "0") or 0)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def build(self, spec, device="cpu"):
        return PlantedModel(self._inner.build(spec, device), self.slowdown)


class PlantedModel:
    """A model whose prepared steps are slowed; every other method is the real model's."""

    def __init__(self, inner, slowdown: float) -> None:
        self._inner, self._slowdown = inner, slowdown

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def prepare_train_step(self, token_ids, labels, optimizer):
        return self._slowed(self._inner.prepare_train_step(token_ids, labels, optimizer))

    def prepare_inference(self, token_ids):
        return self._slowed(self._inner.prepare_inference(token_ids))

    def _slowed(self, step):
        recent = deque(maxlen=50)

        def slowed_step():
            started = time.perf_counter()
            result = step()
            recent.append(time.perf_counter() - started)
            until = time.perf_counter() + self._slowdown * median(recent)
            while time.perf_counter() < until:
                pass
            return result

        return slowed_step


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="planted", implementation="benchmarks.planted_slowdown:PlantedSlowdownBackend",
                         framework="NumPy", requires=("numpy",), default=False, cpu_only=True,
                         description="benchmark aid: the NumPy reference with a planted slowdown (LSTM_BENCH_PLANTED_SLOWDOWN)"))
