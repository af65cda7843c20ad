"""`DaskExecutor`: a backend's cells run on a Dask worker, in the same isolated worker subprocess as a local
run (`harness.execution.worker_manager.run_cells` on that host), their outcomes streamed back as each ends.

``bench run --cluster tcp://HOST:8786`` (or a scheduler file) sends each backend task, a backend with its
list of cells exactly as the local runner groups them, to a Dask worker. On the worker, the task runs
lstm-bench's worker subprocess with the run's limits (timeouts, memory), so isolation is what it is on
one machine; each outcome goes back through a `distributed.Queue` the moment it exists, and the client
writes it into the run directory with the local guarantees (append, fsync, resume).

One benchmark per host at a time: a task with a timing cell asks for the worker resource ``benchmark``
(start each host's worker with ``--resources benchmark=1``) and, on the worker, holds a cluster-wide
`distributed.Lock` named after the host while it runs, so two timing tasks never share a machine even
when a host runs several Dask workers; equivalence tasks take neither and run in parallel.

A backend's timing rounds all run on the worker its first timing round ran on (a cell's rounds are
compared with each other: they must share a machine). A worker that dies mid-task loses nothing already
streamed; the cells it had not finished are sent once more (to any worker), then recorded as errors.
"""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from harness.cell import Cell
from harness.errors import BenchUsageError, one_line
from harness.execution.executor import Executor
from harness.execution.protocol import CellOutcome, WorkerHello
from harness.execution.worker_manager import WorkerLimits, run_cells
from harness.plugins.availability import Availability, probe
from harness.plugins.registry import BackendInfo

BENCHMARK_RESOURCE = "benchmark"
"""The Dask worker resource a task with timing cells asks for (``dask worker --resources benchmark=1``)."""
POLL_SECONDS = 0.5
WORKER_WAIT_SECONDS = 30.0
"""How long a run waits for the scheduler to have a worker before it says there is none."""
RESUBMISSIONS = 1
"""How many times the unfinished cells of a task whose Dask worker died are sent again."""


def host_lock_name(host: str) -> str:
    return f"lstm-bench-timing-{host}"


def run_on_worker(info: BackendInfo, cells: list[Cell], limits: WorkerLimits, queue_name: str,
                  timing: bool) -> WorkerHello | None:
    """The Dask task: lstm-bench's worker subprocess on this host over ``cells``, each outcome (and each
    cell's start and heartbeat) put on the queue ``queue_name`` as it happens; timing tasks hold this
    host's lock throughout."""
    from distributed import Lock, Queue, get_worker

    queue = Queue(queue_name)
    worker = get_worker()
    where = {"host": platform.node(), "worker": str(worker.name if worker.name is not None else worker.address),
             "address": worker.address}

    def send(kind: str, index: int, value: Any = None) -> None:
        queue.put((kind, index, value, where))

    def run() -> WorkerHello | None:
        hello = run_cells(info, cells, lambda index, outcome: send("outcome", index, outcome), limits=limits,
                          on_still_running=lambda index, seconds: send("running", index, seconds),
                          on_started=lambda index: send("started", index))
        if hello is not None:
            hello.machine = {**hello.machine, **where}
        return hello

    if not timing:
        return run()
    with Lock(host_lock_name(where["host"])):
        return run()


