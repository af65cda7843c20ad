"""Profiling the Keras backend's timed step, on every engine, in lstm-bench's categories.

Keras names every layer's ops by the layer (its canonical name: ``embedding``, ``lstm``, ``lstm_1``,
``bidirectional``, ``flatten``, ``dense``), so the categories come from the same rules (`RULES`) on each
engine; what differs is where the names are found:

- TensorFlow: ``tf.profiler.experimental`` records the step as an XSpace (``*.xplane.pb``): on the host
  plane, one line per executor thread, each op an event named by its graph scope, e.g.
  ``gradient_tape/text_lstm_1/lstm_1/while/.../MatMul_1_grad/MatMul:MatMul``. Ops run on several threads
  at once, so the step's wall time is attributed instant by instant (`harness.profiling.timeline`). The
  LSTM kernel is read from the op names: ``CudnnRNN`` ops mean cuDNN, a ``while`` loop of ``lstm_cell``
  ops the generic loop.
- JAX: ``jax.profiler`` writes an XSpace too; each XLA instruction's scope (``jvp(lstm)/while/body/...``,
  ``transpose(jvp(lstm))`` for its gradient) comes from the program in the trace
  (`harness.profiling.xla_trace`). The kernel: an XLA ``while`` loop in the LSTM's scope (``lax.scan``), or
  a cuDNN custom call.
- torch: ``torch.profiler`` as for the torch backend (`backends.torch_profiling`), each layer's ``call``
  and the loss and optimizer marked with ``record_function`` while the profile runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache, partial, wraps

from harness.profiling.categories import category_of
from harness.profiling.step_profile import StepProfile
from harness.profiling.timeline import profile_from_threads
from harness.profiling.xla_trace import profile_from_xla_xspace, record_xspace
from harness.profiling.xspace import line_events, plane_named

RULES = (
    (r"(^|[/(])embedding(_\d+)?([/:)]|$)", "embedding"),
    (r"(^|[/(])(lstm|bidirectional)(_\d+)?([/:)]|$)|CudnnRNN|cudnn", "lstm"),
    (r"(^|[/(])(flatten|dense)(_\d+)?([/:)]|$)", "head"),
    (r"binary_crossentropy|(^|[/(])(compile_)?loss([/:)]|$)", "loss"),
    (r"(^|[/(])(adam|sgd|optimizer)(_\d+)?([/:)]|$)|ResourceApply|AssignVariableOp|AssignAddVariableOp|AssignSub",
     "optimizer"),
    (r"_Send|_Recv|MemcpyH2D|MemcpyD2H|CopyToDevice|CopyFromDevice", "transfer"),
    (r"^Executor|^ThreadpoolListener|^KernelAndDevice|^EagerExecute|^EagerKernelExecute", "host"),
)
"""Op scopes (the model's canonical layer names, in TensorFlow's ``a/b:Type`` or JAX's ``jvp(a)/b`` form)
and framework events, and their category; the innermost event with a category decides."""


def profile_keras_steps(engine: str, model, step: Callable[[], object], calls: int, device: str) -> StepProfile | None:
    """``calls`` calls of ``step`` (a step of the Keras ``model``) under the profiler of Keras' ``engine``;
    None for an engine without one."""
    if engine == "tensorflow":
        return profile_tensorflow_steps(step, calls)
    if engine == "jax":
        return profile_jax_steps(step, calls)
    if engine == "torch":
        from backends.torch_profiling import phase, profile_torch_steps

        with marked_phases(model, phase):
            profile = profile_torch_steps(step, calls, device)
        if profile.kernel_path is None and profile.categories["lstm"] > 0:
            profile.kernel_path = "generic loop (ATen ops per step, no fused RNN op in the trace)"
        return profile
    return None


@contextmanager
def marked_phases(model, phase: Callable[[str], AbstractContextManager]) -> Iterator[None]:
    """Mark each phase of ``model``'s steps with ``phase(category)`` while the block runs: each layer's
    ``call`` (its category by `RULES` on the layer's name), the trainer's loss (``_compute_loss``) and the
    optimizer's ``zero_grad`` and ``apply``. The methods are wrapped on the instances and restored after."""
    targets = [(layer, "call", category_of(layer.name, RULES)) for layer in model.layers]
    targets += [(model, "_compute_loss", "loss"), (model, "zero_grad", "optimizer")]
    if getattr(model, "optimizer", None) is not None:
        targets.append((model.optimizer, "apply", "optimizer"))
    wrapped = []
    try:
        for owner, method, category in targets:
            if category is None or not hasattr(owner, method) or method in vars(owner):
                continue
            setattr(owner, method, _in_phase(getattr(owner, method), partial(phase, category)))
            wrapped.append((owner, method))
        yield
    finally:
        for owner, method in wrapped:
            delattr(owner, method)


def _in_phase(method: Callable, enter: Callable[[], AbstractContextManager]) -> Callable:
    @wraps(method)
    def marked(*args, **kwargs):
        with enter():
            return method(*args, **kwargs)

    return marked


def profile_jax_steps(step: Callable[[], object], calls: int) -> StepProfile:
    """``jax.profiler`` around ``calls`` steps, read as an XLA trace (`harness.profiling.xla_trace`)."""
    import jax

    options = jax.profiler.ProfileOptions()
    options.python_tracer_level = 0  # tracing every Python call would cost more than a small model's step
    start = partial(jax.profiler.start_trace, profiler_options=options)
    space, wall = record_xspace(start, jax.profiler.stop_trace, step, calls)
    return profile_from_xla_xspace(space, wall, calls, RULES, xla_kernel_from_scopes,
                                   profiler=f"jax.profiler (jax {jax.__version__})")


def xla_kernel_from_scopes(scopes: set[str]) -> str | None:
    """cuDNN when a cuDNN custom call ran, XLA's ``while`` loop when one ran in an LSTM layer's scope
    (``lax.scan`` of the cell), None when the trace shows neither."""
    if any("cudnn" in scope.lower() and "rnn" in scope.lower() for scope in scopes):
        return "cuDNN (XLA custom call)"
    if any(category_of(scope, RULES[1:2]) and scope.endswith("/while") for scope in scopes):
        return "XLA while loop (lax.scan of lstm_cell)"
    return None


TENSORFLOW_TRACER_LEVELS = {"host_tracer_level": 3, "python_tracer_level": 0, "device_tracer_level": 1, "delay_ms": 0}
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


TENSORFLOW_SESSIONS = 3
"""Profiler sessions tried per cell before a trace without the LSTM loop's ops is kept (with its note)."""


def profile_tensorflow_steps(step: Callable[[], object], calls: int) -> StepProfile:
    """Run ``step`` ``calls`` times under TensorFlow's profiler and attribute the wall time. A first
    session of one step is thrown away: the first profiler session of a process misses the ops of a
    while loop's body (measured: 1 of 1 first sessions, 0 of 3 later ones, on a hidden-16 model); later
    sessions miss them now and then too (1 run of the test suite in several, on a loaded machine), so a
    trace without them is retaken, up to `TENSORFLOW_SESSIONS` in all. A step compiled by XLA
    (``jit_compile``) is read as an XLA trace (`harness.profiling.xla_trace`)."""
    import tensorflow as tf

    options = tf.profiler.experimental.ProfilerOptions(**TENSORFLOW_TRACER_LEVELS)
    start = partial(tf.profiler.experimental.start, options=options)
    record_xspace(start, tf.profiler.experimental.stop, step, 1)
    profiler = f"tf.profiler.experimental (tensorflow {tf.__version__})"
    for _ in range(TENSORFLOW_SESSIONS):
        space, wall = record_xspace(start, tf.profiler.experimental.stop, step, calls)
        host = plane_named(space, "/host:CPU")
        if host is not None and any("hlo_op" in event.stats for _, events in line_events(host) for event in events):
            return profile_from_xla_xspace(space, wall, calls, RULES, xla_kernel_from_scopes, profiler)
        profile = profile_from_tensorflow_xspace(space, wall, calls, profiler)
        if profile.kernel_path is not None:
            break
    return profile


def profile_from_tensorflow_xspace(space, wall: float, calls: int, profiler: str) -> StepProfile:
    """The categories, top ops, kernel and trace of a recorded XSpace of TensorFlow's executor (see the
    module docstring)."""
    host = plane_named(space, "/host:CPU")
    if host is None:
        raise RuntimeError("the XSpace has no /host:CPU plane")
    threads, busy, names, window = [], {}, set(), []
    for line_name, events in line_events(host):
        intervals = [(event.start_seconds, event.end_seconds, event.name) for event in events]
        for start, end, name in intervals:
            names.add(name)
            if ":" in name and " " not in name and "::" not in name:  # a graph op, "scope/name:Type"
                busy[name] = busy.get(name, 0.0) + end - start
        if line_name == "python":
            window += [point for start, end, _ in intervals for point in (start, end)]
        elif intervals:
            threads.append(intervals)  # the Python thread only waits inside its wrappers: not attributed
    kernel = kernel_from_ops(names)
    profile = profile_from_threads(threads, busy, window, wall, calls, category_of_stack, kernel_path=kernel,
                                   profiler=profiler, trace_process="tensorflow")
    note = None
    if kernel is None:  # the LSTM loop's ops are not in the trace: the time they took would read as host
        profile.categories["other"] += profile.categories["host"]
        profile.categories["host"] = 0.0
        note = ("TensorFlow's trace holds none of the LSTM loop's ops: the time outside traced ops is counted as "
                "other, not host")
    profile.note = note
    return profile
