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

Padding, stacking and directions (docs/contract.md), on top of the same two functions:

- **A padded step** (``mask`` False) is skipped: ``h_t = h_{t-1}``, ``c_t = c_{t-1}``, and its output is
  0. Backward, it passes dL/dh and dL/dc through unchanged and gives z_t no gradient.
- **The backward direction** is the same LSTM run on each example's real tokens in reverse order
  (`reversed_within_lengths`: a per-example permutation of the steps that leaves the padding where it is),
  its outputs permuted back. The permutation is its own inverse, so backward it is applied again.
- **Layer k + 1** reads layer k's outputs, ``[forward | backward]`` per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from harness.contract import DIRECTIONS, lstm_layer_names, lstm_weight_prefix, weight_names
from harness.model_spec import ModelSpec


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

    def part(self, name: str) -> Workspace:
        """A workspace of its own for one layer and direction (their arrays must not overwrite each other)."""
        return self.setdefault(name, Workspace())


@dataclass
class LSTMSteps:
    """Everything the forward pass computed, per step, kept for the backward pass.

    ``gates[t]`` holds the four activated gates of step t side by side, ``[i | f | g | o]``, each
    ``(B, H)``, so ``gates`` is ``(T, B, 4H)``; ``cells``, ``cell_tanhs`` and ``hiddens`` are
    ``(T, B, H)``: c_t, tanh(c_t) and h_t for t = 1..T (the zero initial state is not stored).
    ``inputs`` is ``(B, T, E)``. ``real`` is None without padding, else ``(T, B, 1)`` bool, True at
    each example's real steps; at a padded step ``cells[t]`` and ``hiddens[t]`` carry the previous state.
    """

    inputs: np.ndarray
    gates: np.ndarray
    cells: np.ndarray
    cell_tanhs: np.ndarray
    hiddens: np.ndarray
    real: np.ndarray | None = None

    def gate(self, name: str) -> np.ndarray:
        """One gate for every step, ``(T, B, H)``: ``i``, ``f``, ``g`` (the candidate c~) or ``o``."""
        units = self.hiddens.shape[2]
        block = "ifgo".index(name)
        return self.gates[:, :, block * units:(block + 1) * units]

    @property
    def sequence(self) -> np.ndarray:
        """Every step's output, batch first ``(B, T, H)``: h_t at a real step, 0 at a padded one."""
        outputs = self.hiddens if self.real is None else self.hiddens * self.real
        return outputs.transpose(1, 0, 2)


def lstm_forward(
    inputs: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    workspace: Workspace | None = None,
    real: np.ndarray | None = None,
) -> LSTMSteps:
    """Run the LSTM over ``inputs`` ``(B, T, E)`` from a zero state and keep every gate.

    Speed without hiding the equations: the input projection ``x_t @ W + b`` of every step is one
    matrix product before the loop, and each step writes its gates straight into the arrays it returns
    (taken from ``workspace`` when one is given). ``real`` ``(B, T)`` bool marks each example's real
    steps; a padded step keeps the previous h and c.
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
    real_by_step = None if real is None else real.T[:, :, None]  # (T, B, 1)
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
        if real_by_step is not None:                          # a padded step is skipped:
            padded = ~real_by_step[t]
            np.copyto(cells[t], cell, where=padded)           #   c_t = c_{t-1}
            np.copyto(hiddens[t], hidden, where=padded)       #   h_t = h_{t-1}
        hidden, cell = hiddens[t], cells[t]
    return LSTMSteps(inputs, gates, cells, cell_tanhs, hiddens, real_by_step)


def reversed_within_lengths(real: np.ndarray) -> np.ndarray:
    """``(B, T)`` step indices that read each example's real steps in reverse order and leave its padded
    steps where they are: ``[5, 7, 9, 0]`` -> ``[9, 7, 5, 0]``, ``[0, 5, 7, 9]`` -> ``[0, 9, 7, 5]``.
    Applying it twice gives the identity (`permute_steps`)."""
    batch, steps = real.shape
    index = np.tile(np.arange(steps), (batch, 1))
    for example in range(batch):
        positions = np.flatnonzero(real[example])
        index[example, positions] = positions[::-1]
    return index


def permute_steps(sequence: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``sequence`` ``(B, T, F)`` with each example's steps taken in the order ``index`` ``(B, T)`` gives."""
    return np.take_along_axis(sequence, index[:, :, None], axis=1)


