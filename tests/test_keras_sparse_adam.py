"""Keras' native sparse-embedding Adam differs from the canonical Adam on tokens repeated in a batch.

This pins a real framework difference (see docs/equivalence.md): if a Keras release changes it, this test
says so, and the keras backend's dense-gradient workaround can be revisited.
"""

import os

import numpy as np
import pytest

from harness.canonical import keras_default_weights, sample_batch
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from backends.keras_backend import KerasBackend  # noqa: E402
from backends.numpy_backend import NumpyBackend  # noqa: E402

SPEC = ModelSpec(vocab_size=1000, embed_dim=5, hidden=16, seq_len=5, batch_size=8)


def one_step(backend, optimizer):
    model = backend.build(SPEC)
    model.set_weights(keras_default_weights(SPEC))
    token_ids, labels = sample_batch(SPEC)
    model.train_step(token_ids, labels, optimizer)
    return model.get_weights()["embedding"], token_ids


@pytest.mark.parametrize("sparse", [False, True], ids=["dense-gradients", "keras-native-sparse"])
def test_adam_on_repeated_tokens(sparse):
    adam = OptimizerSpec("adam", learning_rate=0.01)
    reference, token_ids = one_step(NumpyBackend("float64"), adam)
    actual, _ = one_step(KerasBackend(sparse_embedding_updates=sparse), adam)
    initial = keras_default_weights(SPEC)["embedding"].astype(np.float64)
    ids, counts = np.unique(token_ids, return_counts=True)
    repeated, single = ids[counts > 1], ids[counts == 1]
    scale = np.abs(reference - initial).max()
    error = np.abs((actual - initial) - (reference - initial)).max(axis=1) / scale
    assert error[single].max() < 1e-4
    if sparse:
        assert error[repeated].min() > 1e-2  # Keras squares each occurrence's gradient separately
    else:
        assert error[repeated].max() < 1e-4


def test_sgd_is_linear_so_sparse_updates_agree():
    sgd = OptimizerSpec("sgd", learning_rate=0.5)
    reference, _ = one_step(NumpyBackend("float64"), sgd)
    actual, _ = one_step(KerasBackend(sparse_embedding_updates=True), sgd)
    np.testing.assert_allclose(actual, reference, atol=1e-7)
