"""Profiling the Keras backend's timed step on the TensorFlow engine, in lstm-bench's categories.

``tf.profiler.experimental`` records the step as an XSpace (``*.xplane.pb``): on the host plane, one line
per executor thread, each op an event named by its graph scope, e.g.
``gradient_tape/text_lstm_1/lstm_1/while/.../MatMul_1_grad/MatMul:MatMul``. The scope says the layer, so
the categories come from the canonical layer names (`RULES`); ops run on several threads at once, so the
step's wall time is attributed instant by instant (`harness.profiling.timeline`). The LSTM kernel is read
from the op names: ``CudnnRNN`` ops mean cuDNN, a ``while`` loop of ``lstm_cell`` ops the generic loop.
On the JAX and torch engines the backend says "not profiled".
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable
from functools import cache

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from harness.profiling.categories import category_of
from harness.profiling.chrome_trace import intervals_trace
from harness.profiling.step_profile import StepProfile
from harness.profiling.timeline import attribute_wall_time

RULES = (
    (r"(^|/)embedding(_\d+)?(/|:|$)", "embedding"),
    (r"(^|/)(lstm|bidirectional)(_\d+)?(/|:|$)|CudnnRNN", "lstm"),
    (r"(^|/)(flatten|dense)(_\d+)?(/|:|$)", "head"),
    (r"binary_crossentropy|(^|/)(compile_)?loss(/|:|$)", "loss"),
    (r"(^|/)(adam|sgd|optimizer)(_\d+)?(/|:|$)|ResourceApply|AssignVariableOp|AssignAddVariableOp|AssignSub", "optimizer"),
    (r"_Send|_Recv|MemcpyH2D|MemcpyD2H|CopyToDevice|CopyFromDevice", "transfer"),
    (r"^Executor|^ThreadpoolListener|^KernelAndDevice|^EagerExecute|^EagerKernelExecute", "host"),
)
"""Op scopes (the model's canonical layer names) and framework events, and their category; the innermost
event with a category decides."""


PROFILER_OPTIONS = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3, python_tracer_level=0,
                                                           device_tracer_level=1, delay_ms=0)
"""Host tracing at level 3: TensorFlow traces "cheap" ops only there, and a small model's LSTM cell ops
(the while loop's body) are cheap; at the default level 2 the trace holds none of them."""


@cache
def _category_of_name(name: str) -> str | None:
    return category_of(name, RULES)


def category_of_stack(names: list[str]) -> str:
    """The category of an instant: the innermost open event that has one, else ``other``."""
    return next((found for found in map(_category_of_name, names) if found), "other")


def kernel_from_ops(names: set[str]) -> str | None:
    """cuDNN when a ``CudnnRNN`` op ran, the generic ``tf.while_loop`` when LSTM cell ops ran inside a while
    loop, None when the trace shows neither."""
    if any("CudnnRNN" in name for name in names):
        return "cuDNN (CudnnRNNV3)"
    if any("/while/" in name and "lstm_cell" in name for name in names):
        return "generic loop (tf.while_loop of lstm_cell ops)"
    return None


def profile_tensorflow_steps(step: Callable[[], object], calls: int) -> StepProfile:
    """Run ``step`` ``calls`` times under TensorFlow's profiler and attribute the wall time. A first
    session of one step is thrown away: the first profiler session of a process misses the ops of a
    while loop's body (measured: 1 of 1 first sessions, 0 of 3 later ones, on a hidden-16 model)."""
    record_xspace(step, 1)
    space, wall = record_xspace(step, calls)
    return profile_from_xspace(space, wall, calls)


def record_xspace(step: Callable[[], object], calls: int) -> tuple[xplane_pb2.XSpace, float]:
    """``calls`` calls of ``step`` under TensorFlow's profiler: the recorded XSpace and the wall time."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir, options=PROFILER_OPTIONS)
        started = time.perf_counter()
        try:
            for _ in range(calls):
                step()
        finally:
            wall = time.perf_counter() - started
            tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as file:
            space.ParseFromString(file.read())
    return space, wall


def profile_from_xspace(space: xplane_pb2.XSpace, wall: float, calls: int) -> StepProfile:
    """The categories, top ops, kernel and trace of a recorded XSpace (see the module docstring)."""
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    threads, busy, names, window = [], {}, set(), []
    for line in host.lines:
        intervals = []
        for event in line.events:
            name = host.event_metadata[event.metadata_id].name
            start = (line.timestamp_ns * 1000 + event.offset_ps) / 1e12
            intervals.append((start, start + event.duration_ps / 1e12, name))
            names.add(name)
            if ":" in name and " " not in name and "::" not in name:  # a graph op, "scope/name:Type"
                busy[name] = busy.get(name, 0.0) + event.duration_ps / 1e12
        if line.name == "python":
            window += [point for start, end, _ in intervals for point in (start, end)]
        elif intervals:
            threads.append(intervals)  # the Python thread only waits inside its wrappers: not attributed
    window_start, window_end = (min(window), max(window)) if window else (0.0, wall)
    totals = attribute_wall_time(threads, category_of_stack, window_start, window_end)
    scale = wall / (window_end - window_start) if window_end > window_start else 1.0
    totals = {name: seconds * scale for name, seconds in totals.items()}  # the profiler's start and stop
    top = sorted(busy.items(), key=lambda item: -item[1])
    top_ops = [{"op": name, "seconds": seconds / calls, "category": category_of_stack([name])} for name, seconds in top]
    trace = intervals_trace([(name, start, end, number) for number, intervals in enumerate(threads)
                             for start, end, name in intervals], "tensorflow")
    kernel = kernel_from_ops(names)
    note = None
    if kernel is None:  # the LSTM loop's ops are not in the trace: the time they took would read as host
        totals["other"] = totals.get("other", 0.0) + totals.pop("host", 0.0)
        note = ("TensorFlow's trace holds none of the LSTM loop's ops: the time outside traced ops is counted as "
                "other, not host")
    profile = StepProfile.from_wall_attribution(totals, calls=calls, wall_seconds=wall, top_ops=top_ops,
                                                kernel_path=kernel,
                                                profiler=f"tf.profiler.experimental (tensorflow {tf.__version__})",
                                                trace=trace)
    profile.note = note
    return profile
