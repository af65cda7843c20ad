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


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The logistic function as ``(1 + tanh(x / 2)) / 2``: no overflow for large negative inputs.
    With ``out``, computed in place there (no temporary arrays)."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


class Workspace(dict):
    """Large arrays kept from one training step to the next, by name.

    A training loop runs forward and backward with the same shapes every step; reusing these buffers
    spares the allocator a fresh, page-faulting (T, B, 4H) array each time, as PyTorch's caching
    allocator does. Arrays handed out are overwritten by the next call that uses the same workspace.
    """

    def array(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, reused when one is already here."""
        array = self.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self[name] = np.empty(shape, dtype)
        return array


@dataclass
class LSTMSteps:
    """Everything the forward pass computed, per step, kept for the backward pass.

    ``gates[t]`` holds the four activated gates of step t side by side, ``[i | f | g | o]``, each
    ``(B, H)``, so ``gates`` is ``(T, B, 4H)``; ``cells``, ``cell_tanhs`` and ``hiddens`` are
    ``(T, B, H)``: c_t, tanh(c_t) and h_t for t = 1..T (the zero initial state is not stored).
    ``inputs`` is ``(B, T, E)``.
    """

    inputs: np.ndarray
    gates: np.ndarray
    cells: np.ndarray
    cell_tanhs: np.ndarray
    hiddens: np.ndarray

    def gate(self, name: str) -> np.ndarray:
        """One gate for every step, ``(T, B, H)``: ``i``, ``f``, ``g`` (the candidate c~) or ``o``."""
        units = self.hiddens.shape[2]
        block = "ifgo".index(name)
        return self.gates[:, :, block * units:(block + 1) * units]

    @property
    def sequence(self) -> np.ndarray:
        """Every step's hidden state, batch first: ``(B, T, H)``."""
        return self.hiddens.transpose(1, 0, 2)


def lstm_forward(
    inputs: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    workspace: Workspace | None = None,
) -> LSTMSteps:
    """Run the LSTM over ``inputs`` ``(B, T, E)`` from a zero state and keep every gate.

    Speed without hiding the equations: the input projection ``x_t @ W + b`` of every step is one
    matrix product before the loop, and each step writes its gates straight into the arrays it returns
    (taken from ``workspace`` when one is given).
    """
    workspace = Workspace() if workspace is None else workspace
    batch, steps, embed = inputs.shape
    units = recurrent_kernel.shape[0]
    dtype = inputs.dtype
    i_, f_, g_, o_ = (slice(k * units, (k + 1) * units) for k in range(4))
    # z_t before the recurrent term, for all t at once, laid out (T, B, 4H): one GEMM.
    gates = workspace.array("gates", (steps, batch, 4 * units), dtype)
    np.matmul(inputs.transpose(1, 0, 2).reshape(steps * batch, embed), kernel, out=gates.reshape(steps * batch, 4 * units))
    gates += bias
    cells = workspace.array("cells", (steps, batch, units), dtype)
    cell_tanhs = workspace.array("cell_tanhs", (steps, batch, units), dtype)
    hiddens = workspace.array("hiddens", (steps, batch, units), dtype)
    hidden = np.zeros((batch, units), dtype)
    cell = np.zeros((batch, units), dtype)
    recurrent = np.empty((batch, 4 * units), dtype)
    for t in range(steps):
        z = gates[t]
        z += np.matmul(hidden, recurrent_kernel, out=recurrent)  # z_t = x_t W + b + h_{t-1} U
        sigmoid(z[:, i_], out=z[:, i_])                       # i_t = sigmoid(z_i)
        sigmoid(z[:, f_], out=z[:, f_])                       # f_t = sigmoid(z_f)
        np.tanh(z[:, g_], out=z[:, g_])                       # g_t = tanh(z_g)  (c~, the candidate)
        sigmoid(z[:, o_], out=z[:, o_])                       # o_t = sigmoid(z_o)
        np.multiply(z[:, f_], cell, out=cells[t])             # c_t = f_t * c_{t-1}
        cells[t] += z[:, i_] * z[:, g_]                       #       + i_t * g_t
        np.tanh(cells[t], out=cell_tanhs[t])
        np.multiply(z[:, o_], cell_tanhs[t], out=hiddens[t])  # h_t = o_t * tanh(c_t)
        hidden, cell = hiddens[t], cells[t]
    return LSTMSteps(inputs, gates, cells, cell_tanhs, hiddens)


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


def lstm_backward(
    steps: LSTMSteps,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    d_hiddens: np.ndarray,
    workspace: Workspace | None = None,
) -> LSTMGradients:
    """Backpropagate ``d_hiddens`` ``(T, B, H)``, the loss gradient arriving at each h_t from outside the
    LSTM, through every step of ``steps``, in reverse. The loop finds dL/dz_t for every step; the weight
    gradients are then summed over all steps with one matrix product each."""
    workspace = Workspace() if workspace is None else workspace
    n_steps, batch, units = steps.hiddens.shape
    dtype = steps.hiddens.dtype
    i_, f_, g_, o_ = (slice(k * units, (k + 1) * units) for k in range(4))
    d_h_next = np.zeros((batch, units), dtype)     # dL/dh_t through h_t's use at step t+1
    d_c_next = np.zeros((batch, units), dtype)     # dL/dc_t through c_t's use at step t+1
    d_c = np.empty((batch, units), dtype)
    zero_cell = np.zeros((batch, units), dtype)
    d_z = workspace.array("d_z", (n_steps, batch, 4 * units), dtype)
    recurrent_kernel_t = np.ascontiguousarray(recurrent_kernel.T)
    for t in reversed(range(n_steps)):
        gates, tanh_c, d = steps.gates[t], steps.cell_tanhs[t], d_z[t]
        i, f, g, o = gates[:, i_], gates[:, f_], gates[:, g_], gates[:, o_]
        c_prev = steps.cells[t - 1] if t > 0 else zero_cell
        d_h = np.add(d_hiddens[t], d_h_next, out=d_h_next)
        np.multiply(d_h, tanh_c, out=d[:, o_])                 # h_t = o_t * tanh(c_t): dL/do_t
        np.multiply(tanh_c, tanh_c, out=d_c)                   # dL/dc_t = dL/dh_t * o_t * (1 - tanh^2 c_t)
        np.subtract(1.0, d_c, out=d_c)                         #           + dL/dc_t from step t+1
        d_c *= o
        d_c *= d_h
        d_c += d_c_next
        np.multiply(d_c, g, out=d[:, i_])                      # c_t = f_t c_{t-1} + i_t g_t: dL/di_t
        np.multiply(d_c, c_prev, out=d[:, f_])                 #                               dL/df_t
        np.multiply(d_c, i, out=d[:, g_])                      #                               dL/dg_t
        np.multiply(d_c, f, out=d_c_next)                      #                               dL/dc_{t-1}
        d[:, i_] *= i * (1.0 - i)                              # i = sigmoid(z_i): di/dz = i (1 - i)
        d[:, f_] *= f * (1.0 - f)                              # f = sigmoid(z_f)
        d[:, g_] *= 1.0 - g * g                                # g = tanh(z_g): dg/dz = 1 - g^2
        d[:, o_] *= o * (1.0 - o)                              # o = sigmoid(z_o)
        np.matmul(d, recurrent_kernel_t, out=d_h_next)         # z_t = x_t W + h_{t-1} U + b: dL/dh_{t-1}
    flat_d_z = d_z.reshape(n_steps * batch, 4 * units)
    previous_hiddens = np.concatenate([np.zeros_like(steps.hiddens[:1]), steps.hiddens[:-1]])
    inputs_by_step = steps.inputs.transpose(1, 0, 2).reshape(n_steps * batch, -1)
    d_inputs = (flat_d_z @ kernel.T).reshape(n_steps, batch, -1).transpose(1, 0, 2)
    return LSTMGradients(
        inputs=d_inputs,
        kernel=inputs_by_step.T @ flat_d_z,
        recurrent_kernel=previous_hiddens.reshape(n_steps * batch, units).T @ flat_d_z,
        bias=flat_d_z.sum(axis=0),
    )


def scatter_add_rows(target: np.ndarray, row_ids: np.ndarray, rows: np.ndarray) -> None:
    """``target[row_ids[k]] += rows[k]`` for every k, summing rows that share an id; the same as
    ``np.add.at(target, row_ids, rows)``, several times faster: sort the ids, sum each run of equal ids
    with ``np.add.reduceat``, then add each sum once."""
    order = np.argsort(row_ids, kind="stable")
    sorted_ids = row_ids[order]
    run_starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    target[sorted_ids[run_starts]] += np.add.reduceat(rows[order], run_starts, axis=0)


def classifier_loss_and_gradients(
    weights: Mapping[str, np.ndarray],
    token_ids: np.ndarray,
    labels: np.ndarray,
    return_sequences: bool,
    workspace: Workspace | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean binary cross-entropy of the whole classifier and its gradient for each canonical weight.

    The gradients are fresh arrays; only intermediate buffers come from ``workspace``.
    """
    workspace = Workspace() if workspace is None else workspace
    embedded = weights["embedding"][token_ids]
    steps = lstm_forward(embedded, weights["lstm.kernel"], weights["lstm.recurrent_kernel"], weights["lstm.bias"], workspace)
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
    lstm = lstm_backward(steps, weights["lstm.kernel"], weights["lstm.recurrent_kernel"], d_hiddens, workspace)
    d_embedding = np.zeros_like(weights["embedding"])
    scatter_add_rows(d_embedding, token_ids.ravel(), lstm.inputs.reshape(token_ids.size, -1))  # repeats accumulate
    return loss, {
        "embedding": d_embedding,
        "lstm.kernel": lstm.kernel,
        "lstm.recurrent_kernel": lstm.recurrent_kernel,
        "lstm.bias": lstm.bias,
        "dense.kernel": features.T @ d_logits,
        "dense.bias": d_logits.sum(axis=0),
    }