@dataclass
class StackSteps:
    """The whole LSTM stack's forward pass: ``layers[k][direction]`` is layer k's `LSTMSteps` in that
    direction (the backward one in reversed step order, `reversal`), and ``layer_outputs[k]`` its outputs
    ``(B, T, D*H)``, ``[forward | backward]`` per step."""

    layers: list[dict[str, LSTMSteps]]
    reversal: np.ndarray | None
    layer_outputs: list[np.ndarray]

    @property
    def outputs(self) -> np.ndarray:
        """The last layer's outputs ``(B, T, D*H)``."""
        return self.layer_outputs[-1]

    @property
    def final_hidden(self) -> np.ndarray:
        """The last layer's final h ``(B, D*H)``, forward first: the state after each example's last real
        token (backward: after its first), padded steps having carried it."""
        return np.concatenate([steps.hiddens[-1] for steps in self.layers[-1].values()], axis=-1)

    @property
    def final_cell(self) -> np.ndarray:
        """The last layer's final c ``(B, D*H)``, as `final_hidden`."""
        return np.concatenate([steps.cells[-1] for steps in self.layers[-1].values()], axis=-1)


def real_steps(token_ids: np.ndarray, spec: ModelSpec) -> np.ndarray | None:
    """``(B, T)`` bool, True at real tokens (id 0 is padding when the spec pads), or None without padding."""
    return token_ids != 0 if spec.padded else None


def lstm_stack_forward(embedded: np.ndarray, weights: Mapping[str, np.ndarray], spec: ModelSpec,
                       real: np.ndarray | None, workspace: Workspace | None = None) -> StackSteps:
    """Run every LSTM layer and direction of ``spec`` over ``embedded`` ``(B, T, E)``: layer k + 1 reads
    layer k's ``[forward | backward]`` outputs; the backward direction reads each example's real steps
    last to first."""
    workspace = Workspace() if workspace is None else workspace
    batch, steps = embedded.shape[:2]
    reversal = None
    if spec.bidirectional:
        reversal = reversed_within_lengths(np.ones((batch, steps), bool) if real is None else real)
    layers, layer_outputs, layer_input = [], [], embedded
    for layer_name in lstm_layer_names(spec):
        by_direction, outputs = {}, []
        for direction in DIRECTIONS[:spec.directions]:
            prefix = lstm_weight_prefix(layer_name, direction)
            reads = layer_input if direction == "forward" else permute_steps(layer_input, reversal)
            ran = lstm_forward(reads, weights[f"{prefix}.kernel"], weights[f"{prefix}.recurrent_kernel"],
                               weights[f"{prefix}.bias"], workspace.part(prefix), real)
            by_direction[direction] = ran
            outputs.append(ran.sequence if direction == "forward" else permute_steps(ran.sequence, reversal))
        layers.append(by_direction)
        layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
        layer_outputs.append(layer_input)
    return StackSteps(layers, reversal, layer_outputs)


