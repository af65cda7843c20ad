"""The torch backend keeps nn.LSTM's fused kernel while exposing exactly one LSTM bias."""

import numpy as np
import pytest

from harness.canonical import keras_default_weights, sample_token_ids
from harness.model_spec import ModelSpec

torch = pytest.importorskip("torch")

from backends.torch_backend import TorchBackend, single_bias_lstm  # noqa: E402

SPEC = ModelSpec(vocab_size=30, embed_dim=4, hidden=6, seq_len=5, batch_size=3)


def test_single_bias_lstm_is_a_real_nn_lstm_with_three_parameters():
    lstm = single_bias_lstm(4, 6)
    assert type(lstm) is torch.nn.LSTM
    assert [name for name, _ in lstm.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]
    assert dict(lstm.named_buffers())["bias_hh_l0"].abs().sum().item() == 0
    assert lstm._flat_weights[3] is lstm.bias_hh_l0


def test_optimizer_step_leaves_the_recurrent_bias_zero_and_moves_the_canonical_one():
    model = TorchBackend().build(SPEC)
    model.set_weights(keras_default_weights(SPEC))
    before = model.get_weights()["lstm.bias"]
    optimizer = torch.optim.SGD(model.module.parameters(), lr=0.5)
    predictions = model.module(torch.as_tensor(sample_token_ids(SPEC)))
    torch.nn.functional.binary_cross_entropy(predictions, torch.ones_like(predictions)).backward()
    optimizer.step()
    assert model.module.lstm.bias_hh_l0.abs().sum().item() == 0
    assert not np.allclose(model.get_weights()["lstm.bias"], before)


def test_module_moves_dtype_and_keeps_the_buffer_in_the_kernel():
    model = TorchBackend().build(SPEC)
    module = model.module.to(torch.float64)
    assert module.lstm._flat_weights[3].dtype == torch.float64
    embedded = torch.randn(2, 5, 4, dtype=torch.float64)
    output, _ = module.lstm(embedded)
    assert output.shape == (2, 5, 6)
