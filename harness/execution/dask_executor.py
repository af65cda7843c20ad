"""`DaskExecutor`: a backend's cells run on a Dask worker, in the same isolated worker subprocess as a local
run (`harness.execution.worker_manager.run_cells` on that host), their outcomes streamed back as each ends.

``bench run --cluster tcp://HOST:8786`` (or a scheduler file) sends each backend task, a backend with its
list of cells exactly as the local runner groups them, to a Dask worker; a round's tasks run at once
(`DaskExecutor.run_jobs`). On the worker, the task runs lstm-bench's worker subprocess with the run's
limits (timeouts, memory), so isolation is what it is on one machine; each outcome goes back through a
`distributed.Queue` the moment it exists, and the client writes it into the run directory with the local
guarantees (append, fsync, resume).

One benchmark per host at a time: a task with a timing cell asks for the worker resource ``benchmark``
(start each host's worker with ``--resources benchmark=1``) and, on the worker, holds a cluster-wide
`distributed.Lock` named after the host while it runs, so two timing tasks never share a machine even
when a host runs several Dask workers; equivalence tasks take neither and run in parallel.

Where timing cells run: every timing task of a run goes to one worker (the *timing worker*, chosen before
the first task), so that the backends a report compares were measured on one machine. ``--hosts a,b``
(`targets`) runs every cell once on each named host (a Dask worker's name, its address, its host's IP or
name): each host has its own timing worker, and the hosts' tasks run at the same time.

Faults: a worker that dies mid-task loses nothing already streamed; Dask moves its task to another allowed
worker (the run says so; cells already delivered are not recorded twice), and the cells a task did not
finish are sent once more (to the same host when targeted, re-resolved: a restarted worker has a new
address), then recorded as errors.
"""

from __future__ import annotations

import platform
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cell import Cell
from harness.errors import BenchUsageError, one_line
from harness.execution.executor import BackendJob, Executor
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
LIVENESS_SECONDS = 5.0
"""How often a task restricted to workers is checked for a live one (a task whose only allowed worker died
would otherwise wait for it forever)."""


def host_lock_name(host: str) -> str:
    return f"lstm-bench-timing-{host}"


class StopRequested(Exception):
    """The client asked a task to stop (its run was interrupted)."""


def stop_event_name(queue_name: str) -> str:
    return f"{queue_name}-stop"


def run_on_worker(info: BackendInfo, cells: list[Cell], limits: WorkerLimits, queue_name: str,
                  timing: bool) -> WorkerHello | None:
    """The Dask task: lstm-bench's worker subprocess on this host over ``cells``, each outcome (and each
    cell's start and heartbeat) put on the queue ``queue_name`` as it happens; timing tasks hold this
    host's lock throughout. When the client sets the task's stop event (an interrupted run), the next
    message (a cell's end or start, or a heartbeat) raises `StopRequested`, which kills the subprocess."""
    from distributed import Event, Lock, Queue, get_worker

    queue, stop = Queue(queue_name), Event(stop_event_name(queue_name))
    worker = get_worker()
    where = {"host": platform.node(), "worker": str(worker.name if worker.name is not None else worker.address),
             "address": worker.address}

    def send(kind: str, index: int, value: Any = None) -> None:
        if stop.is_set():
            raise StopRequested(f"stopped by the client before cell {index}")
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


@dataclass(frozen=True)
class DaskWorker:
    """One worker of the cluster: its address, name, host IP and machine name, and whether it offers the
    benchmark resource."""

    address: str
    name: str
    ip: str
    node: str
    benchmark: bool

    def answers_to(self, target: str) -> bool:
        return target in (self.address, self.name, self.ip, self.node)

    def label(self) -> str:
        return f"{self.name} ({self.node}, {self.address})"


