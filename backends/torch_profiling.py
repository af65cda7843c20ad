"""Profiling the torch backend's timed step with ``torch.profiler``, in lstm-bench's categories.

The module's forward marks its phases (``lstm-bench:embedding``, ``lstm-bench:lstm``, ``lstm-bench:head``,
``lstm-bench:loss``: `PHASE_PREFIX`, with ``torch.profiler.record_function``); the backward pass and the
optimizer are named by autograd and ``torch.optim`` themselves. Every op's *self* time goes to the category
of the nearest op, itself or an ancestor, that a rule in `RULES` places, so an ``aten::addmm`` inside
``aten::lstm`` counts as LSTM and one inside the head as head; a backward node (``SigmoidBackward0``)
counts where the forward op with its autograd sequence number did (the LSTM gates' sigmoids as LSTM, the
head's as head). Copies count as ``transfer`` on a GPU only (on the CPU they are casts, their caller's).
The LSTM kernel is read from the op names in the trace (`kernel_from_ops`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from harness.profiling.categories import category_of
from harness.profiling.step_profile import StepProfile

PHASE_PREFIX = "lstm-bench:"

RULES = (
    (r"^lstm-bench:(embedding)$", "embedding"),
    (r"^lstm-bench:(lstm)$", "lstm"),
    (r"^lstm-bench:(head)$", "head"),
    (r"^lstm-bench:(loss)$", "loss"),
    (r"^lstm-bench:(optimizer)$", "optimizer"),
    (r"Optimizer\.(step|zero_grad)", "optimizer"),
    (r"AccumulateGrad", "optimizer"),
    (r"[Ee]mbedding", "embedding"),
    (r"[Rr]nn|RNN|[Ll]stm|LSTM|PackPadded|pack_padded|pad_packed", "lstm"),
    (r"BinaryCrossEntropy|binary_cross_entropy", "loss"),
    ((r"Addmm|AddMm|MmBackward|SigmoidBackward|TBackward|ViewBackward|ReshapeAlias|UnsafeView|MulBackward|"
      r"SumBackward|IndexBackward|GatherBackward|CatBackward"), "head"),
    (r"aten::_to_copy|Memcpy|memcpy", "transfer"),
)
"""Op name patterns and their category, first match wins (walking from an op up to its ancestors)."""

KERNELS = (
    ("aten::_cudnn_rnn", "cuDNN (aten::_cudnn_rnn)"),
    ("aten::mkldnn_rnn", "oneDNN (aten::mkldnn_rnn_layer)"),
    ("aten::_thnn_fused_lstm_cell", "fused LSTM cell per step (aten::_thnn_fused_lstm_cell)"),
    ("aten::lstm_cell", "LSTM cell per step (aten::lstm_cell)"),
)
"""The op that betrays each LSTM implementation ATen can choose, and how the profile names it."""


def phase(name: str):
    """A ``record_function`` marking one of the module's phases for the profile (a no-op cost otherwise)."""
    return record_function(PHASE_PREFIX + name)


def kernel_from_ops(names: set[str]) -> str | None:
    """The LSTM implementation the trace shows: cuDNN, oneDNN, a fused cell or a plain cell per step;
    ATen's own layer-by-layer path when only ``aten::lstm`` and GEMMs appear; None without an LSTM op."""
    for op, kernel in KERNELS:
        if any(name.startswith(op) for name in names):
            return kernel
    return "ATen native (aten::lstm over aten::addmm/aten::mm)" if "aten::lstm" in names else None


def profile_torch_steps(step: Callable[[], object], calls: int, device: str) -> StepProfile:
    """Run ``step`` ``calls`` times under ``torch.profiler`` (CPU, and CUDA on a GPU) and sort every op's
    self time into the categories."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as profiler:
        started = time.perf_counter()
        for _ in range(calls):
            step()
        wall = time.perf_counter() - started
    events = list(profiler.events())
    forward_of = {}
    for event in events:  # autograd numbers each forward op; its backward node carries the same number
        if event.sequence_nr >= 0 and "Backward" not in event.name and not event.name.startswith("autograd::"):
            forward_of.setdefault(event.sequence_nr, event)
    on_gpu = device.startswith("cuda")
    categories = {}

    def category(event) -> str | None:
        if id(event) not in categories:
            found = category_of(event.name, RULES)
            if found == "transfer" and not on_gpu:
                found = None  # a dtype cast on the CPU, not a transfer: its caller's
            forward = forward_of.get(event.sequence_nr) if "Backward" in event.name else None
            if forward is not None and forward is not event:
                found = category(forward) or found  # a backward node counts where its forward op did
            if found is None and event.cpu_parent is not None:
                found = category(event.cpu_parent)
            categories[id(event)] = found
        return categories[id(event)]

    ops = [(event.name, event.self_cpu_time_total / 1e6, category(event)) for event in events]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "trace.json"
        profiler.export_chrome_trace(os.fspath(path))
        trace = path.read_text()
    return StepProfile.from_ops(ops, calls=calls, wall_seconds=wall, kernel_path=kernel_from_ops({e.name for e in events}),
                                profiler=f"torch.profiler {torch.__version__}", trace=trace)
