"""Every available built-in backend honours the contract (in-process; the CLI runs them in workers)."""

import itertools
import os

import numpy as np
import pytest

from harness.canonical import keras_default_weights, sample_token_ids
from harness.contract import (
    WEIGHT_NAMES,
    expected_layer_output_shapes,
    expected_layer_params,
)
from harness.errors import BenchUsageError
from harness.model_spec import ModelSpec
from harness.plugins.discovery import discover

from conftest import DEFAULT_BACKEND_PARAMS

COMBINATIONS = list(itertools.product((True, False), repeat=2))
SMALL = ModelSpec(vocab_size=60, embed_dim=4, hidden=5, seq_len=3, batch_size=2)


def load_backend(name):
    info = discover().backend(name)
    os.environ.update(info.worker_env)
    return info.load()


@pytest.fixture(params=DEFAULT_BACKEND_PARAMS)
def backend(request):
    return load_backend(request.param)


@pytest.fixture(scope="module")
def reference():
    return load_backend("numpy")


def test_reports_version_and_cpu(backend):
    assert backend.framework_version()
    assert "cpu" in backend.devices()


@pytest.mark.parametrize("return_sequences,return_state", COMBINATIONS)
def test_summary_rows_match_the_contract(backend, return_sequences, return_state):
    spec = SMALL.replace(return_sequences=return_sequences, return_state=return_state)
    rows = backend.build(spec).summary()
    expected_shapes = expected_layer_output_shapes(spec)
    expected_params = expected_layer_params(spec)
    assert [row.name for row in rows] == list(expected_shapes)
    for row in rows:
        assert row.output_shapes == expected_shapes[row.name], row.name
        assert row.params == row.trainable_params == expected_params.get(row.name, 0), row.name


def test_reference_config_totals_250115(backend):
    assert sum(row.params for row in backend.build(ModelSpec()).summary()) == 250_115


def test_weights_round_trip_exactly_in_canonical_layout(backend):
    model = backend.build(SMALL)
    weights = keras_default_weights(SMALL)
    model.set_weights(weights)
    exported = model.get_weights()
    assert list(exported) == list(WEIGHT_NAMES)
    for name in WEIGHT_NAMES:
        assert exported[name].shape == weights[name].shape, name
        np.testing.assert_array_equal(exported[name], weights[name], err_msg=name)


def test_set_weights_refuses_a_transposed_kernel(backend):
    model = backend.build(SMALL)
    weights = keras_default_weights(SMALL)
    weights["lstm.recurrent_kernel"] = np.zeros((4 * SMALL.hidden, SMALL.hidden), np.float32)
    with pytest.raises(BenchUsageError, match="lstm.recurrent_kernel has shape"):
        model.set_weights(weights)


@pytest.mark.parametrize("return_sequences,return_state", COMBINATIONS)
def test_forward_matches_the_reference_on_identical_weights(backend, reference, return_sequences, return_state):
    spec = SMALL.replace(return_sequences=return_sequences, return_state=return_state)
    weights = keras_default_weights(spec)
    token_ids = sample_token_ids(spec)
    expected = reference.build(spec)
    expected.set_weights(weights)
    model = backend.build(spec)
    model.set_weights(weights)
    actual, wanted = model.forward(token_ids), expected.forward(token_ids)
    b, t, h = spec.batch_size, spec.seq_len, spec.hidden
    assert actual.lstm_output.shape == ((b, t, h) if return_sequences else (b, h))
    assert actual.predictions.shape == (b, 1)
    for name in ("lstm_output", "state_h", "state_c", "predictions"):
        value, reference_value = getattr(actual, name), getattr(wanted, name)
        if not return_state and name.startswith("state"):
            assert value is None, name
            continue
        np.testing.assert_allclose(value, reference_value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_building_twice_from_one_seed_gives_the_same_weights(backend):
    first, second = backend.build(SMALL).get_weights(), backend.build(SMALL).get_weights()
    for name in WEIGHT_NAMES:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
