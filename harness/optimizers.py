"""The optimizers every backend must apply identically: plain SGD and Adam (Keras' formulation).

SGD::

    w <- w - learning_rate * g

Adam, for step t = 1, 2, ... (Keras 3's ``keras.optimizers.Adam``, Kingma & Ba's "epsilon hat" form)::

    m <- beta_1 * m + (1 - beta_1) * g
    v <- beta_2 * v + (1 - beta_2) * g**2
    w <- w - learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)

The frameworks differ in two ways, and a fair comparison has to undo both:

1. **Defaults.** Keras: ``learning_rate=0.001, epsilon=1e-7``. PyTorch: ``lr=0.001, eps=1e-8``. lstm-bench
   never relies on defaults: every backend gets the explicit `OptimizerSpec`.
2. **Where epsilon enters.** PyTorch adds epsilon *after* bias-correcting v:
   ``w -= lr / (1 - beta_1**t) * m / (sqrt(v) / sqrt(1 - beta_2**t) + eps)``. That equals the Keras
   update above exactly when ``eps = epsilon / sqrt(1 - beta_2**t)``, so the torch backend sets its
   param group's ``eps`` to that value before every step (`keras_epsilon_for_torch`) and keeps using
   ``torch.optim.Adam`` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import BenchUsageError

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and all of its hyper-parameters, given explicitly to every backend."""

    name: str
    learning_rate: float
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise BenchUsageError(f"optimizer: {self.name!r} is not supported (expected one of {OPTIMIZERS})")
        if not self.learning_rate > 0:
            raise BenchUsageError(f"optimizer: learning rate {self.learning_rate!r} must be > 0")

    def label(self) -> str:
        """E.g. ``sgd(lr=0.5)`` or ``adam(lr=0.01, b1=0.9, b2=0.999, eps=1e-07)``."""
        if self.name == "sgd":
            return f"sgd(lr={self.learning_rate:g})"
        return f"adam(lr={self.learning_rate:g}, b1={self.beta_1:g}, b2={self.beta_2:g}, eps={self.epsilon:g})"


def keras_epsilon_for_torch(spec: OptimizerSpec, step: int) -> float:
    """The ``eps`` that makes ``torch.optim.Adam``'s step number ``step`` (1-based) equal Keras' update."""
    return spec.epsilon / math.sqrt(1.0 - spec.beta_2 ** step)
