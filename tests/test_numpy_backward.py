"""The NumPy reference's hand-written backward pass and optimizers, checked from first principles."""

import math

import numpy as np
import pytest

from backends.numpy_optimizers import NumpyOptimizer
from backends.numpy_reference import classifier_loss_and_gradients
from harness.canonical import keras_default_weights, sample_batch
from harness.contract import WEIGHT_NAMES
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec, keras_epsilon_for_torch

FD_STEP = 1e-5


def finite_difference_gradients(weights, token_ids, labels, spec):
    """Central differences of the loss, one weight element at a time, in float64."""
    gradients = {}
    for name, value in weights.items():
        gradient = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + FD_STEP
            loss_plus, _ = classifier_loss_and_gradients(weights, token_ids, labels, spec)
            value[index] = original - FD_STEP
            loss_minus, _ = classifier_loss_and_gradients(weights, token_ids, labels, spec)
            value[index] = original
            gradient[index] = (loss_plus - loss_minus) / (2 * FD_STEP)
        gradients[name] = gradient
    return gradients


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("seq_len,batch_size", [(1, 1), (4, 3)])
def test_backward_matches_central_differences(return_sequences, seq_len, batch_size):
    spec = ModelSpec(vocab_size=6, embed_dim=3, hidden=4, seq_len=seq_len, batch_size=batch_size,
                     return_sequences=return_sequences, seed=7)
    weights = keras_default_weights(spec, "float64")
    weights["lstm.bias"] += np.linspace(-0.3, 0.3, weights["lstm.bias"].size)  # no special zeros
    weights["dense.bias"] += 0.1
    token_ids, labels = sample_batch(spec)
    _, analytic = classifier_loss_and_gradients(weights, token_ids, labels.astype(np.float64), spec)
    numeric = finite_difference_gradients(weights, token_ids, labels.astype(np.float64), spec)
    for name in WEIGHT_NAMES:
        difference = np.linalg.norm(analytic[name] - numeric[name])
        scale = np.linalg.norm(analytic[name]) + np.linalg.norm(numeric[name])
        relative_error = difference / scale if scale else difference
        assert relative_error <= 1e-6, f"{name}: relative error {relative_error:.2e}"


def test_repeated_tokens_accumulate_embedding_gradients():
    spec = ModelSpec(vocab_size=5, embed_dim=2, hidden=3, seq_len=3, batch_size=2, return_sequences=False)
    weights = keras_default_weights(spec, "float64")
    labels = np.array([[1.0], [0.0]])
    repeated = np.array([[2, 2, 4], [2, 0, 1]])
    _, gradients = classifier_loss_and_gradients(weights, repeated, labels, spec)
    # Token 2 appears three times; its row is the sum of three per-position contributions. Moving the
    # whole row by eps changes the loss by the row gradient's sum (checked along a direction).
    direction = np.zeros_like(weights["embedding"])
    direction[2] = [1.0, -0.5]
    loss_plus, _ = classifier_loss_and_gradients({**weights, "embedding": weights["embedding"] + 1e-6 * direction}, repeated, labels, spec)
    loss_minus, _ = classifier_loss_and_gradients({**weights, "embedding": weights["embedding"] - 1e-6 * direction}, repeated, labels, spec)
    assert math.isclose((loss_plus - loss_minus) / 2e-6, float(np.sum(gradients["embedding"] * direction)), rel_tol=1e-6)
    assert not gradients["embedding"][3].any()  # token 3 is absent: exactly zero


def test_sgd_is_w_minus_lr_g():
    weights = {"w": np.array([1.0, -2.0])}
    NumpyOptimizer(OptimizerSpec("sgd", 0.5)).apply(weights, {"w": np.array([0.2, 0.4])})
    np.testing.assert_allclose(weights["w"], [0.9, -2.2])


def test_adam_two_steps_by_hand():
    spec = OptimizerSpec("adam", learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    weights = {"w": np.array([1.0])}
    optimizer = NumpyOptimizer(spec)
    m = v = 0.0
    w = 1.0
    for t, g in enumerate((0.5, -0.25), start=1):
        optimizer.apply(weights, {"w": np.array([g])})
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.1 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (math.sqrt(v) + 1e-7)
    assert math.isclose(weights["w"][0], w, rel_tol=1e-12)


@pytest.mark.parametrize("step", [1, 2, 10, 1000])
def test_torch_epsilon_shift_reproduces_the_keras_update(step):
    spec = OptimizerSpec("adam", learning_rate=0.01, epsilon=1e-7)
    m, v = 3e-6, 1e-12  # a small gradient history, where epsilon matters
    bias_1, bias_2 = 1 - spec.beta_1 ** step, 1 - spec.beta_2 ** step
    keras_update = spec.learning_rate * math.sqrt(bias_2) / bias_1 * m / (math.sqrt(v) + spec.epsilon)
    eps = keras_epsilon_for_torch(spec, step)
    torch_update = spec.learning_rate / bias_1 * m / (math.sqrt(v) / math.sqrt(bias_2) + eps)
    naive_torch_update = spec.learning_rate / bias_1 * m / (math.sqrt(v) / math.sqrt(bias_2) + spec.epsilon)
    assert math.isclose(torch_update, keras_update, rel_tol=1e-12)
    if step < 1000:
        assert not math.isclose(naive_torch_update, keras_update, rel_tol=1e-2)


def test_scatter_add_rows_equals_np_add_at():
    from backends.numpy_reference import scatter_add_rows

    rng = np.random.default_rng(3)
    ids = rng.integers(0, 7, size=50)
    rows = rng.standard_normal((50, 4))
    expected = np.zeros((9, 4))
    np.add.at(expected, ids, rows)
    actual = np.zeros((9, 4))
    scatter_add_rows(actual, ids, rows)
    np.testing.assert_allclose(actual, expected, atol=1e-12)
