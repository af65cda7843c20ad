"""Test-only PyTorch backends that build stacked, bidirectional, padded LSTMs by hand, one ``nn.LSTM``
per layer and direction, as a user who wants control would: the honest one conforms, and each of the
others plants one bug that real code has (registered through ``LSTM_BENCH_PLUGINS=fake_padded_backends``).

- ``fake-manual``: correct: each direction packed, the backward one reversed within each example's length.
- ``fake-masked-steps-repeat``: padded steps output the last real output (Keras' default without
  ``zero_output_for_mask``) instead of 0.
- ``fake-final-state-at-T``: no packing; outputs at padded steps zeroed, but the final state is the one
  after position T, padding included.
- ``fake-backward-reads-padding``: the backward direction flips the whole padded row, so it reads the
  padding first.
- ``fake-directions-swapped``: every layer's output is ``[backward | forward]``, and so are the states.
- ``fake-second-layer-wrong-direction``: layer k + 1 reads ``[backward | forward]`` of layer k, while the
  model's outputs keep the contract's order.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from backends.torch_backend import TorchBackend, TorchClassifier, rotate_steps, single_bias_lstm
from harness.api import DIRECTIONS, BackendInfo, LayerSummary, ModelSpec, hookimpl, lstm_layer_names, lstm_weight_prefix

FAULTS = ("masked-steps-repeat", "final-state-at-T", "backward-reads-padding", "directions-swapped",
          "second-layer-wrong-direction")


def reversal_within_lengths(real: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` indices reading each example's real steps last to first, padding left in place."""
    steps = torch.arange(real.shape[1], device=real.device).expand_as(real)
    first = real.float().argmax(dim=1, keepdim=True)
    last = real.shape[1] - 1 - real.flip(1).float().argmax(dim=1, keepdim=True)
    return torch.where(real, first + last - steps, steps)


