"""The worker process: ``python -m harness.worker JOB_DIR`` runs one backend's tasks in isolation.

Protocol (all files in JOB_DIR, each written to a temporary name and renamed, so the parent never reads
half a file):

- ``job.pkl`` (from the parent): ``{"backend": name, "tasks": [(suite_name, spec, options), ...]}``.
- ``hello.pkl``: a `WorkerHello` once the backend is loaded (or failed to load).
- ``result-00000.pkl``, ``result-00001.pkl``...: one `TaskOutcome` per task, in order, as each finishes.

The worker discovers plugins itself, exactly as the parent did (same entry points, same environment), so a
backend is found by name; nothing but names and specs crosses the process boundary on the way in.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOB_FILE = "job.pkl"
HELLO_FILE = "hello.pkl"


def result_file(index: int) -> str:
    """File name of the outcome of task ``index``."""
    return f"result-{index:05d}.pkl"


@dataclass
class WorkerHello:
    """What the worker says once its backend is loaded: the framework's own version, devices and threads."""

    framework_version: str = ""
    devices: list[str] = field(default_factory=list)
    pid: int = 0
    threads: int | None = None
    error: str | None = None


@dataclass
class TaskOutcome:
    """The result of one task: a measurement, or an error in one line plus its traceback."""

    value: Any = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def one_line(error: BaseException) -> str:
    """``Type: message`` squeezed onto one line."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def write_atomically(path: Path, value: Any) -> None:
    """Pickle ``value`` to ``path`` through a temporary file and a rename."""
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(value, handle)
    os.replace(temporary, path)


def die_with_parent() -> None:
    """Ask Linux to kill this worker if the ``bench`` process that started it dies (best effort)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def limit_blas_threads() -> int | None:
    """Apply ``LSTM_BENCH_THREADS`` to every BLAS/OpenMP pool already loaded (threadpoolctl)."""
    threads = os.environ.get("LSTM_BENCH_THREADS")
    if not threads:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return int(threads)
    threadpool_limits(int(threads))
    return int(threads)


def run_job(job_dir: Path) -> None:
    """Load the backend named in ``job.pkl`` and write one outcome per task."""
    from harness.plugins import discover

    die_with_parent()
    with open(job_dir / JOB_FILE, "rb") as handle:
        job = pickle.load(handle)
    registry = discover()
    backend = None
    hello = WorkerHello(pid=os.getpid())
    try:
        backend = registry.backend(job["backend"]).load()
        hello.threads = limit_blas_threads()
        hello.framework_version = backend.framework_version()
        hello.devices = list(backend.devices())
    except Exception as error:  # noqa: BLE001 - reported to the parent, task by task
        hello.error = one_line(error)
    write_atomically(job_dir / HELLO_FILE, hello)
    parent = os.getppid()
    for index, (suite_name, spec, options) in enumerate(job["tasks"]):
        if os.getppid() != parent:
            return  # the bench process is gone: nobody will read the results
        if hello.error is not None:
            outcome = TaskOutcome(error=f"backend failed to load: {hello.error}")
        else:
            outcome = _run_task(registry, backend, suite_name, spec, options)
        try:
            write_atomically(job_dir / result_file(index), outcome)
        except Exception as error:  # noqa: BLE001 - e.g. a measurement that cannot be pickled
            write_atomically(job_dir / result_file(index), TaskOutcome(error=f"cannot send result: {one_line(error)}"))


def _run_task(registry, backend, suite_name: str, spec, options) -> TaskOutcome:
    started = time.perf_counter()
    try:
        value = registry.suite(suite_name).measure(backend, spec, options)
    except Exception as error:  # noqa: BLE001
        return TaskOutcome(error=one_line(error), traceback=traceback.format_exc(), seconds=time.perf_counter() - started)
    return TaskOutcome(value=value, seconds=time.perf_counter() - started)


if __name__ == "__main__":
    from harness import worker  # pickle classes under their importable name, not __main__

    worker.run_job(Path(sys.argv[1]))
