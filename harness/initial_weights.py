"""Canonical initial weights drawn with Keras' default initializers, from a spec's seed.

Loading the same arrays into every backend is what makes their outputs comparable. The draws follow
Keras 3's defaults for ``Embedding``, ``LSTM`` and ``Dense``:

- ``embedding``: uniform(-0.05, 0.05)
- ``lstm.kernel`` and ``dense.kernel``: glorot-uniform, limit ``sqrt(6 / (fan_in + fan_out))``
- ``lstm.recurrent_kernel``: orthogonal (gain 1)
- ``lstm.bias``: zeros, except the forget-gate block, which is 1 (``unit_forget_bias=True``)
- ``dense.bias``: zeros
"""

from __future__ import annotations

import numpy as np

from harness.contract import weight_shapes
from harness.spec import ModelSpec


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform in ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A matrix with orthonormal rows or columns (whichever are fewer), as Keras' ``Orthogonal``."""
    rows, columns = shape
    flat = rng.standard_normal((max(rows, columns), min(rows, columns)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    return q.T if rows < columns else q


def keras_default_weights(spec: ModelSpec, dtype: str = "float32") -> dict[str, np.ndarray]:
    """Fresh canonical weights for ``spec``, reproducible from ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    shapes = weight_shapes(spec)
    bias = np.zeros(shapes["lstm.bias"])
    bias[spec.hidden:2 * spec.hidden] = 1.0
    weights = {
        "embedding": rng.uniform(-0.05, 0.05, size=shapes["embedding"]),
        "lstm.kernel": glorot_uniform(rng, shapes["lstm.kernel"]),
        "lstm.recurrent_kernel": orthogonal(rng, shapes["lstm.recurrent_kernel"]),
        "lstm.bias": bias,
        "dense.kernel": glorot_uniform(rng, shapes["dense.kernel"]),
        "dense.bias": np.zeros(shapes["dense.bias"]),
    }
    return {name: value.astype(dtype) for name, value in weights.items()}


def sample_token_ids(spec: ModelSpec, batch_size: int | None = None) -> np.ndarray:
    """Token ids ``(B, T)`` from the spec's seed, always including 0 and ``vocab_size - 1``."""
    rng = np.random.default_rng(spec.seed + 1)
    batch = batch_size or spec.batch_size
    token_ids = rng.integers(0, spec.vocab_size, size=(batch, spec.seq_len), dtype=np.int64)
    token_ids.flat[0] = 0
    token_ids.flat[-1] = spec.vocab_size - 1
    return token_ids
