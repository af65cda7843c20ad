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

from harness.contract import lstm_layer_weights, weight_shapes
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
    """Fresh canonical weights for ``spec``, reproducible from ``spec.seed``: the embedding, then each
    LSTM layer's and direction's kernel and recurrent kernel, bottom layer and forward direction first,
    then the dense kernel (so the article's model draws what it always drew)."""
    rng = np.random.default_rng(spec.seed)
    shapes = weight_shapes(spec)
    h = spec.hidden
    weights = {"embedding": rng.uniform(-0.05, 0.05, size=shapes["embedding"])}
    for names in lstm_layer_weights(spec).values():
        for kernel, recurrent_kernel, bias_name in zip(names[0::3], names[1::3], names[2::3]):
            bias = np.zeros(shapes[bias_name])
            bias[h:2 * h] = 1.0
            if spec.large_states:
                bias[:2 * h] += LARGE_STATE_GATE_BIAS
                bias[2 * h:3 * h] += LARGE_STATE_CANDIDATE_BIAS
            weights[kernel] = glorot_uniform(rng, shapes[kernel])
            weights[recurrent_kernel] = orthogonal(rng, shapes[recurrent_kernel])
            weights[bias_name] = bias
    weights["dense.kernel"] = glorot_uniform(rng, shapes["dense.kernel"])
    weights["dense.bias"] = np.zeros(shapes["dense.bias"])
    if spec.large_states:
        weights["dense.kernel"] = weights["dense.kernel"] * LARGE_STATE_DENSE_SCALE
        weights["dense.bias"] = weights["dense.bias"] + LARGE_STATE_DENSE_BIAS
    return {name: value.astype(dtype) for name, value in weights.items()}


def example_lengths(spec: ModelSpec, batch_size: int | None = None, step: int = 0) -> np.ndarray:
    """Each example's real length ``(B,)`` in batch number ``step``: ``seq_len`` for all without padding;
    with padding drawn from ``[min_length, seq_len]``, the first example ``min_length`` and the second
    ``seq_len``, so that every batch of two or more holds a padded example and a full one."""
    batch = batch_size or spec.batch_size
    if not spec.padded:
        return np.full(batch, spec.seq_len, dtype=np.int64)
    rng = np.random.default_rng((spec.seed, 3, step))
    lengths = rng.integers(spec.min_length, spec.seq_len + 1, size=batch, dtype=np.int64)
    lengths[0] = spec.min_length
    if batch >= 2:
        lengths[1] = spec.seq_len
    return lengths


def real_token_mask(spec: ModelSpec, lengths: np.ndarray) -> np.ndarray:
    """``(B, T)`` bool, True at each example's real tokens: its first ``length`` steps (right padding),
    its last ``length`` (left), every step (none)."""
    steps = np.arange(spec.seq_len)
    if spec.padding == "left":
        return steps[None, :] >= (spec.seq_len - lengths)[:, None]
    return steps[None, :] < lengths[:, None]


def sample_token_ids(spec: ModelSpec, batch_size: int | None = None, step: int = 0) -> np.ndarray:
    """Token ids ``(B, T)`` for batch number ``step``, always including 0 and ``vocab_size - 1``, and
    token 0 twice whenever the batch holds three or more tokens (embedding gradients must accumulate).

    With padding, id 0 is padding only (`example_lengths`, on the spec's side) and the real tokens are drawn
    from ``[1, vocab_size)``; token 1 is the first real token of the first two examples (a repeat) and
    ``vocab_size - 1`` the last real token of the last example."""
    rng = np.random.default_rng((spec.seed, 1, step))
    batch = batch_size or spec.batch_size
    if spec.padded:
        token_ids = rng.integers(1, spec.vocab_size, size=(batch, spec.seq_len), dtype=np.int64)
        real = real_token_mask(spec, example_lengths(spec, batch, step))
        first_real, last_real = real.argmax(axis=1), spec.seq_len - 1 - real[:, ::-1].argmax(axis=1)
        token_ids[np.arange(min(batch, 2)), first_real[:2]] = 1
        token_ids[-1, last_real[-1]] = spec.vocab_size - 1
        token_ids[~real] = 0
        return token_ids
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