class DaskExecutor(Executor):
    """Backend tasks on a Dask cluster (see the module docstring).

    :param address: the scheduler's address (``tcp://host:8786``) or a scheduler file (``.json``).
    :param limits: the worker subprocess's limits, as locally.
    :param is_timing: whether a cell measures time (its task then takes a host to itself).
    :param targets: ``--hosts``: the hosts the run's cells are sent to (`harness.cell.Cell.target`); each
        must name a live worker (`DaskWorker.answers_to`), or the run is refused in one line.
    :param needs_benchmark: the run has timing cells: refuse a cluster whose workers lack the resource.
    :param distributions: what `machine_facts_by_host` records the versions of on each host.
    """

    def __init__(self, address: str, limits: WorkerLimits, is_timing: Callable[[Cell], bool],
                 targets: Sequence[str] = (), needs_benchmark: bool = False,
                 distributions: tuple[str, ...] = ()) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BenchUsageError("--cluster: Dask is not installed (pip install 'lstm-bench[cluster]')") from None
        self.address, self.limits, self.is_timing, self.targets = address, limits, is_timing, tuple(targets)
        self.needs_benchmark, self.distributions = needs_benchmark, distributions
        self._nodes: dict[str, str] = {}
        if address.endswith(".json") and not Path(address).is_file():
            raise BenchUsageError(f"--cluster: no scheduler file {address!r} (accepted: tcp://HOST:8786, or the file "
                                  "`dask scheduler --scheduler-file` or `bench cluster local --scheduler-file` wrote)")
        try:
            if address.endswith(".json"):
                self.client = Client(scheduler_file=address, timeout=10)
            else:
                self.client = Client(address, timeout=10)
        except (OSError, TimeoutError, ValueError) as error:
            raise BenchUsageError(f"--cluster: cannot reach a Dask scheduler at {address!r} ({error})") from None
        try:
            self._check_cluster()
        except BaseException:
            self.client.close()
            raise
        self.timing_worker: dict[str | None, str] = {}
        """The worker each target's (None: the run's) timing tasks go to, chosen before the first one."""
        self._facts: dict[str, dict] | None = None

    def _check_cluster(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except (OSError, TimeoutError):
            raise BenchUsageError(f"--cluster: the scheduler at {self.address!r} has no worker (waited "
                                  f"{WORKER_WAIT_SECONDS:g} s; start one with: dask worker {self.address} --resources "
                                  f"{BENCHMARK_RESOURCE}=1)") from None
        workers = self.workers()
        if self.needs_benchmark and not any(worker.benchmark for worker in workers):
            raise BenchUsageError(f"--cluster: no worker of {self.address!r} offers the {BENCHMARK_RESOURCE!r} resource "
                                  "a timing cell asks for (one timing cell per host at a time; start each host's worker "
                                  f"with --resources {BENCHMARK_RESOURCE}=1)")
        known = ", ".join(worker.label() for worker in workers)
        for target in self.targets:
            matching = [worker for worker in workers if worker.answers_to(target)]
            if not matching:
                raise BenchUsageError(f"--hosts: no worker of the cluster at {self.address!r} is {target!r} (accepted: "
                                      f"a worker's name, address, host IP or machine name; workers: {known})")
            if self.needs_benchmark and not any(worker.benchmark for worker in matching):
                raise BenchUsageError(f"--hosts: {target!r} has no worker offering the {BENCHMARK_RESOURCE!r} resource a "
                                      f"timing cell asks for (start it with --resources {BENCHMARK_RESOURCE}=1)")
        chosen = {target: {worker.address for worker in workers if worker.answers_to(target)} for target in self.targets}
        for index, a in enumerate(self.targets):
            for b in self.targets[index + 1:]:
                if chosen[a] & chosen[b]:
                    raise BenchUsageError(f"--hosts: {a!r} and {b!r} name the same worker ({', '.join(sorted(chosen[a] & chosen[b]))}); "
                                          "name each host once (workers: " + known + ")")
        nodes = {target: {worker.node for worker in workers if worker.answers_to(target)} for target in self.targets}
        shared = [f"{a} and {b} ({', '.join(sorted(nodes[a] & nodes[b]))})" for index, a in enumerate(self.targets)
                  for b in self.targets[index + 1:] if nodes[a] & nodes[b]]
        if self.needs_benchmark and shared:
            print(f"bench: warning: --hosts {'; '.join(shared)} are workers of one machine: their timings take turns "
                  "and compare the same hardware", file=sys.stderr)

    def _worker_info(self) -> dict[str, dict]:
        """The scheduler's description of each live worker, by address."""
        try:
            return self.client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:  # distributed before 2025: every worker, always
            return self.client.scheduler_info()["workers"]

    def workers(self) -> list[DaskWorker]:
        """The cluster's live workers, now (each new worker asked for its machine's name once)."""
        info = self._worker_info()
        unknown = [address for address in info if address not in self._nodes]
        if unknown:
            try:
                self._nodes.update(self.client.run(platform.node, workers=unknown))
            except Exception:  # noqa: BLE001, S110 - a worker leaving meanwhile: its host IP stands in
                pass
        return sorted((DaskWorker(address, str(worker.get("name", address)), str(worker.get("host", "")),
                                  str(self._nodes.get(address, worker.get("host", ""))),
                                  bool(worker.get("resources", {}).get(BENCHMARK_RESOURCE)))
                       for address, worker in info.items()), key=lambda worker: (worker.name, worker.address))

    def _allowed(self, target: str | None, timing: bool, workers: list[DaskWorker]) -> list[str] | None:
        """The addresses a task may run on: a timing task only on its target's timing worker (chosen now if
        it has none, or if it died), any other task on its target's workers (None: any worker)."""
        candidates = [worker for worker in workers if target is None or worker.answers_to(target)]
        if not timing:
            return [worker.address for worker in candidates] if target is not None else None
        alive = {worker.address for worker in candidates if worker.benchmark}
        if self.timing_worker.get(target) not in alive and alive:
            self.timing_worker[target] = min(worker.address for worker in candidates if worker.address in alive)
        return [self.timing_worker[target]] if alive else []

    def machine_facts_by_host(self) -> dict[str, dict]:
        """Each host's facts (`harness.environment.host_facts`), collected there: by ``--hosts`` name, else by
        machine name; the CPU's GEMM peak where timing cells will run."""
        if self._facts is None:
            from harness.environment import host_facts

            workers = self.workers()
            chosen: dict[str, DaskWorker] = {}
            if self.targets:
                for target in self.targets:
                    address = (self._allowed(target, True, workers) or [None])[0] if self.needs_benchmark else None
                    chosen[target] = next((worker for worker in workers if worker.address == address), None) or next(
                        worker for worker in workers if worker.answers_to(target))
            else:
                timing = (self._allowed(None, True, workers) or [None])[0] if self.needs_benchmark else None
                for worker in workers:
                    if worker.node not in chosen or worker.address == timing:
                        chosen[worker.node] = worker
            timing_addresses = set(self.timing_worker.values())
            self._facts = {}
            for key, worker in chosen.items():  # one at a time: two calibrations at once on one machine would halve both
                future = self.client.submit(host_facts, self.distributions, self.limits.threads,
                                            worker.address in timing_addresses, pure=False, workers=[worker.address],
                                            allow_other_workers=False)
                try:
                    self._facts[key] = future.result(timeout=300)
                except Exception as error:  # noqa: BLE001 - a host that cannot say is recorded as such
                    self._facts[key] = {"error": f"{type(error).__name__}: {one_line(error)}"}
        return self._facts

    def availability(self, info: BackendInfo, target: str | None = None) -> Availability:
        """Asked on a worker of ``target`` (any worker without one): the framework must be installed where
        the cells run."""
        allowed = self._allowed(target, False, self.workers()) if target else None
        if allowed == []:
            return Availability(False, f"host {target} has no live Dask worker", {}, ())
        return self.client.submit(probe, info, pure=False, workers=allowed).result()

    def run_cells(
        self, info: BackendInfo, cells: Sequence[Cell], on_outcome: Callable[[int, CellOutcome], None],
        on_still_running: Callable[[int, float], None] | None = None,
        on_started: Callable[[int], None] | None = None,
    ) -> WorkerHello | None:
        hellos: list[WorkerHello | None] = []
        self.run_jobs([BackendJob(info, cells, on_outcome, on_still_running or _ignore, on_started or _ignore,
                                  lambda: None, hellos.append, _ignore)])
        return hellos[0] if hellos else None

    def run_jobs(self, jobs: Sequence[BackendJob]) -> None:
        """Every job's tasks (one per target host) at once; callbacks are called from this thread only."""
        from distributed import Queue

        tasks: list[_Task] = []
        for job in jobs:
            job.on_start()
            by_target: dict[str | None, list[int]] = {}
            for index, cell in enumerate(job.cells):
                by_target.setdefault(cell.target, []).append(index)
            for target, indexes in by_target.items():
                tasks.append(_Task(job, target, indexes))
        hellos: dict[int, list[WorkerHello]] = {id(job): [] for job in jobs}
        try:
            for task in tasks:
                self._submit(task, Queue)
            self._follow(tasks, hellos, Queue)
        except BaseException:  # an interrupted run leaves nothing running on the cluster
            self._stop(tasks)
            raise

    def _stop(self, tasks: list[_Task]) -> None:
        """Ask running tasks to stop (their subprocess is killed at its next message) and cancel the rest."""
        from distributed import Event

        for task in tasks:
            if task.future is None:
                continue
            try:
                Event(stop_event_name(task.queue_name), client=self.client).set()
            except Exception:  # noqa: BLE001, S110 - a scheduler already gone stops nothing
                pass
            task.future.cancel()

    def _follow(self, tasks: list[_Task], hellos: dict[int, list[WorkerHello]], queue_type) -> None:
        """Deliver the tasks' messages as they come, finish each task as its future ends, until none is left."""
        last_check = time.monotonic()
        while tasks:
            busy = False
            for task in list(tasks):
                busy |= task.stream.take(_drain(task.queue, wait=0))
                if not task.future.done():
                    continue
                task.stream.take(_drain(task.queue, wait=0))
                if not self._finish(task, queue_type, hellos[id(task.job)]):
                    continue
                tasks.remove(task)
                if not any(other.job is task.job for other in tasks):
                    own = hellos[id(task.job)]
                    task.job.on_done(own[0] if own else None)
            if time.monotonic() - last_check > LIVENESS_SECONDS and tasks:
                last_check = time.monotonic()
                self._cancel_stranded(tasks)
            if not busy:
                time.sleep(POLL_SECONDS)

    def _submit(self, task: _Task, queue_type) -> None:
        """Send the task's pending cells; a target with no live worker able to run them fails them at once
        (an empty worker list would let Dask run them anywhere)."""
        cells = [task.job.cells[index] for index in task.pending]
        task.timing = any(self.is_timing(cell) for cell in cells)
        task.allowed = self._allowed(task.target, task.timing, self.workers())
        task.queue_name = f"lstm-bench-{uuid.uuid4().hex}"
        task.queue = queue_type(task.queue_name, client=self.client)
        task.stream = _Stream(task.job, task.pending)
        if task.allowed == []:
            task.failure = (f"host {task.target} has no live Dask worker" + (f" offering {BENCHMARK_RESOURCE!r}" if task.timing
                                                                              else ""))
            task.future = _Failed(task.failure)
            return
        task.future = self.client.submit(
            run_on_worker, task.job.info, cells, self.limits, task.queue_name, task.timing, pure=False,
            workers=task.allowed, allow_other_workers=False,
            resources={BENCHMARK_RESOURCE: 1} if task.timing else None)

    def _finish(self, task: _Task, queue_type, hellos: list[WorkerHello]) -> bool:
        """A task's future is done: take its result; resend its unfinished cells (False: still running),
        or record them as errors once it was sent `RESUBMISSIONS` + 1 times (True: done)."""
        failure = None
        try:
            hello = task.future.result()
            if hello is not None:
                hellos.append(hello)
        except Exception as error:  # noqa: BLE001 - a dead worker or a failed task: its cells are retried
            failure = task.failure or f"its Dask worker failed ({type(error).__name__}: {one_line(error)})"
        task.pending = [index for index in task.pending if index not in task.stream.delivered]
        if not task.pending:
            return True
        where = f" on {task.target}" if task.target else ""
        if task.attempt < RESUBMISSIONS:
            task.attempt += 1
            task.failure = None
            task.job.message(f"{task.job.info.name}: {len(task.pending)} cell(s){where} not finished "
                             f"({failure or 'the task ended without them'}); sending them again")
            self._submit(task, queue_type)
            return False
        for index in task.pending:
            task.job.on_outcome(index, CellOutcome(error=(failure or "the Dask task ended without its result")
                                                   + f"{where}; sent {RESUBMISSIONS + 1} times"))
        return True

    def _cancel_stranded(self, tasks: list[_Task]) -> None:
        """Cancel the tasks none of whose allowed workers is alive any more (Dask would keep them waiting)."""
        alive = set(self._worker_info())
        for task in tasks:
            if task.allowed is not None and not task.future.done() and not set(task.allowed) & alive:
                task.failure = f"its Dask worker {', '.join(task.allowed) or '(none)'} is gone"
                self._stop([task])

    def close(self) -> None:
        self.client.close()


def _ignore(*_: Any) -> None:
    return None


class _Failed:
    """A future that was never submitted: done, its result the error it stands for."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def done(self) -> bool:
        return True

    def result(self):
        raise RuntimeError(self.reason)

    def cancel(self) -> None:
        return None


@dataclass
class _Task:
    """One Dask task: a job's cells for one target, and what it was submitted as."""

    job: BackendJob
    target: str | None
    pending: list[int]
    attempt: int = 0
    timing: bool = False
    allowed: list[str] | None = None
    queue_name: str = ""
    queue: Any = None
    future: Any = None
    stream: _Stream | None = None
    failure: str | None = field(default=None)


class _Stream:
    """Hands one task's messages to its job's callbacks: each cell's outcome once (a resubmitted or
    rescheduled task's repeat is dropped), with where it ran; a cell's start and heartbeat; and a message
    when the task's messages start coming from another worker (Dask moved it off a dead one)."""

    def __init__(self, job: BackendJob, pending: list[int]) -> None:
        self.job, self.pending = job, list(pending)
        self.delivered: set[int] = set()
        self.worker: str | None = None

    def take(self, messages: list) -> bool:
        """Deliver ``messages``; whether there were any."""
        for kind, local_index, value, where in messages:
            index = self.pending[local_index]
            if self.worker is not None and where["address"] != self.worker:
                self.job.message(f"{self.job.info.name}: Dask moved its task from worker {self.worker} to "
                                 f"{where['address']} ({where['host']}); cells already saved are not recorded twice")
            self.worker = where["address"]
            if kind == "outcome" and index not in self.delivered:
                self.delivered.add(index)
                value.host = where
                self.job.on_outcome(index, value)
            elif kind == "started":
                self.job.on_started(index)
            elif kind == "running":
                self.job.on_still_running(index, value)
        return bool(messages)


def _drain(queue, wait: float) -> list:
    """Everything on ``queue`` now; when it is empty, a pause of ``wait`` seconds first. (A ``get`` that
    times out is logged by the scheduler as an error, so the queue's size is asked instead.)"""
    size = queue.qsize()
    if not size and wait:
        time.sleep(wait)
        size = queue.qsize()
    return list(queue.get(batch=size)) if size else []
