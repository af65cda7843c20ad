"""The LSTM text classifier in plain NumPy, written to be read next to the gate equations.

Forward, per time step t (Keras' gate order i, f, c, o; one bias)::

    z_t = x_t @ W + h_{t-1} @ U + b          # (B, 4H); x_t @ W + b is computed for all t at once
    i_t = sigmoid(z_t[:, 0H:1H])             # input gate
    f_t = sigmoid(z_t[:, 1H:2H])             # forget gate
    g_t = tanh(z_t[:, 2H:3H])                # candidate cell state (c~)
    o_t = sigmoid(z_t[:, 3H:4H])             # output gate
    c_t = f_t * c_{t-1} + i_t * g_t          # new cell state
    h_t = o_t * tanh(c_t)                    # new hidden state

The head is ``sigmoid(flatten(h_1..h_T) @ dense_kernel + dense_bias)`` with return_sequences, else
``sigmoid(h_T @ dense_kernel + dense_bias)``.

Backward (backpropagation through time) walks the same steps in reverse, gate by gate; `lstm_backward`
mirrors `lstm_forward` line for line. The weight gradients are summed over all steps with one matrix
product each, after the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, computed without overflow for large negative inputs."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


@dataclass
class LSTMSteps:
    """Everything the forward pass computed, per step, kept for the backward pass.

    Shapes: gates and states are ``(T, B, H)``; ``inputs`` is ``(B, T, E)``. ``cells[t]`` and
    ``hiddens[t]`` are c_t and h_t for t = 1..T (the zero initial state is not stored).
    """

    inputs: np.ndarray
    input_gates: np.ndarray
    forget_gates: np.ndarray
    candidates: np.ndarray
    output_gates: np.ndarray
    cells: np.ndarray
    hiddens: np.ndarray

    @property
    def sequence(self) -> np.ndarray:
        """Every step's hidden state, batch first: ``(B, T, H)``."""
        return self.hiddens.transpose(1, 0, 2)