def lstm_stack_backward(stack: StackSteps, weights: Mapping[str, np.ndarray], spec: ModelSpec,
                        d_outputs: np.ndarray | None, d_final_hidden: np.ndarray | None,
                        workspace: Workspace | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Backpropagate the gradient arriving at the last layer's outputs ``(B, T, D*H)`` and at its final
    h ``(B, D*H)`` (either may be None) through every layer, top first; returns the gradient of the
    embedded inputs ``(B, T, E)`` and of every LSTM weight."""
    workspace = Workspace() if workspace is None else workspace
    units, gradients = spec.hidden, {}
    last = stack.layers[-1]["forward"].hiddens
    d_layer_output = np.zeros((last.shape[1], last.shape[0], spec.lstm_width), last.dtype) if d_outputs is None else d_outputs
    for number in reversed(range(spec.layers)):
        layer_name, d_layer_input = lstm_layer_names(spec)[number], None
        for position, (direction, steps) in enumerate(stack.layers[number].items()):
            prefix = lstm_weight_prefix(layer_name, direction)
            d_direction = d_layer_output[:, :, position * units:(position + 1) * units]
            if direction == "backward":
                d_direction = permute_steps(d_direction, stack.reversal)
            d_final = None
            if number == spec.layers - 1 and d_final_hidden is not None:
                d_final = d_final_hidden[:, position * units:(position + 1) * units]
            found = lstm_backward(steps, weights[f"{prefix}.kernel"], weights[f"{prefix}.recurrent_kernel"],
                                  np.ascontiguousarray(d_direction.transpose(1, 0, 2)), workspace.part(prefix), d_final)
            gradients.update({f"{prefix}.kernel": found.kernel, f"{prefix}.recurrent_kernel": found.recurrent_kernel,
                              f"{prefix}.bias": found.bias})
            d_inputs = found.inputs if direction == "forward" else permute_steps(found.inputs, stack.reversal)
            d_layer_input = d_inputs if d_layer_input is None else d_layer_input + d_inputs
        d_layer_output = d_layer_input
    return d_layer_output, gradients


def dense_features(stack: StackSteps, return_sequences: bool) -> np.ndarray:
    """The head's input: the last layer's every step flattened row-major ``(B, T*D*H)`` (0 at padded
    steps), or its final h ``(B, D*H)``."""
    if return_sequences:
        return stack.outputs.reshape(stack.outputs.shape[0], -1)
    return stack.final_hidden


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
    d_final_hidden: np.ndarray | None = None,
) -> LSTMGradients:
    """Backpropagate ``d_hiddens`` ``(T, B, H)``, the loss gradient arriving at each step's output from
    outside the LSTM, and ``d_final_hidden`` ``(B, H)``, the gradient arriving at the final state h_T,
    through every step of ``steps``, in reverse. The loop finds dL/dz_t for every step; the weight
    gradients are then summed over all steps with one matrix product each."""
    workspace = Workspace() if workspace is None else workspace
    n_steps, batch, units = steps.hiddens.shape
    dtype = steps.hiddens.dtype
    i_, f_, g_, o_ = (slice(k * units, (k + 1) * units) for k in range(4))
    d_h_next = np.zeros((batch, units), dtype)     # dL/dh_t through h_t's use at step t+1
    if d_final_hidden is not None:
        d_h_next += d_final_hidden                 # h_T's use by the head is "the use at step T+1"
    if steps.real is not None:
        d_hiddens = d_hiddens * steps.real         # a padded step's output is the constant 0
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
        if steps.real is not None:
            padded = ~steps.real[t]
            carried_d_h, carried_d_c = d_h.copy(), d_c_next.copy()
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
        if steps.real is not None:                             # a padded step computed nothing:
            d *= steps.real[t]                                 #   no gradient to z_t,
            np.copyto(d_c_next, carried_d_c, where=padded)     #   c_t = c_{t-1} passes dL/dc_t through
        np.matmul(d, recurrent_kernel_t, out=d_h_next)         # z_t = x_t W + h_{t-1} U + b: dL/dh_{t-1}
        if steps.real is not None:
            np.copyto(d_h_next, carried_d_h, where=padded)     #   h_t = h_{t-1} passes dL/dh_t through
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
    spec: ModelSpec,
    workspace: Workspace | None = None,
    phase: Callable[[str], AbstractContextManager] = lambda name: nullcontext(),
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean binary cross-entropy of the whole classifier ``spec`` describes and its gradient for each
    canonical weight.

    The gradients are fresh arrays; only intermediate buffers come from ``workspace``. ``phase(name)``
    is entered around each part (``embedding``, ``lstm``, ``head``, ``loss``): a profiler's timers.
    """
    workspace = Workspace() if workspace is None else workspace
    with phase("embedding"):
        embedded = weights["embedding"][token_ids]
    with phase("lstm"):
        stack = lstm_stack_forward(embedded, weights, spec, real_steps(token_ids, spec), workspace)
    with phase("head"):
        features = dense_features(stack, spec.return_sequences)
        predictions = sigmoid(features @ weights["dense.kernel"] + weights["dense.bias"])
    with phase("loss"):
        loss = binary_cross_entropy(predictions, labels)
        batch = token_ids.shape[0]
        d_logits = (predictions - labels) / batch              # d(mean BCE)/d(logit) through the sigmoid
    with phase("head"):
        d_features = d_logits @ weights["dense.kernel"].T
        head_gradients = {"dense.kernel": features.T @ d_logits, "dense.bias": d_logits.sum(axis=0)}
    with phase("lstm"):
        if spec.return_sequences:
            d_embedded, gradients = lstm_stack_backward(stack, weights, spec, d_features.reshape(stack.outputs.shape),
                                                        None, workspace)
        else:
            d_embedded, gradients = lstm_stack_backward(stack, weights, spec, None, d_features, workspace)
    with phase("embedding"):
        d_embedding = np.zeros_like(weights["embedding"])
        scatter_add_rows(d_embedding, token_ids.ravel(), d_embedded.reshape(token_ids.size, -1))  # repeats accumulate
    gradients.update({"embedding": d_embedding, **head_gradients})
    return loss, {name: gradients[name] for name in weight_names(spec)}
