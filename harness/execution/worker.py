"""The child side: ``python -m harness.execution.worker JOB_DIR`` runs one backend's cells in isolation.

Started by `harness.execution.worker_manager`; the files it reads and writes are described in
`harness.execution.protocol`. The worker discovers plugins itself, exactly as the parent did (same entry
points, same environment), so the backend and the suites are found by name.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path

from harness.cell import Cell
from harness.contract import UnsupportedCapability
from harness.environment import cpu_model
from harness.errors import one_line
from harness.execution.protocol import (
    HELLO_FILE,
    JOB_FILE,
    CellOutcome,
    WorkerHello,
    read,
    result_file,
    write_atomically,
)
from harness.measurement.memory import current_rss_bytes
from harness.suite import NotRun


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
    """Load the backend named in ``job.pkl`` and write one outcome per cell."""
    from harness.plugins.discovery import discover

    die_with_parent()
    job = read(job_dir / JOB_FILE)
    registry = discover()
    backend = None
    hello = WorkerHello(pid=os.getpid())
    try:
        backend = registry.backend(job["backend"]).load()
        hello.threads = limit_blas_threads()
        hello.framework_version = backend.framework_version()
        hello.devices = list(backend.devices())
        hello.import_rss_bytes = current_rss_bytes()
        hello.machine = {"host": platform.node(), "cpu_model": cpu_model(), "cpu_count": os.cpu_count()}
    except Exception as error:  # noqa: BLE001 - reported to the parent, cell by cell
        hello.error = one_line(error)
    write_atomically(job_dir / HELLO_FILE, hello)
    parent = os.getppid()
    for index, cell in enumerate(job["cells"]):
        if os.getppid() != parent:
            return  # the bench process is gone: nobody will read the results
        if hello.error is not None:
            outcome = CellOutcome(error=f"backend failed to load: {hello.error}")
        else:
            outcome = _run_cell(registry, backend, cell)
        try:
            write_atomically(job_dir / result_file(index), outcome)
        except Exception as error:  # noqa: BLE001 - e.g. a measurement that cannot be pickled
            write_atomically(job_dir / result_file(index), CellOutcome(error=f"cannot send result: {one_line(error)}"))


def _run_cell(registry, backend, cell: Cell) -> CellOutcome:
    started, began_at = time.perf_counter(), time.time()

    def outcome(**fields) -> CellOutcome:
        return CellOutcome(**fields, seconds=time.perf_counter() - started, ran=(began_at, time.time()))

    try:
        value = registry.suite(cell.suite).measure(backend, cell.spec, cell.options)
    except UnsupportedCapability as reason:  # e.g. build() refusing a model option (refuse_unsupported_options)
        return outcome(value=NotRun.unsupported(str(reason)))
    except Exception as error:  # noqa: BLE001
        return outcome(error=one_line(error), traceback=traceback.format_exc())
    return outcome(value=value)


if __name__ == "__main__":
    run_job(Path(sys.argv[1]))