class DaskExecutor(Executor):
    """Backend tasks on a Dask cluster (see the module docstring).

    :param address: the scheduler's address (``tcp://host:8786``) or a scheduler file (``.json``).
    :param limits: the worker subprocess's limits, as locally.
    :param is_timing: whether a cell measures time (its task then takes a host to itself).
    :param workers: run every task on these Dask workers (names or addresses); None: any worker.
    """

    def __init__(self, address: str, limits: WorkerLimits, is_timing: Callable[[Cell], bool],
                 workers: Sequence[str] | None = None, needs_benchmark: bool = False) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BenchUsageError("--cluster: Dask is not installed (pip install 'lstm-bench[cluster]')") from None
        self.limits, self.is_timing, self.workers = limits, is_timing, list(workers) if workers else None
        self.timing_worker: dict[str, str] = {}  # a backend's timing rounds all run where its first one did
        try:
            if address.endswith(".json"):
                self.client = Client(scheduler_file=address, timeout=10)
            else:
                self.client = Client(address, timeout=10)
        except (OSError, TimeoutError, ValueError) as error:
            raise BenchUsageError(f"--cluster: cannot reach a Dask scheduler at {address!r} ({error})") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except (OSError, TimeoutError):
            self.client.close()
            raise BenchUsageError(f"--cluster: the scheduler at {address!r} has no worker (waited "
                                  f"{WORKER_WAIT_SECONDS:g} s; start one with: dask worker {address} --resources "
                                  f"{BENCHMARK_RESOURCE}=1)") from None
        offered = [worker for worker in self.client.scheduler_info()["workers"].values()
                   if worker.get("resources", {}).get(BENCHMARK_RESOURCE)]
        if needs_benchmark and not offered:
            self.client.close()
            raise BenchUsageError(f"--cluster: no worker of {address!r} offers the {BENCHMARK_RESOURCE!r} resource "
                                  "a timing cell asks for (one timing cell per host at a time; start each host's worker "
                                  f"with --resources {BENCHMARK_RESOURCE}=1)")

    def availability(self, info: BackendInfo) -> Availability:
        """Asked on a worker: the framework must be installed where the cells run."""
        return self.client.submit(probe, info, pure=False, workers=self.workers).result()

    def run_cells(
        self, info: BackendInfo, cells: Sequence[Cell], on_outcome: Callable[[int, CellOutcome], None],
        on_still_running: Callable[[int, float], None] | None = None,
        on_started: Callable[[int], None] | None = None,
    ) -> WorkerHello | None:
        from distributed import Queue

        pending = list(range(len(cells)))
        hello = None
        for attempt in range(RESUBMISSIONS + 1):
            queue_name = f"lstm-bench-{uuid.uuid4().hex}"
            queue = Queue(queue_name, client=self.client)
            timing = any(self.is_timing(cells[index]) for index in pending)
            pinned = self.timing_worker.get(info.name) if timing and attempt == 0 else None
            future = self.client.submit(
                run_on_worker, info, [cells[index] for index in pending], self.limits, queue_name, timing,
                pure=False, workers=[pinned] if pinned else self.workers,
                resources={BENCHMARK_RESOURCE: 1} if timing else None)
            stream = _Stream(info.name, pending, timing, self.timing_worker, on_outcome, on_still_running, on_started)
            while not future.done():
                stream.take(_drain(queue, wait=POLL_SECONDS))
            stream.take(_drain(queue, wait=0))
            failure = None
            try:
                hello = future.result() or hello
            except Exception as error:  # noqa: BLE001 - a dead worker or a failed task: its cells are retried
                failure = f"its Dask worker failed ({type(error).__name__}: {one_line(error)})"
            pending = [index for index in pending if index not in stream.delivered]
            if not pending:
                break
            if attempt == RESUBMISSIONS:
                for index in pending:
                    on_outcome(index, CellOutcome(error=(failure or "the Dask task ended without its result")
                                                  + f"; sent {RESUBMISSIONS + 1} times"))
        return hello

    def close(self) -> None:
        self.client.close()


class _Stream:
    """Hands one task's messages to the runner's callbacks: each cell's outcome once (a resubmitted task's
    repeat is dropped), with where it ran; the start and heartbeat of a cell."""

    def __init__(self, backend: str, pending: list[int], timing: bool, timing_worker: dict[str, str],
                 on_outcome, on_still_running, on_started) -> None:
        self.backend, self.pending, self.timing, self.timing_worker = backend, pending, timing, timing_worker
        self.on_outcome, self.on_still_running, self.on_started = on_outcome, on_still_running, on_started
        self.delivered: set[int] = set()

    def take(self, messages: list) -> None:
        for kind, local_index, value, where in messages:
            index = self.pending[local_index]
            if kind == "outcome" and index not in self.delivered:
                self.delivered.add(index)
                value.host = where
                if self.timing:
                    self.timing_worker.setdefault(self.backend, where["address"])
                self.on_outcome(index, value)
            elif kind == "started" and self.on_started is not None:
                self.on_started(index)
            elif kind == "running" and self.on_still_running is not None:
                self.on_still_running(index, value)


def _drain(queue, wait: float) -> list:
    """Everything on ``queue`` now; when it is empty, a pause of ``wait`` seconds first. (A ``get`` that
    times out is logged by the scheduler as an error, so the queue's size is asked instead.)"""
    size = queue.qsize()
    if not size and wait:
        time.sleep(wait)
        size = queue.qsize()
    return list(queue.get(batch=size)) if size else []
