"""Run one backend's tasks in a worker subprocess; survive its crashes and hangs.

Each backend gets its own interpreter (TensorFlow, PyTorch and JAX can clash inside one process, and
memory figures stay honest). Outcomes stream back task by task. If the worker dies or stops making
progress, the task it was on is reported as an error with the reason, and a fresh worker takes the
remaining tasks: one bad cell never loses the others.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
from harness.registry import BackendInfo
from harness.worker import HELLO_FILE, JOB_FILE, TaskOutcome, WorkerHello, result_file

POLL_SECONDS = 0.02
QUIET_FRAMEWORKS_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}

Task = tuple[str, Any, Any]
"""``(suite_name, spec, options)``: what a worker is asked to do."""


def run_tasks(
    info: BackendInfo,
    tasks: Sequence[Task],
    on_outcome: Callable[[int, TaskOutcome], None],
    *,
    task_timeout_seconds: float,
) -> WorkerHello | None:
    """Run ``tasks`` for backend ``info`` in worker processes; call ``on_outcome(index, outcome)`` as each ends.

    :param task_timeout_seconds: longest a task may run (the first one's clock includes importing the
        framework) before its worker is killed and the task reported as timed out.
    :returns: the first worker's hello (framework version, devices), or None if none said hello.
    """
    pending = list(enumerate(tasks))
    hello: WorkerHello | None = None
    while pending:
        finished, failure, worker_hello = _run_worker(info, pending, on_outcome, task_timeout_seconds)
        hello = hello or worker_hello
        if failure is None:
            break
        index = pending[finished][0]
        on_outcome(index, TaskOutcome(error=failure))
        pending = pending[finished + 1:]
    return hello


def describe_backend(info: BackendInfo, *, timeout_seconds: float) -> WorkerHello:
    """Start ``info``'s worker with no tasks: the framework's own version and devices, or why it fails."""
    _, failure, hello = _run_worker(info, [], lambda index, outcome: None, timeout_seconds)
    if hello is None:
        return WorkerHello(error=failure or "the worker exited without saying hello")
    return hello


def _run_worker(
    info: BackendInfo,
    pending: list[tuple[int, Task]],
    on_outcome: Callable[[int, TaskOutcome], None],
    task_timeout_seconds: float,
) -> tuple[int, str | None, WorkerHello | None]:
    """One worker over ``pending``: returns (tasks finished, why it stopped early or None, its hello)."""
    with tempfile.TemporaryDirectory(prefix="lstm-bench-worker-") as directory:
        job_dir = Path(directory)
        with open(job_dir / JOB_FILE, "wb") as handle:
            pickle.dump({"backend": info.name, "tasks": [task for _, task in pending]}, handle)
        with open(job_dir / "stderr.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "harness.worker", str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=worker_environment(info),
                start_new_session=True,
            )
        hello = None
        finished = 0
        last_progress = time.monotonic()
        try:
            while finished < len(pending):
                if hello is None and (job_dir / HELLO_FILE).exists():
                    hello = _load(job_dir / HELLO_FILE)
                path = job_dir / result_file(finished)
                if path.exists():
                    on_outcome(pending[finished][0], _load(path))
                    finished += 1
                    last_progress = time.monotonic()
                    continue
                exit_code = process.poll()
                if exit_code is not None and not path.exists():
                    return finished, _exit_reason(exit_code, job_dir / "stderr.log"), hello
                if time.monotonic() - last_progress > task_timeout_seconds:
                    _kill(process)
                    return finished, f"timed out after {task_timeout_seconds:g} s; its worker was killed", hello
                time.sleep(POLL_SECONDS)
            try:
                process.wait(timeout=task_timeout_seconds)
            except subprocess.TimeoutExpired:
                _kill(process)
                return finished, f"timed out after {task_timeout_seconds:g} s while exiting; its worker was killed", hello
            if hello is None and (job_dir / HELLO_FILE).exists():
                hello = _load(job_dir / HELLO_FILE)
            return finished, None, hello
        finally:
            if process.poll() is None:
                _kill(process)


def worker_environment(info: BackendInfo) -> dict[str, str]:
    """The parent's environment, plus quiet framework logs, the backend's own variables, and a
    PYTHONPATH that finds this copy of lstm-bench even when it is run from a source checkout."""
    environment = {**os.environ, **QUIET_FRAMEWORKS_ENV, **info.worker_env}
    source_root = str(Path(harness.__file__).resolve().parent.parent)
    paths = [path for path in environment.get("PYTHONPATH", "").split(os.pathsep) if path]
    if source_root not in paths:
        environment["PYTHONPATH"] = os.pathsep.join([*paths, source_root])
    return environment


def _load(path: Path) -> Any:
    with open(path, "rb") as handle:
        return pickle.load(handle)


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