def lstm_forward(inputs: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> LSTMSteps:
    """Run the LSTM over ``inputs`` ``(B, T, E)`` from a zero state and keep every gate."""
    batch, steps, _ = inputs.shape
    units = recurrent_kernel.shape[0]
    dtype = inputs.dtype
    input_projection = inputs @ kernel + bias  # (B, T, 4H): one product for all steps
    hidden = np.zeros((batch, units), dtype)
    cell = np.zeros((batch, units), dtype)
    gates = {name: np.empty((steps, batch, units), dtype) for name in ("i", "f", "g", "o", "c", "h")}
    for t in range(steps):
        z = input_projection[:, t] + hidden @ recurrent_kernel
        input_gate = sigmoid(z[:, 0 * units:1 * units])
        forget_gate = sigmoid(z[:, 1 * units:2 * units])
        candidate = np.tanh(z[:, 2 * units:3 * units])
        output_gate = sigmoid(z[:, 3 * units:4 * units])
        cell = forget_gate * cell + input_gate * candidate
        hidden = output_gate * np.tanh(cell)
        for name, value in zip("ifgoch", (input_gate, forget_gate, candidate, output_gate, cell, hidden)):
            gates[name][t] = value
    return LSTMSteps(inputs, gates["i"], gates["f"], gates["g"], gates["o"], gates["c"], gates["h"])


def dense_features(steps: LSTMSteps, return_sequences: bool) -> np.ndarray:
    """The head's input: every step flattened row-major ``(B, T*H)``, or the last step ``(B, H)``."""
    if return_sequences:
        sequence = steps.sequence
        return sequence.reshape(sequence.shape[0], -1)
    return steps.hiddens[-1]


BCE_EPSILON = 1e-7
"""Keras clips predictions to [1e-7, 1 - 1e-7] before taking logs (PyTorch clamps each log at -100)."""


def binary_cross_entropy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy over the batch, as ``keras.losses.BinaryCrossentropy()``."""
    p = np.clip(predictions, BCE_EPSILON, 1.0 - BCE_EPSILON)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)))


@dataclass
class LSTMGradients:
    """Gradients of the loss with respect to the LSTM's inputs ``(B, T, E)`` and its three weights."""

    inputs: np.ndarray
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray


def lstm_backward(steps: LSTMSteps, kernel: np.ndarray, recurrent_kernel: np.ndarray, d_hiddens: np.ndarray) -> LSTMGradients:
    """Backpropagate ``d_hiddens`` ``(T, B, H)``, the loss gradient arriving at each h_t from outside the
    LSTM, through every step of ``steps``."""
    n_steps, batch, units = steps.hiddens.shape
    d_h_next = np.zeros((batch, units), steps.hiddens.dtype)   # dL/dh_t through h_t's use at step t+1
    d_c_next = np.zeros((batch, units), steps.hiddens.dtype)   # dL/dc_t through c_t's use at step t+1
    d_z = np.empty((n_steps, batch, 4 * units), steps.hiddens.dtype)
    for t in reversed(range(n_steps)):
        i, f, g, o = steps.input_gates[t], steps.forget_gates[t], steps.candidates[t], steps.output_gates[t]
        c_prev = steps.cells[t - 1] if t > 0 else np.zeros_like(steps.cells[t])
        tanh_c = np.tanh(steps.cells[t])
        d_h = d_hiddens[t] + d_h_next
        d_o = d_h * tanh_c                                     # h_t = o_t * tanh(c_t)
        d_c = d_h * o * (1.0 - tanh_c ** 2) + d_c_next
        d_i = d_c * g                                          # c_t = f_t * c_{t-1} + i_t * g_t
        d_g = d_c * i
        d_f = d_c * c_prev
        d_c_next = d_c * f
        d_z[t, :, 0 * units:1 * units] = d_i * i * (1.0 - i)   # i = sigmoid(z_i)
        d_z[t, :, 1 * units:2 * units] = d_f * f * (1.0 - f)   # f = sigmoid(z_f)
        d_z[t, :, 2 * units:3 * units] = d_g * (1.0 - g ** 2)  # g = tanh(z_g)
        d_z[t, :, 3 * units:4 * units] = d_o * o * (1.0 - o)   # o = sigmoid(z_o)
        d_h_next = d_z[t] @ recurrent_kernel.T                 # z_t = x_t W + h_{t-1} U + b
    previous_hiddens = np.concatenate([np.zeros_like(steps.hiddens[:1]), steps.hiddens[:-1]])
    inputs_by_step = steps.inputs.transpose(1, 0, 2)
    flat_d_z = d_z.reshape(n_steps * batch, 4 * units)
    return LSTMGradients(
        inputs=(d_z @ kernel.T).transpose(1, 0, 2),
        kernel=inputs_by_step.reshape(n_steps * batch, -1).T @ flat_d_z,
        recurrent_kernel=previous_hiddens.reshape(n_steps * batch, units).T @ flat_d_z,
        bias=flat_d_z.sum(axis=0),
    )


def classifier_loss_and_gradients(
    weights: Mapping[str, np.ndarray], token_ids: np.ndarray, labels: np.ndarray, return_sequences: bool
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean binary cross-entropy of the whole classifier and its gradient for each canonical weight."""
    embedded = weights["embedding"][token_ids]
    steps = lstm_forward(embedded, weights["lstm.kernel"], weights["lstm.recurrent_kernel"], weights["lstm.bias"])
    features = dense_features(steps, return_sequences)
    predictions = sigmoid(features @ weights["dense.kernel"] + weights["dense.bias"])
    loss = binary_cross_entropy(predictions, labels)

    batch = token_ids.shape[0]
    d_logits = (predictions - labels) / batch                  # d(mean BCE)/d(logit) through the sigmoid
    d_features = d_logits @ weights["dense.kernel"].T
    d_hiddens = np.zeros_like(steps.hiddens)
    if return_sequences:
        d_hiddens[:] = d_features.reshape(batch, steps.hiddens.shape[0], -1).transpose(1, 0, 2)
    else:
        d_hiddens[-1] = d_features
    lstm = lstm_backward(steps, weights["lstm.kernel"], weights["lstm.recurrent_kernel"], d_hiddens)
    d_embedding = np.zeros_like(weights["embedding"])
    np.add.at(d_embedding, token_ids, lstm.inputs)             # repeated tokens accumulate
    return loss, {
        "embedding": d_embedding,
        "lstm.kernel": lstm.kernel,
        "lstm.recurrent_kernel": lstm.recurrent_kernel,
        "lstm.bias": lstm.bias,
        "dense.kernel": features.T @ d_logits,
        "dense.bias": d_logits.sum(axis=0),
    }
