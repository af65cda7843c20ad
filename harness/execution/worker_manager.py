"""The parent side: run one backend's cells in a worker subprocess, and survive its crashes and hangs.

The child side is `harness.execution.worker`; what they exchange is `harness.execution.protocol`. Each
backend gets its own interpreter (TensorFlow, PyTorch and JAX can clash inside one process, and
memory figures stay honest). Outcomes stream back cell by cell. If the worker dies or stops making
progress, the cell it was on is reported as an error with the reason, and a fresh worker takes the
remaining cells: one bad cell never loses the others.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from harness.cell import Cell
from harness.execution.protocol import (
    HELLO_FILE,
    JOB_FILE,
    STDERR_FILE,
    CellOutcome,
    WorkerHello,
    read,
    result_file,
    write_atomically,
)
from harness.plugins import hook_calls
from harness.plugins.registry import BackendInfo

POLL_SECONDS = 0.02
HEARTBEAT_SECONDS = 30.0
"""A cell without a result for this long is said to be still running (and again every this many seconds),
so a slow cell or a hang is visible before its timeout."""
WORKER_DIRECTORY_PREFIX = "lstm-bench-worker-"
"""A worker's job directory is ``<tmp>/lstm-bench-worker-<bench pid>-<random>``: removed when the worker ends,
and by the next bench run if the bench process that made it was killed (`remove_stale_worker_directories`)."""
QUIET_FRAMEWORKS_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
THREAD_ENV_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "LSTM_BENCH_THREADS",
)
"""Set to the run's thread count in every worker before any framework loads: OpenMP (PyTorch's
intra-op pool), MKL and OpenBLAS (NumPy), TensorFlow's intra-op pool. TensorFlow's inter-op pool gets
the same count through ``TF_NUM_INTEROP_THREADS``; the worker also applies threadpoolctl."""


@dataclass(frozen=True)
class WorkerLimits:
    """What a worker may use.

    Attributes:
        cell_timeout_seconds: longest one cell may run (the first one's clock includes importing the
            framework) before the worker is killed and the cell reported as timed out.
        threads: CPU threads for every framework and BLAS in the worker; None leaves the defaults.
        memory_limit_bytes: the worker is killed, and its cell failed, when its resident memory exceeds
            this; None for no limit.
    """

    cell_timeout_seconds: float = 600.0
    threads: int | None = None
    memory_limit_bytes: int | None = None


class WorkerStopped(Exception):
    """The caller's stop event was set: the worker was killed, its cells left without outcomes."""


