"""Where each framework's *default* for padded, stacked and bidirectional LSTMs differs from the contract.

Every finding loads the canonical weights into the framework's plainest model, as a user would write it,
and measures how far its answer is from the contract's (the NumPy float64 reference, docs/contract.md).
The numbers in docs/equivalence.md come from ``python benchmarks/padding_defaults.py keras`` and
``... torch`` (one framework per process); tests/test_padding_defaults.py pins each finding.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from backends.numpy_backend import NumpyBackend
from harness.canonical import keras_default_weights, sample_token_ids
from harness.model_spec import ModelSpec

RIGHT = ModelSpec(vocab_size=50, embed_dim=4, hidden=3, seq_len=6, batch_size=4, padding="right", return_state=True,
                  min_length=2)
"""The findings' model: four examples of 2 to 6 tokens in six steps, right-padded."""


def contract(spec: ModelSpec):
    """The contract's answer for ``spec``'s first batch: the float64 reference's forward outputs."""
    model = NumpyBackend("float64").build(spec)
    model.set_weights(keras_default_weights(spec, "float64"))
    token_ids = sample_token_ids(spec)
    return token_ids, model.forward(token_ids)


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def keras_findings(spec: ModelSpec = RIGHT) -> dict[str, float | bool | list]:
    """Keras 3 as written plainly: ``Embedding(mask_zero=True) -> LSTM(return_sequences=True) -> Flatten
    -> Dense``, Keras' defaults otherwise."""
    import keras

    def build(spec: ModelSpec, mask_zero=True, zero_output_for_mask=False, stacked_last_zero=None):
        inputs = keras.Input((spec.seq_len,), dtype="int32")
        sequence = keras.layers.Embedding(spec.vocab_size, spec.embed_dim, mask_zero=mask_zero)(inputs)
        for layer in range(spec.layers):
            last = layer == spec.layers - 1
            zero = zero_output_for_mask if not last or stacked_last_zero is None else stacked_last_zero
            outputs = keras.layers.LSTM(spec.hidden, return_sequences=spec.return_sequences or not last,
                                        return_state=last, zero_output_for_mask=zero)(sequence)
            sequence = outputs[0] if last else outputs
        features = keras.layers.Flatten()(sequence) if spec.return_sequences else sequence
        predictions = keras.layers.Dense(1, activation="sigmoid")(features)
        model = keras.Model(inputs, [sequence, outputs[1], predictions])
        model.set_weights([keras_default_weights(spec)[name] for name in _keras_weight_order(spec)])
        return model

    found: dict[str, float | bool | list] = {}
    token_ids, expected = contract(spec)
    padded = token_ids == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output, _, predictions = (keras.ops.convert_to_numpy(t) for t in build(spec)(token_ids))
    found["flatten_drops_mask_with_warning"] = any("destroy the mask" in str(w.message) for w in caught)
    found["default_padded_output_abs"] = float(np.abs(output[padded]).max())
    found["default_predictions_abs_error"] = max_abs(predictions, expected.predictions)
    found["zero_output_predictions_abs_error"] = max_abs(
        keras.ops.convert_to_numpy(build(spec, zero_output_for_mask=True)(token_ids)[2]), expected.predictions)
    left = spec.replace(padding="left")
    left_ids, left_expected = contract(left)
    found["default_left_predictions_abs_error"] = max_abs(
        keras.ops.convert_to_numpy(build(left)(left_ids)[2]), left_expected.predictions)
    found["no_mask_predictions_abs_error"] = max_abs(
        keras.ops.convert_to_numpy(build(spec, mask_zero=False)(token_ids)[2]), expected.predictions)
    for layers in (1, 2):
        last_only = spec.replace(layers=layers, return_sequences=False)
        last_ids, last_expected = contract(last_only)
        output, state_h, _ = (keras.ops.convert_to_numpy(t) for t in build(
            last_only, zero_output_for_mask=True, stacked_last_zero=True)(last_ids))
        found[f"{layers}_layer_last_output_vs_state_h_abs"] = max_abs(output, state_h)
        found[f"{layers}_layer_last_output_of_padded_examples_abs"] = float(np.abs(output[last_ids[:, -1] == 0]).max())
        found[f"{layers}_layer_state_h_vs_contract_abs"] = max_abs(state_h, last_expected.state_h)
    found["pad_sequences_default"] = keras.utils.pad_sequences([[5, 7], [1, 2, 3]]).tolist()
    return found


def _keras_weight_order(spec: ModelSpec) -> list[str]:
    from harness.contract import weight_names

    return list(weight_names(spec))


def torch_findings(spec: ModelSpec = RIGHT) -> dict[str, float | list | int]:
    """PyTorch as written plainly: ``nn.Embedding -> nn.LSTM(batch_first=True)`` on the padded batch."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from backends.torch_backend import TorchBackend

    found: dict[str, float | list | int] = {}
    token_ids, expected = contract(spec)
    model = TorchBackend().build(spec)
    model.set_weights(keras_default_weights(spec))
    module = model.module
    ids = torch.as_tensor(token_ids)
    with torch.no_grad():
        embedded = module.embedding(ids)
        sequence, (h_n, _) = module.lstm(embedded)  # no packing: padded steps are read
        found["unpacked_padded_output_abs"] = float(sequence[ids == 0].abs().max())
        found["unpacked_state_h_abs_error"] = max_abs(h_n[-1].numpy(), expected.state_h)
        left = spec.replace(padding="left")
        left_ids, left_expected = contract(left)
        left_tensor = torch.as_tensor(left_ids)
        lengths = (left_tensor != 0).sum(dim=1)
        packed = pack_padded_sequence(module.embedding(left_tensor), lengths, batch_first=True, enforce_sorted=False)
        _, (h_left, _) = module.lstm(packed)
        found["packed_left_state_h_abs_error"] = max_abs(h_left[-1].numpy(), left_expected.state_h)
        short = ids[:, :4].clone()
        short[:, 2:] = 0
        packed = pack_padded_sequence(module.embedding(short), (short != 0).sum(dim=1), batch_first=True,
                                      enforce_sorted=False)
        found["pad_packed_default_steps"] = int(pad_packed_sequence(module.lstm(packed)[0], batch_first=True)[0].shape[1])
    two_bias = torch.nn.LSTM(spec.embed_dim, spec.hidden, num_layers=2, bidirectional=True)
    canonical = sum(np.size(value) for name, value in keras_default_weights(spec.replace(layers=2, bidirectional=True)).items()
                    if name.startswith("lstm"))
    found["two_bias_params"] = [sum(p.numel() for p in two_bias.parameters()), int(canonical)]
    return found


if __name__ == "__main__":
    framework = sys.argv[1] if len(sys.argv) > 1 else "torch"
    results = keras_findings() if framework == "keras" else torch_findings()
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:.3g}" if isinstance(value, float) else f"{name:<{width}}  {value}")
