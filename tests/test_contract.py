"""The analytic parameter formula and canonical layout, independent of any backend."""

import numpy as np
import pytest

from harness.canonical import (
    keras_default_weights,
    orthogonal,
    sample_batch,
    sample_token_ids,
)
from harness.contract import (
    WEIGHT_NAMES,
    check_weights,
    expected_layer_output_shapes,
    expected_layer_params,
    expected_total_params,
    weight_shapes,
)
from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec


def test_reference_config_has_250115_params():
    spec = ModelSpec()
    assert expected_layer_params(spec) == {"embedding": 250_000, "lstm": 108, "dense": 7}
    assert expected_total_params(spec) == 250_115


def test_issue_example_without_sequences_has_22305_params():
    spec = ModelSpec(vocab_size=1000, embed_dim=16, hidden=32, seq_len=10, return_sequences=False)
    assert expected_total_params(spec) == 22_305


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("hidden", range(1, 65))
def test_formula_equals_the_size_of_the_canonical_weights(hidden, return_sequences):
    spec = ModelSpec(vocab_size=97, embed_dim=6, hidden=hidden, seq_len=5, return_sequences=return_sequences)
    sizes = {name: int(np.prod(shape)) for name, shape in weight_shapes(spec).items()}
    assert expected_total_params(spec) == sum(sizes.values())
    assert expected_layer_params(spec)["lstm"] == sizes["lstm.kernel"] + sizes["lstm.recurrent_kernel"] + sizes["lstm.bias"]
    assert expected_layer_params(spec)["dense"] == (5 * hidden if return_sequences else hidden) + 1


def test_layer_output_shapes_follow_keras_summary():
    shapes = expected_layer_output_shapes(ModelSpec(return_state=True))
    assert shapes == {
        "input": ((None, 2),),
        "embedding": ((None, 2, 5),),
        "lstm": ((None, 2, 3), (None, 3), (None, 3)),
        "flatten": ((None, 6),),
        "dense": ((None, 1),),
    }
    assert "flatten" not in expected_layer_output_shapes(ModelSpec(return_sequences=False))


def test_check_weights_names_the_wrong_tensor():
    spec = ModelSpec(vocab_size=10)
    weights = keras_default_weights(spec)
    check_weights(spec, weights)
    weights["lstm.kernel"] = weights["lstm.kernel"].T
    with pytest.raises(BenchUsageError, match=r"lstm.kernel has shape \(12, 5\), expected \(5, 12\)"):
        check_weights(spec, weights)
    del weights["dense.bias"]
    with pytest.raises(BenchUsageError, match=r"missing \['dense.bias'\]"):
        check_weights(spec, weights)


def test_initial_weights_follow_keras_defaults():
    spec = ModelSpec(vocab_size=200, embed_dim=8, hidden=16, seed=3)
    weights = keras_default_weights(spec)
    assert tuple(weights) == WEIGHT_NAMES
    assert all(value.dtype == np.float32 for value in weights.values())
    assert np.abs(weights["embedding"]).max() <= 0.05
    limit = np.sqrt(6 / (8 + 64))
    assert np.abs(weights["lstm.kernel"]).max() <= limit
    bias = weights["lstm.bias"]
    assert np.array_equal(bias[16:32], np.ones(16)) and not bias[:16].any() and not bias[32:].any()
    recurrent = weights["lstm.recurrent_kernel"].astype(np.float64)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(16), atol=1e-5)
    again = keras_default_weights(spec)
    assert all(np.array_equal(weights[name], again[name]) for name in WEIGHT_NAMES)


def test_orthogonal_handles_tall_and_wide():
    rng = np.random.default_rng(0)
    tall = orthogonal(rng, (12, 3))
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-12)
    wide = orthogonal(rng, (3, 12))
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-12)


def test_sample_token_ids_cover_both_ends_of_the_vocabulary():
    token_ids = sample_token_ids(ModelSpec(vocab_size=50, batch_size=3, seq_len=4))
    assert token_ids.shape == (3, 4)
    assert token_ids.min() == 0 and token_ids.max() == 49


def test_batches_repeat_a_token_and_hold_both_labels():
    spec = ModelSpec(vocab_size=1000, batch_size=3, seq_len=4)
    token_ids, labels = sample_batch(spec, step=5)
    assert (token_ids == 0).sum() >= 2 and token_ids.max() == 999
    assert labels.shape == (3, 1) and labels.dtype == np.float32 and set(labels[:2, 0]) == {0.0, 1.0}
    assert not np.array_equal(token_ids, sample_batch(spec, step=6)[0])
    np.testing.assert_array_equal(token_ids, sample_batch(spec, step=5)[0])


def test_each_counted_layer_has_its_formula_and_the_total_formula_reads_like_the_article():
    from harness.contract import LAYER_PARAM_FORMULAS, total_param_formula

    assert list(LAYER_PARAM_FORMULAS) == list(expected_layer_params(ModelSpec()))
    assert total_param_formula() == "V*E + 4*(E*H + H*H + H) + (F + 1)"
