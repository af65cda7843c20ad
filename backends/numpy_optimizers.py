"""SGD and Adam in NumPy, exactly as `harness.optimizers` defines them."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from harness.optimizers import OptimizerSpec


class NumpyOptimizer:
    """Updates a dict of weights in place from a dict of gradients; keeps Adam's moments per weight."""

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec
        self.step_count = 0
        self.first_moments: dict[str, np.ndarray] = {}
        self.second_moments: dict[str, np.ndarray] = {}

    def apply(self, weights: dict[str, np.ndarray], gradients: Mapping[str, np.ndarray]) -> None:
        """One update of every weight that has a gradient."""
        self.step_count += 1
        spec = self.spec
        if spec.name == "sgd":
            for name, gradient in gradients.items():
                weights[name] -= spec.learning_rate * gradient
            return
        t = self.step_count
        step_size = spec.learning_rate * math.sqrt(1.0 - spec.beta_2 ** t) / (1.0 - spec.beta_1 ** t)
        for name, gradient in gradients.items():
            m = self.first_moments.setdefault(name, np.zeros_like(gradient))
            v = self.second_moments.setdefault(name, np.zeros_like(gradient))
            m += (1.0 - spec.beta_1) * (gradient - m)
            v += (1.0 - spec.beta_2) * (gradient * gradient - v)
            weights[name] -= step_size * m / (np.sqrt(v) + spec.epsilon)