def run_cells(
    info: BackendInfo,
    cells: Sequence[Cell],
    on_outcome: Callable[[int, CellOutcome], None],
    *,
    limits: WorkerLimits,
    on_still_running: Callable[[int, float], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> WorkerHello | None:
    """Run ``cells`` for backend ``info`` in worker processes; call ``on_outcome(index, outcome)`` as each ends.

    :param on_still_running: called with the running cell's index and the seconds since the worker last
        finished something, every `HEARTBEAT_SECONDS` without a result (a slow cell, or a hang until
        ``limits.cell_timeout_seconds``).
    :param on_started: called with a cell's index as the worker begins it (the worker has said hello and
        finished the cell before).
    :param stop: when set (by another thread), the worker is killed and `WorkerStopped` raised.
    :returns: the first worker's hello (framework version, devices), or None if none said hello.
    """
    pending = list(enumerate(cells))
    hello: WorkerHello | None = None
    while pending:
        finished, failure, worker_hello = _run_worker(info, pending, on_outcome, limits, on_still_running, on_started,
                                                      stop)
        hello = hello or worker_hello
        if failure is None:
            break
        index = pending[finished][0]
        on_outcome(index, CellOutcome(error=failure))
        pending = pending[finished + 1:]
    return hello


def describe_backend(info: BackendInfo, *, timeout_seconds: float) -> WorkerHello:
    """Start ``info``'s worker with no cells: the framework's own version and devices, or why it fails."""
    _, failure, hello = _run_worker(info, [], lambda index, outcome: None, WorkerLimits(cell_timeout_seconds=timeout_seconds))
    if hello is None:
        return WorkerHello(error=failure or "the worker exited without saying hello")
    return hello


def _run_worker(
    info: BackendInfo,
    pending: list[tuple[int, Cell]],
    on_outcome: Callable[[int, CellOutcome], None],
    limits: WorkerLimits,
    on_still_running: Callable[[int, float], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[int, str | None, WorkerHello | None]:
    """One worker over ``pending``: returns (cells finished, why it stopped early or None, its hello)."""
    with tempfile.TemporaryDirectory(prefix=f"{WORKER_DIRECTORY_PREFIX}{os.getpid()}-") as directory:
        job_dir = Path(directory)
        write_atomically(job_dir / JOB_FILE, {"backend": info.name, "cells": [cell for _, cell in pending]})
        with open(job_dir / STDERR_FILE, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "harness.execution.worker", str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=worker_environment(info, limits.threads),
                start_new_session=True,
            )
        hello = None
        finished = 0
        last_progress = last_heartbeat = time.monotonic()
        timeout = limits.cell_timeout_seconds
        try:
            while finished < len(pending):
                if stop is not None and stop.is_set():
                    raise WorkerStopped(info.name)
                if hello is None and (job_dir / HELLO_FILE).exists():
                    hello = read(job_dir / HELLO_FILE)
                    if on_started is not None:
                        on_started(pending[0][0])
                path = job_dir / result_file(finished)
                if path.exists():
                    on_outcome(pending[finished][0], read(path))
                    finished += 1
                    last_progress = last_heartbeat = time.monotonic()
                    if on_started is not None and hello is not None and finished < len(pending):
                        on_started(pending[finished][0])
                    continue
                exit_code = process.poll()
                if exit_code is not None and not path.exists():
                    return finished, _exit_reason(exit_code, job_dir / STDERR_FILE), hello
                now = time.monotonic()
                if on_still_running is not None and now - last_heartbeat >= HEARTBEAT_SECONDS:
                    last_heartbeat = now
                    on_still_running(pending[finished][0], now - last_progress)
                if time.monotonic() - last_progress > timeout:
                    _kill(process)
                    return finished, f"timed out after {timeout:g} s; its worker was killed", hello
                rss = process_rss_bytes(process.pid) if limits.memory_limit_bytes else 0
                if limits.memory_limit_bytes and rss > limits.memory_limit_bytes:
                    _kill(process)
                    return finished, (
                        f"out of memory: worker resident memory {rss / 2**20:,.0f} MiB exceeded the limit of "
                        f"{limits.memory_limit_bytes / 2**20:,.0f} MiB; its worker was killed"
                    ), hello
                time.sleep(POLL_SECONDS)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(process)
                return finished, f"timed out after {timeout:g} s while exiting; its worker was killed", hello
            if hello is None and (job_dir / HELLO_FILE).exists():
                hello = read(job_dir / HELLO_FILE)
            return finished, None, hello
        finally:
            if process.poll() is None:
                _kill(process)
            hook_calls.forward_worker_trace(info.name, job_dir / STDERR_FILE)


def remove_stale_worker_directories() -> list[Path]:
    """Remove the job directories left by bench processes that no longer exist (killed with SIGKILL, which no
    process can clean up after); returns what was removed."""
    import psutil

    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{WORKER_DIRECTORY_PREFIX}*-*"):
        owner = path.name[len(WORKER_DIRECTORY_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not psutil.pid_exists(int(owner)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def worker_environment(info: BackendInfo, threads: int | None = None) -> dict[str, str]:
    """The parent's environment, plus quiet framework logs, the thread count, the backend's own variables,
    and a PYTHONPATH that finds this copy of lstm-bench even when it is run from a source checkout."""
    environment = {**os.environ, **QUIET_FRAMEWORKS_ENV, **info.worker_env}
    if threads is not None:
        environment.update({name: str(threads) for name in THREAD_ENV_VARIABLES})
        environment["TF_NUM_INTEROP_THREADS"] = str(threads)
    source_root = str(Path(harness.__file__).resolve().parent.parent)
    paths = [path for path in environment.get("PYTHONPATH", "").split(os.pathsep) if path]
    if source_root not in paths:
        environment["PYTHONPATH"] = os.pathsep.join([*paths, source_root])
    return environment


def process_rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (Linux /proc; ``psutil`` elsewhere); 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess, AccessDenied...: no reading
        return 0


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _exit_reason(exit_code: int, stderr_log: Path) -> str:
    if exit_code < 0:
        reason = f"worker crashed: killed by {signal.Signals(-exit_code).name}"
    else:
        reason = f"worker exited with status {exit_code}"
    last_line = _last_line(stderr_log)
    return f"{reason} ({last_line})" if last_line else reason


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""
