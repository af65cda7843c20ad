"""The PyTorch backend: idiomatic ``nn.Embedding -> nn.LSTM -> nn.Flatten -> nn.Linear``.

``nn.LSTM`` keeps two bias vectors (``bias_ih_l0`` and ``bias_hh_l0``); the canonical model has one.
`single_bias_lstm` turns ``bias_hh_l0`` from a parameter into a zero *buffer*. ``nn.LSTM`` reads its
weights through ``_flat_weights``, which accepts any tensor, so the fused kernel (ATen on CPU, cuDNN on
GPU) still runs, and the module now has exactly the canonical trainable parameters: ``weight_ih_l0``
``(4H, E)``, ``weight_hh_l0`` ``(4H, H)`` and ``bias_ih_l0`` ``(4H,)``. Because the buffer is zero and
not trainable, ``bias_ih_l0`` *is* the canonical bias, and its gradient is the canonical bias gradient.
PyTorch's gate order (i, f, g, o) is Keras' (i, f, c, o), so only transposes separate the layouts.

Stacked and bidirectional models are one ``nn.LSTM(num_layers=L, bidirectional=True)``: layer k's
direction d is ``weight_ih_l{k}[_reverse]`` etc., every ``bias_hh_*`` a zero buffer. Padded batches go
through the idiomatic ``pack_padded_sequence(..., enforce_sorted=False)`` and ``pad_packed_sequence(...,
total_length=T)``: the fused kernel never reads a padded step, the backward direction starts at each
example's last real token, ``h_n`` holds each example's state after its last real token, and padded
outputs are zero. Packing assumes right padding, so a left-padded batch is first rotated per example to
the right (`rotate_steps`), and its outputs rotated back.

Packing is not free: on the CPU a packed step is 1.2-4.6x slower than the same padded batch run whole
(benchmarks/torch_packing_cost.py). Where running the whole padded batch gives the contract's answer
(right padding, one direction, no final c asked for: every real output comes before the padding, and h
after the last real token is read from the outputs) the module does that and masks the outputs
(`CanonicalClassifierModule.masks_padding`); ``TorchBackend(always_pack=True)``, the ``torch-packed``
variant, packs every padded batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from backends.torch_profiling import phase, profile_torch_steps
from harness.contract import (
    DIRECTIONS,
    Backend,
    ClassifierModel,
    ForwardOutput,
    LayerSummary,
    check_weights,
    lstm_layer_names,
    lstm_weight_prefix,
)
from harness.measurement.gemm_peak import GPU_GEMM_SIZE, best_gflops
from harness.model_spec import ModelSpec
from harness.optimizers import OptimizerSpec, keras_epsilon_for_torch
from harness.profiling.step_profile import StepProfile


def single_bias_lstm(input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False) -> nn.LSTM:
    """A batch-first ``nn.LSTM`` whose recurrent biases (every ``bias_hh_*``) are non-trainable zero buffers."""
    lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    for name in [name for name, _ in lstm.named_parameters() if name.startswith("bias_hh_")]:
        recurrent_bias = torch.zeros_like(getattr(lstm, name), requires_grad=False)
        delattr(lstm, name)
        lstm.register_buffer(name, recurrent_bias)
    lstm._init_flat_weights()  # re-read the weight list: the biases are now the buffers
    return lstm


def torch_suffix(layer: int, direction: str) -> str:
    """``nn.LSTM``'s parameter suffix for a layer and direction: ``_l0``, ``_l1_reverse``..."""
    return f"_l{layer}" + ("_reverse" if direction == "backward" else "")


