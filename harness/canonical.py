"""Canonical data: initial weights and batches, reproducible from a spec's seed.

Loading the same arrays into every backend is what makes their outputs comparable. Weights are drawn
with Keras 3's default initializers for ``Embedding``, ``LSTM`` and ``Dense``:

- ``embedding``: uniform(-0.05, 0.05)
- ``lstm.kernel`` and ``dense.kernel``: glorot-uniform, limit ``sqrt(6 / (fan_in + fan_out))``
- ``lstm.recurrent_kernel``: orthogonal (gain 1)
- ``lstm.bias``: zeros, except the forget-gate block, which is 1 (``unit_forget_bias=True``)
- ``dense.bias``: zeros

With ``spec.large_states`` (the conformance kit's stress spec) the same draws are then pushed where
subtle bugs show by a wide margin: the input and forget gates open (bias `LARGE_STATE_GATE_BIAS`), the
candidate biased to one sign (`LARGE_STATE_CANDIDATE_BIAS`), so the cell state accumulates to ``|c| ~ 3``
over a few steps (``tanh(3) = 0.995``: ``h = o * c`` is off by 200%); and the dense kernel scaled by
`LARGE_STATE_DENSE_SCALE` and its bias set to `LARGE_STATE_DENSE_BIAS`, so the predictions are confident
(wrong for every 0 label) and the global gradient norm is well above 1
(clipping at 1, or a loss summed instead of averaged, changes every step).
"""

from __future__ import annotations

import numpy as np

from harness.contract import weight_shapes
from harness.model_spec import ModelSpec

LARGE_STATE_GATE_BIAS = 1.5
"""sigmoid(1.5) = 0.82 for the input and forget gates of the stress spec."""
LARGE_STATE_CANDIDATE_BIAS = 1.0
"""tanh(1) = 0.76 for the candidate: the cell state tends to 0.82 * 0.76 / 0.18 = 3.5."""
LARGE_STATE_DENSE_SCALE = 4.0
LARGE_STATE_DENSE_BIAS = 3.0
"""sigmoid(3) = 0.95: the stress spec's predictions start confident, and wrong for every 0 label."""


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
    if spec.large_states:
        h = spec.hidden
        weights["lstm.bias"][:2 * h] += LARGE_STATE_GATE_BIAS
        weights["lstm.bias"][2 * h:3 * h] += LARGE_STATE_CANDIDATE_BIAS
        weights["dense.kernel"] = weights["dense.kernel"] * LARGE_STATE_DENSE_SCALE
        weights["dense.bias"] = weights["dense.bias"] + LARGE_STATE_DENSE_BIAS
    return {name: value.astype(dtype) for name, value in weights.items()}


def sample_token_ids(spec: ModelSpec, batch_size: int | None = None, step: int = 0) -> np.ndarray:
    """Token ids ``(B, T)`` for batch number ``step``, always including 0 and ``vocab_size - 1``, and
    token 0 twice whenever the batch holds three or more tokens (embedding gradients must accumulate)."""
    rng = np.random.default_rng((spec.seed, 1, step))
    batch = batch_size or spec.batch_size
    token_ids = rng.integers(0, spec.vocab_size, size=(batch, spec.seq_len), dtype=np.int64)
    token_ids.flat[0] = 0
    token_ids.flat[-1] = spec.vocab_size - 1
    if token_ids.size >= 3:
        token_ids.flat[1] = 0
    return token_ids


def sample_batch(spec: ModelSpec, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Batch number ``step``: token ids ``(B, T)`` int64 and binary labels ``(B, 1)`` float32, both classes
    present whenever ``B >= 2``."""
    token_ids = sample_token_ids(spec, step=step)
    rng = np.random.default_rng((spec.seed, 2, step))
    labels = rng.integers(0, 2, size=(spec.batch_size, 1)).astype(np.float32)
    if spec.batch_size >= 2:
        labels[0, 0], labels[1, 0] = 0.0, 1.0
    return token_ids, labels