def take_steps(sequence: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.gather(sequence, 1, index[:, :, None].expand_as(sequence))


class ManualStack(nn.Module):
    """The classifier with one single-bias ``nn.LSTM`` per layer and direction, and one planted fault."""

    def __init__(self, spec: ModelSpec, fault: str | None) -> None:
        super().__init__()
        self.spec, self.fault = spec, fault
        self.masks_padding = False
        self.embedding = nn.Embedding(spec.vocab_size, spec.embed_dim)
        self.lstms = nn.ModuleDict()
        for layer, layer_name in enumerate(lstm_layer_names(spec)):
            width = spec.embed_dim if layer == 0 else spec.lstm_width
            for direction in DIRECTIONS[:spec.directions]:
                self.lstms[lstm_weight_prefix(layer_name, direction).replace(".", "_")] = single_bias_lstm(width, spec.hidden)
        self.dense = nn.Linear(spec.dense_features, 1)

    def lstm(self, layer_name: str, direction: str) -> nn.LSTM:
        return self.lstms[lstm_weight_prefix(layer_name, direction).replace(".", "_")]

    def one_direction(self, lstm: nn.LSTM, inputs: torch.Tensor, real: torch.Tensor):
        """Outputs (0 at padded steps) and the final (h, c), each example alone as far as the LSTM knows."""
        steps, lengths = inputs.shape[1], real.sum(dim=1)
        if self.fault == "final-state-at-T":
            outputs, (h, c) = lstm(inputs)
            return outputs * real[:, :, None], h[0], c[0]
        shifts = real.float().argmax(dim=1)  # leading padding, rotated away
        packed = pack_padded_sequence(rotate_steps(inputs, shifts), lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, (h, c) = lstm(packed)
        outputs = rotate_steps(pad_packed_sequence(outputs, batch_first=True, total_length=steps)[0], -shifts)
        if self.fault == "masked-steps-repeat":
            last_real = (real.shape[1] - 1 - real.flip(1).float().argmax(dim=1)).long()
            repeated = outputs[torch.arange(outputs.shape[0]), last_real][:, None, :].expand_as(outputs)
            after_last = torch.arange(steps, device=real.device)[None, :] > last_real[:, None]
            outputs = torch.where(after_last[:, :, None], repeated, outputs)
        return outputs, h[0], c[0]

    def forward_layers(self, token_ids: torch.Tensor):
        real = token_ids != 0 if self.spec.padded else torch.ones_like(token_ids, dtype=torch.bool)
        reversal = reversal_within_lengths(real)
        sequence = self.embedding(token_ids)
        names = lstm_layer_names(self.spec)
        for layer_name in names:
            outputs, hs, cs = [], [], []
            for direction in DIRECTIONS[:self.spec.directions]:
                if direction == "forward":
                    out, h, c = self.one_direction(self.lstm(layer_name, direction), sequence, real)
                elif self.fault == "backward-reads-padding":
                    flipped = sequence.flip(1)
                    out, h, c = self.one_direction(self.lstm(layer_name, direction), flipped, real)
                    out = out.flip(1) * real[:, :, None]
                else:
                    out, h, c = self.one_direction(self.lstm(layer_name, direction), take_steps(sequence, reversal), real)
                    out = take_steps(out, reversal)
                outputs.append(out)
                hs.append(h)
                cs.append(c)
            if self.fault == "directions-swapped":
                outputs, hs, cs = outputs[::-1], hs[::-1], cs[::-1]
            sequence = torch.cat(outputs, dim=-1)
            if self.fault == "second-layer-wrong-direction" and layer_name != names[-1]:
                sequence = torch.cat(outputs[::-1], dim=-1)
        return sequence, torch.cat(hs, dim=-1), torch.cat(cs, dim=-1)

    def layer_outputs(self, token_ids: torch.Tensor) -> dict:
        embedded = self.embedding(token_ids)
        sequence, state_h, state_c = self.forward_layers(token_ids)
        lstm_output = sequence if self.spec.return_sequences else state_h
        outputs = (lstm_output, state_h, state_c) if self.spec.return_state else (lstm_output,)
        layers = {"input": (token_ids,), "embedding": (embedded,), lstm_layer_names(self.spec)[-1]: outputs}
        features = sequence.flatten(1) if self.spec.return_sequences else state_h
        if self.spec.return_sequences:
            layers["flatten"] = (features,)
        layers["dense"] = (torch.sigmoid(self.dense(features)),)
        return layers

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.layer_outputs(token_ids)["dense"][0]


class ManualStackClassifier(TorchClassifier):
    """`TorchClassifier` around a `ManualStack`: canonical names map onto the per-direction modules."""

    def canonical_parameters(self) -> dict:
        m = self.module
        parameters = {"embedding": (m.embedding.weight, False)}
        for layer_name in lstm_layer_names(self.spec):
            for direction in DIRECTIONS[:self.spec.directions]:
                prefix, lstm = lstm_weight_prefix(layer_name, direction), m.lstm(layer_name, direction)
                parameters.update({f"{prefix}.kernel": (lstm.weight_ih_l0, True),
                                   f"{prefix}.recurrent_kernel": (lstm.weight_hh_l0, True),
                                   f"{prefix}.bias": (lstm.bias_ih_l0, False)})
        parameters.update({"dense.kernel": (m.dense.weight, True), "dense.bias": (m.dense.bias, False)})
        return parameters

    def summary(self):
        from harness.api import expected_layer_output_shapes, layer_weight_names

        weights = self.get_weights()
        counts = {layer: sum(int(np.size(weights[name])) for name in names)
                  for layer, names in layer_weight_names(self.spec).items()}
        return [LayerSummary(name, "Manual", shapes, counts.get(name, 0), counts.get(name, 0))
                for name, shapes in expected_layer_output_shapes(self.spec).items()]


class ManualStackBackend(TorchBackend):
    def __init__(self, fault: str | None = None) -> None:
        super().__init__()
        self.fault = fault

    def build(self, spec: ModelSpec, device: str = "cpu") -> ManualStackClassifier:
        torch.manual_seed(spec.seed)
        return ManualStackClassifier(spec, ManualStack(spec, self.fault).to(device), device=device)


@hookimpl
def bench_register_backends(register):
    register(BackendInfo(name="fake-manual", implementation="fake_padded_backends:ManualStackBackend",
                         framework="PyTorch", requires=("torch",), default=False))
    for fault in FAULTS:
        register(BackendInfo(name=f"fake-{fault}", implementation="fake_padded_backends:ManualStackBackend",
                             framework="PyTorch", requires=("torch",), options={"fault": fault}, default=False))
