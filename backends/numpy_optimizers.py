"""SGD and Adam in NumPy, exactly as `harness.optimizers` defines them."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from harness.optimizers import OptimizerSpec


class NumpyOptimizer:
    """Updates a dict of weights in place from a dict of gradients; keeps Adam's moments per weight.

    Every update is computed in place (moments, a scratch array per weight) so that a training step
    allocates nothing the size of the embedding table.
    """

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec
        self.step_count = 0
        self.first_moments: dict[str, np.ndarray] = {}
        self.second_moments: dict[str, np.ndarray] = {}
        self.scratch: dict[str, np.ndarray] = {}

    def apply(self, weights: dict[str, np.ndarray], gradients: Mapping[str, np.ndarray]) -> None:
        """One update of every weight that has a gradient."""
        self.step_count += 1
        spec = self.spec
        if spec.name == "sgd":
            for name, gradient in gradients.items():
                weights[name] -= spec.learning_rate * gradient              # w <- w - lr * g
            return
        t = self.step_count
        step_size = spec.learning_rate * math.sqrt(1.0 - spec.beta_2 ** t) / (1.0 - spec.beta_1 ** t)
        for name, gradient in gradients.items():
            m = self.first_moments.setdefault(name, np.zeros_like(gradient))
            v = self.second_moments.setdefault(name, np.zeros_like(gradient))
            scratch = self.scratch.setdefault(name, np.empty_like(gradient))
            np.subtract(gradient, m, out=scratch)                           # m <- m + (1 - b1) (g - m)
            scratch *= 1.0 - spec.beta_1
            m += scratch
            np.multiply(gradient, gradient, out=scratch)                    # v <- v + (1 - b2) (g^2 - v)
            scratch -= v
            scratch *= 1.0 - spec.beta_2
            v += scratch
            np.sqrt(v, out=scratch)                                         # w <- w - step m / (sqrt(v) + eps)
            scratch += spec.epsilon
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            weights[name] -= scratch
