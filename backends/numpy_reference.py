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
"""

from __future__ import annotations

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
