"""Each framework default that differs from the contract for padded, stacked and bidirectional LSTMs,
pinned (docs/equivalence.md, "Padding, stacking and directions"): if a release changes one, this says so.

The numbers come from `benchmarks/padding_defaults.py`, the script that docs/equivalence.md quotes. A
difference counts when it is far beyond float32 agreement: the conforming variant of the same model is
checked to agree within `AGREES`, the differing default to be off by at least `DIFFERS`.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.padding_defaults import keras_findings, torch_findings

AGREES = 1e-6
DIFFERS = 1e-4


@pytest.fixture(scope="module")
def torch_found():
    pytest.importorskip("torch")
    return torch_findings()


@pytest.fixture(scope="module")
def keras_found():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    pytest.importorskip("keras")
    pytest.importorskip(os.environ["KERAS_BACKEND"])
    return keras_findings()


def test_torch_without_packing_reads_the_padding(torch_found):
    assert torch_found["unpacked_padded_output_abs"] > DIFFERS, "padded steps output non-zero values"
    assert torch_found["unpacked_state_h_abs_error"] > DIFFERS, "h_n is the state after the padding"


def test_torch_packing_a_left_padded_batch_reads_the_padding_as_the_sequence(torch_found):
    assert torch_found["packed_left_state_h_abs_error"] > DIFFERS


def test_torch_pad_packed_sequence_returns_the_longest_example_not_seq_len(torch_found):
    assert torch_found["pad_packed_default_steps"] == 2  # of 4 steps: total_length is needed


def test_torch_nn_lstm_counts_two_biases_per_layer_and_direction(torch_found):
    native, canonical = torch_found["two_bias_params"]
    assert native - canonical == 2 * 2 * 4 * 3  # layers x directions x 4H


def test_keras_plain_masked_lstm_repeats_the_last_output_at_right_padded_steps(keras_found):
    assert keras_found["default_padded_output_abs"] > DIFFERS
    assert keras_found["default_predictions_abs_error"] > DIFFERS, "Flatten hands the repeats to the head"
    assert keras_found["zero_output_predictions_abs_error"] < AGREES, "zero_output_for_mask=True is the contract"
    assert keras_found["default_left_predictions_abs_error"] < AGREES, "left padding: the default is the contract"


def test_keras_flatten_drops_the_mask_with_a_warning(keras_found):
    assert keras_found["flatten_drops_mask_with_warning"] is True


def test_keras_without_mask_zero_reads_the_padding(keras_found):
    assert keras_found["no_mask_predictions_abs_error"] > DIFFERS


@pytest.mark.parametrize("layers", [1, 2])
def test_keras_zero_output_for_mask_zeroes_the_last_output_of_right_padded_examples(keras_found, layers):
    assert keras_found[f"{layers}_layer_last_output_of_padded_examples_abs"] == 0.0
    assert keras_found[f"{layers}_layer_last_output_vs_state_h_abs"] > DIFFERS
    assert keras_found[f"{layers}_layer_state_h_vs_contract_abs"] < AGREES, "the state itself is right"


def test_keras_pad_sequences_pads_on_the_left_by_default(keras_found):
    assert keras_found["pad_sequences_default"] == [[0, 5, 7], [1, 2, 3]]
