"""The executor seam: where a backend's cells run. The runner hands each backend's pending cells to an
`Executor` and judges the outcomes it streams back; it never starts a process itself.

`LocalExecutor` (worker subprocesses on this machine, `harness.execution.worker_manager`) is the first
implementation; `harness.execution.dask_executor.DaskExecutor` the second, running the same worker on a
Dask worker's host, so isolation, timeouts and memory limits stay what they are here. Each outcome says
where it ran (`CellOutcome.host`), and every record keeps it.
"""

from __future__ import annotations

import platform
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.cell import Cell
from harness.execution.protocol import CellOutcome, WorkerHello
from harness.execution.worker_manager import WorkerLimits, WorkerStopped, remove_stale_worker_directories, run_cells
from harness.plugins.availability import Availability, probe
from harness.plugins.registry import BackendInfo


@dataclass
class BackendJob:
    """One backend's cells of one round and the runner's callbacks for them (`Executor.run_cells`'s), with
    ``on_start()`` called as the executor starts the job, ``on_done(hello)`` once every cell has an outcome,
    and ``message(text)`` for what the user should know about where it ran."""

    info: BackendInfo
    cells: Sequence[Cell]
    on_outcome: Callable[[int, CellOutcome], None]
    on_still_running: Callable[[int, float], None]
    on_started: Callable[[int], None]
    on_start: Callable[[], None]
    on_done: Callable[[WorkerHello | None], None]
    message: Callable[[str], None]
    timed: bool = True
    """Whether any of its cells measures time (then it never shares this machine with another job)."""


class Executor(ABC):
    """Runs one backend's cells somewhere and reports each outcome as it ends."""

    def run_jobs(self, jobs: Sequence[BackendJob]) -> None:
        """Run one round's jobs; by default one after the other, in order (backends take turns on this
        machine, so a timing cell never shares it). An executor with several machines runs them at once."""
        for job in jobs:
            job.on_start()
            job.on_done(self.run_cells(job.info, job.cells, job.on_outcome, job.on_still_running,
                                       on_started=job.on_started))

    @abstractmethod
    def run_cells(
        self, info: BackendInfo, cells: Sequence[Cell], on_outcome: Callable[[int, CellOutcome], None],
        on_still_running: Callable[[int, float], None] | None = None,
        on_started: Callable[[int], None] | None = None,
    ) -> WorkerHello | None:
        """Run ``cells`` of backend ``info``; call ``on_outcome(index, outcome)`` once per cell, in order, as
        each ends (a cell that could not run gets an outcome with its error), ``on_started(index)`` as the
        worker begins a cell (the first call also says the worker has loaded its framework), and, while a
        cell runs long without a result, ``on_still_running(index, seconds)`` now and then. Returns what the
        backend's worker said about itself (framework version, devices, threads), or None if no worker said
        hello."""

    def availability(self, info: BackendInfo, target: str | None = None) -> Availability:
        """Whether ``info``'s framework is installed *where the cells will run* (on the ``--hosts`` host
        ``target``, when given); the default asks this machine's installed distributions
        (`harness.plugins.availability.probe`). An executor that runs cells elsewhere asks there."""
        return probe(info)

    def machine_facts_by_host(self) -> dict[str, dict] | None:
        """Each host's machine facts (`harness.environment.host_facts`) for ``metadata.json``'s ``hosts``, when
        cells run on other machines than this one; the default (this machine only) has none: the run's own
        metadata describes it."""
        return None

    def close(self) -> None:
        """Release what the executor holds (connections, processes); the default holds nothing."""


class LocalExecutor(Executor):
    """Each backend in its own worker subprocess on this machine, within ``limits``; on start it removes the
    job directories of bench processes that were killed.

    :param jobs: how many backends' workers may run at once when none of them measures time (``bench run
        --jobs``: equivalence checks in parallel); a job with a timing cell always runs alone.
    """

    def __init__(self, limits: WorkerLimits, jobs: int = 1) -> None:
        self.limits, self.jobs = limits, max(1, jobs)
        remove_stale_worker_directories()

    def run_jobs(self, jobs: Sequence[BackendJob]) -> None:
        """Check-only jobs ``self.jobs`` at a time (`run_at_once`), then the jobs with timing cells in turn."""
        together = [job for job in jobs if not job.timed] if self.jobs > 1 else []
        if len(together) > 1:
            self.run_at_once(together)
        super().run_jobs([job for job in jobs if len(together) <= 1 or job.timed])

    def run_at_once(self, jobs: Sequence[BackendJob]) -> None:
        """Each job's worker in a thread, at most ``self.jobs`` at once; every callback runs on this thread, in
        the order the workers' events arrive. An interrupt (Ctrl-C, SIGTERM) kills every running worker."""
        import queue
        import threading
        from concurrent.futures import ThreadPoolExecutor

        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        finished = object()

        def work(job: BackendJob) -> None:
            def post(callback, *args) -> None:
                events.put((callback, args))

            try:
                post(job.on_start)
                hello = self.run_cells(job.info, job.cells, lambda index, outcome: post(job.on_outcome, index, outcome),
                                       lambda index, seconds: post(job.on_still_running, index, seconds),
                                       on_started=lambda index: post(job.on_started, index), stop=stop)
                post(job.on_done, hello)
            except WorkerStopped:
                pass
            except BaseException as error:  # noqa: BLE001 - raised again on the calling thread
                post(_raise, error)
            finally:
                events.put(finished)

        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="lstm-bench-job") as pool:
            for job in jobs:
                pool.submit(work, job)
            remaining = len(jobs)
            try:
                while remaining:
                    try:
                        event = events.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    if event is finished:
                        remaining -= 1
                        continue
                    callback, args = event
                    callback(*args)
            except BaseException:
                stop.set()
                raise

    def run_cells(
        self, info: BackendInfo, cells: Sequence[Cell], on_outcome: Callable[[int, CellOutcome], None],
        on_still_running: Callable[[int, float], None] | None = None,
        on_started: Callable[[int], None] | None = None, stop=None,
    ) -> WorkerHello | None:
        here = {"host": platform.node()}

        def on_local_outcome(index: int, outcome: CellOutcome) -> None:
            outcome.host = outcome.host or here
            on_outcome(index, outcome)

        return run_cells(info, cells, on_local_outcome, limits=self.limits, on_still_running=on_still_running,
                         on_started=on_started, stop=stop)


def _raise(error: BaseException) -> None:
    raise error