def rotate_steps(sequence: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Each example ``b`` of ``sequence`` ``(B, T, ...)`` with its steps rotated left by ``shifts[b]``:
    a left-padded example rotated by its padding becomes right-padded, and back by ``-shifts``."""
    steps = sequence.shape[1]
    index = (torch.arange(steps, device=sequence.device)[None, :] + shifts[:, None]) % steps
    index = index.view(*index.shape, *([1] * (sequence.dim() - 2))).expand_as(sequence)
    return torch.gather(sequence, 1, index)


class CanonicalClassifierModule(nn.Module):
    """The article's classifier as a PyTorch module; `layer_outputs` mirrors Keras' layer graph."""

    def __init__(self, spec: ModelSpec, always_pack: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.masks_padding = (spec.padding == "right" and not spec.bidirectional and not spec.return_state
                              and not always_pack)
        """Run the whole right-padded batch and mask the outputs instead of packing it (see the module
        docstring): only where that is the contract's answer."""
        self.embedding = nn.Embedding(spec.vocab_size, spec.embed_dim)
        self.lstm = single_bias_lstm(spec.embed_dim, spec.hidden, spec.layers, spec.bidirectional)
        self.flatten = nn.Flatten() if spec.return_sequences else None
        self.dense = nn.Linear(spec.dense_features, 1)

    def run_lstm(self, embedded: torch.Tensor, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LSTM's output sequence ``(B, T, D*H)`` and the last layer's final h and c, each ``(B, D*H)``
        (forward first); packed when the spec pads, so no padded step is read, or masked (`masks_padding`:
        then no final c, which only the packed kernel gives, is returned)."""
        steps = token_ids.shape[1]
        if self.masks_padding:
            real = token_ids != 0
            sequence, _ = self.lstm(embedded)
            last_real = real.sum(dim=1) - 1
            state_h = sequence[torch.arange(sequence.shape[0], device=sequence.device), last_real]
            return sequence * real[:, :, None], state_h, None
        if self.spec.padded:
            lengths = (token_ids != 0).sum(dim=1)
            shifts = steps - lengths if self.spec.padding == "left" else None
            if shifts is not None:
                embedded = rotate_steps(embedded, shifts)
            packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_output, (state_h, state_c) = self.lstm(packed)
            sequence, _ = pad_packed_sequence(packed_output, batch_first=True, total_length=steps)
            if shifts is not None:
                sequence = rotate_steps(sequence, -shifts)
        else:
            sequence, (state_h, state_c) = self.lstm(embedded)
        last = self.spec.directions
        return sequence, torch.cat(list(state_h[-last:]), dim=-1), torch.cat(list(state_c[-last:]), dim=-1)

    def layer_outputs(self, token_ids: torch.Tensor) -> dict[str, tuple[torch.Tensor, ...]]:
        """Each canonical layer's outputs (the layers below the last are inside the fused kernel: absent)."""
        with phase("embedding"):
            embedded = self.embedding(token_ids)
        with phase("lstm"):
            sequence, state_h, state_c = self.run_lstm(embedded, token_ids)
        lstm_output = sequence if self.spec.return_sequences else state_h
        lstm_outputs = (lstm_output, state_h, state_c) if self.spec.return_state else (lstm_output,)
        layers = {"input": (token_ids,), "embedding": (embedded,), lstm_layer_names(self.spec)[-1]: lstm_outputs}
        with phase("head"):
            features = lstm_output
            if self.flatten is not None:
                features = self.flatten(sequence)
                layers["flatten"] = (features,)
            layers["dense"] = (torch.sigmoid(self.dense(features)),)
        return layers

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Predictions ``(B, 1)``."""
        return self.layer_outputs(token_ids)["dense"][0]


class TorchBackend(Backend):
    """PyTorch with the fused ``nn.LSTM`` kernel: eager mode, or ``torch.compile`` with ``compile=True``.

    :param allow_tf32: on GPU, whether cuDNN (the LSTM kernel) and cuBLAS may use TF32 tensor cores.
        None keeps PyTorch's defaults (cuDNN: on, matmul: off); False makes the GPU compute in true
        float32.
    """

    def __init__(self, compile: bool = False, allow_tf32: bool | None = None, always_pack: bool = False) -> None:
        self.compile = compile
        self.always_pack = always_pack
        if allow_tf32 is not None:
            torch.backends.cudnn.allow_tf32 = allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32

    def framework_version(self) -> str:
        mode = "torch.compile" if self.compile else "eager"
        tf32 = f", cuDNN TF32 {'on' if torch.backends.cudnn.allow_tf32 else 'off'}" if torch.cuda.is_available() else ""
        return f"torch {torch.__version__} ({mode}, {torch.get_num_threads()} threads{tf32})"

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def build(self, spec: ModelSpec, device: str = "cpu") -> TorchClassifier:
        torch.manual_seed(spec.seed)
        module = CanonicalClassifierModule(spec, always_pack=self.always_pack).to(device)
        return TorchClassifier(spec, module, device=device, compile=self.compile)

    def gemm_peak_gflops(self, device: str) -> float | None:
        """float32 ``torch.matmul`` on ``device`` with TF32 off (true float32)."""
        if device == "cpu":
            return None
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            a = torch.randn(GPU_GEMM_SIZE, GPU_GEMM_SIZE, device=device)
            b = torch.randn(GPU_GEMM_SIZE, GPU_GEMM_SIZE, device=device)

            def run_once():
                a @ b
                torch.cuda.synchronize()

            return best_gflops(run_once, 2 * GPU_GEMM_SIZE**3)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous


class TorchClassifier(ClassifierModel):
    """Canonical-layout access to a `CanonicalClassifierModule`."""

    def __init__(self, spec: ModelSpec, module: CanonicalClassifierModule, device: str = "cpu", compile: bool = False) -> None:
        self.spec = spec
        self.module = module
        self.device = device
        self.run = torch.compile(module) if compile else module
        """What computes predictions: the module itself, or its ``torch.compile`` wrapper."""
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_spec: OptimizerSpec | None = None
        self.optimizer_steps = 0

    def summary(self) -> list[LayerSummary]:
        """One row per canonical layer; each LSTM layer's row counts its own ``*_l{k}*`` parameters of the
        one ``nn.LSTM``, and a layer below the last shows the width the module gives its output."""
        with torch.no_grad():
            layers = self.module.layer_outputs(torch.ones((1, self.spec.seq_len), dtype=torch.long, device=self.device))
        lstm_names = lstm_layer_names(self.spec)
        width = self.module.lstm.hidden_size * (2 if self.module.lstm.bidirectional else 1)
        rows = []
        for name in ["input", "embedding", *lstm_names, *[name for name in ("flatten", "dense") if name in layers]]:
            if name in lstm_names:
                layer = lstm_names.index(name)
                parameters = [p for parameter_name, p in self.module.lstm.named_parameters()
                              if parameter_name.endswith((f"_l{layer}", f"_l{layer}_reverse"))]
                shapes = tuple((None, *output.shape[1:]) for output in layers[name]) if name in layers else (
                    (None, self.spec.seq_len, width),)
                layer_type = "LSTM"
            else:
                module = getattr(self.module, name, None)
                parameters = list(module.parameters()) if isinstance(module, nn.Module) else []
                shapes = tuple((None, *output.shape[1:]) for output in layers[name])
                layer_type = type(module).__name__ if module is not None else "InputLayer"
            rows.append(LayerSummary(
                name=name,
                layer_type=layer_type,
                output_shapes=shapes,
                params=sum(p.numel() for p in parameters),
                trainable_params=sum(p.numel() for p in parameters if p.requires_grad),
            ))
        return rows

    def canonical_parameters(self) -> dict[str, tuple[torch.Tensor, bool]]:
        """Each canonical weight's tensor, and whether the canonical layout is its transpose."""
        m = self.module
        parameters = {"embedding": (m.embedding.weight, False)}
        for layer, layer_name in enumerate(lstm_layer_names(self.spec)):
            for direction in DIRECTIONS[:self.spec.directions]:
                prefix, suffix = lstm_weight_prefix(layer_name, direction), torch_suffix(layer, direction)
                parameters[f"{prefix}.kernel"] = (getattr(m.lstm, f"weight_ih{suffix}"), True)
                parameters[f"{prefix}.recurrent_kernel"] = (getattr(m.lstm, f"weight_hh{suffix}"), True)
                parameters[f"{prefix}.bias"] = (getattr(m.lstm, f"bias_ih{suffix}"), False)
        parameters["dense.kernel"] = (m.dense.weight, True)
        parameters["dense.bias"] = (m.dense.bias, False)
        return parameters

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: _canonical_array(tensor, transposed) for name, (tensor, transposed) in self.canonical_parameters().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(self.spec, weights)
        with torch.no_grad():
            for name, (parameter, transposed) in self.canonical_parameters().items():
                value = torch.as_tensor(np.asarray(weights[name]), dtype=parameter.dtype)
                parameter.copy_(value.T if transposed else value)
            for name, buffer in self.module.named_buffers():
                if name.rsplit(".", 1)[-1].startswith("bias_hh_"):
                    buffer.zero_()

    def loss_and_gradients(self, token_ids: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self.module.zero_grad(set_to_none=True)
        loss = self._loss(token_ids, labels)
        loss.backward()
        gradients = {
            name: _canonical_array(tensor.grad, transposed)
            for name, (tensor, transposed) in self.canonical_parameters().items()
        }
        return float(loss.item()), gradients

    def train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> float:
        token_ids_tensor, labels_tensor = self._tensors(token_ids, labels)
        return float(self._step(token_ids_tensor, labels_tensor, optimizer).item())

    def prepare_train_step(self, token_ids: np.ndarray, labels: np.ndarray, optimizer: OptimizerSpec) -> Callable[[], object]:
        token_ids_tensor, labels_tensor = self._tensors(token_ids, labels)

        def step():
            self._step(token_ids_tensor, labels_tensor, optimizer)
            self._synchronize()

        return step

    def prepare_inference(self, token_ids: np.ndarray) -> Callable[[], object]:
        token_ids_tensor, _ = self._tensors(token_ids, None)

        def step():
            with torch.inference_mode():
                predictions = self.run(token_ids_tensor)
            self._synchronize()
            return predictions

        return step

    def profile_steps(self, step: Callable[[], object], calls: int) -> StepProfile:
        """``torch.profiler`` around ``calls`` steps (`backends.torch_profiling`)."""
        return profile_torch_steps(step, calls, self.device)

    def kernel_path(self) -> str:
        """``nn.LSTM``'s fused kernel: cuDNN on a GPU (when cuDNN is enabled), ATen's on the CPU; packed
        when the spec pads."""
        on_gpu = self.device.startswith("cuda") and torch.backends.cudnn.enabled
        kernel = "cuDNN" if on_gpu else "ATen fused LSTM"
        if self.module.masks_padding:
            return f"{kernel}, padded steps run, outputs masked"
        return f"{kernel}, packed" if self.spec.padded else kernel

    def reset_peak_device_memory(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_device_memory_bytes(self) -> int | None:
        return torch.cuda.max_memory_allocated(self.device) if self.device.startswith("cuda") else None

    def _step(self, token_ids: torch.Tensor, labels: torch.Tensor, optimizer: OptimizerSpec) -> torch.Tensor:
        """One optimizer step on device tensors; returns the loss tensor (not synchronised)."""
        if self.optimizer is None or self.optimizer_spec != optimizer:
            self.optimizer = _make_optimizer(optimizer, self.module.parameters())
            self.optimizer_spec, self.optimizer_steps = optimizer, 0
        self.optimizer.zero_grad(set_to_none=True)
        predictions = self.run(token_ids)
        with phase("loss"):
            loss = nn.functional.binary_cross_entropy(predictions, labels)
        loss.backward()
        self.optimizer_steps += 1
        if optimizer.name == "adam":
            for group in self.optimizer.param_groups:
                group["eps"] = keras_epsilon_for_torch(optimizer, self.optimizer_steps)
        self.optimizer.step()
        return loss

    def _loss(self, token_ids: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        token_ids_tensor, labels_tensor = self._tensors(token_ids, labels)
        return nn.functional.binary_cross_entropy(self.run(token_ids_tensor), labels_tensor)

    def _tensors(self, token_ids: np.ndarray, labels: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        token_ids_tensor = torch.as_tensor(np.asarray(token_ids), dtype=torch.long, device=self.device)
        if labels is None:
            return token_ids_tensor, None
        return token_ids_tensor, torch.as_tensor(np.asarray(labels), dtype=torch.float32, device=self.device)

    def _synchronize(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)

    def forward(self, token_ids: np.ndarray) -> ForwardOutput:
        with torch.no_grad():
            layers = self.module.layer_outputs(self._tensors(token_ids, None)[0])
        lstm = [tensor.cpu().numpy() for tensor in layers[lstm_layer_names(self.spec)[-1]]]
        state_h, state_c = (lstm[1], lstm[2]) if self.spec.return_state else (None, None)
        return ForwardOutput(lstm[0], state_h, state_c, layers["dense"][0].cpu().numpy())


def _canonical_array(tensor: torch.Tensor, transposed: bool) -> np.ndarray:
    value = tensor.detach()
    return (value.T if transposed else value).cpu().numpy().copy()


def _make_optimizer(spec: OptimizerSpec, parameters) -> torch.optim.Optimizer:
    """``torch.optim.SGD`` or ``torch.optim.Adam`` with every hyper-parameter explicit."""
    if spec.name == "sgd":
        return torch.optim.SGD(parameters, lr=spec.learning_rate)
    return torch.optim.Adam(
        parameters, lr=spec.learning_rate, betas=(spec.beta_1, spec.beta_2), eps=keras_epsilon_for_torch(spec, 1)
    )
