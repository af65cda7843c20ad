"""The suite contract: measure in the backend's worker, judge and tabulate in the parent."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from harness.cell import Cell
from harness.contract import Backend
from harness.measurement.timer import TimingBudget
from harness.model_spec import ModelSpec
from harness.rendering import Table
from harness.results.record import FAIL, SKIPPED, UNSUPPORTED, Record


@dataclass(frozen=True)
class SuiteOptions:
    """Settings that suites share, given on the command line and sent to every worker.

    Attributes:
        steps: optimizer steps per training run (suite ``training``).
        devices: devices the per-device suites (timing, gradients, training) run on, one cell each.
        device: the device of this cell (set per cell by `Suite.cells`).
        budget: how long to time each cell, and in how many rounds (fresh worker processes).
        threads: the run's CPU thread count (the CPU's GEMM peak is calibrated at it); None: the default.
        round: which round of a multi-round cell is being measured (set per round by `Cell.in_round`);
            the timing suites verify against the reference in round 0 only.
        profile: the timing suites also profile each cell, after its first round's samples
            (``bench run --profile``, `harness.profiling`).
        probe: the input and weights the ``gates`` suite traces (``bench explain``: a sentence's token ids
            and ``--weights``); None: the canonical sample batch and weights.
        expect_kernel: a timing cell fails unless the LSTM kernel that ran (from its profile's trace) has
            this text in its name, case-insensitively (``bench run --expect-kernel cuDNN``).
    """

    steps: int = 20
    devices: tuple[str, ...] = ("cpu",)
    device: str = "cpu"
    budget: TimingBudget = field(default_factory=TimingBudget)
    threads: int | None = None
    round: int = 0
    profile: bool = False
    expect_kernel: str | None = None
    probe: GateProbe | None = None

    def replace(self, **changes: Any) -> SuiteOptions:
        return replace(self, **changes)


@dataclass(frozen=True)
class GateProbe:
    """What ``bench explain`` asks the ``gates`` suite to trace: one example's token ids, and a ``.npz`` of
    weights in the canonical names (None: the canonical initial weights for the spec's seed)."""

    token_ids: tuple[int, ...]
    weights_file: str | None = None


@dataclass(frozen=True)
class NotRun:
    """What `Suite.measure` returns for a cell the backend did not run: its record's status
    (``skipped``: e.g. no such device; ``unsupported``: an optional capability the backend lacks;
    ``fail``: the work to be measured is not the verified work) and why."""

    status: str
    reason: str

    @classmethod
    def skipped(cls, reason: str) -> NotRun:
        return cls(SKIPPED, reason)

    @classmethod
    def unsupported(cls, reason: str) -> NotRun:
        return cls(UNSUPPORTED, reason)

    @classmethod
    def failed(cls, reason: str) -> NotRun:
        """A cell that cannot be measured because the backend's work is wrong (e.g. a timed closure that
        does not do the verified work): its record fails, and no further round is run."""
        return cls(FAIL, reason)


class Suite(ABC):
    """A check or benchmark run for every selected backend and spec.

    The split keeps frameworks out of the parent process: `measure` runs inside the backend's worker
    and returns plain, picklable data (dataclasses, dicts, NumPy arrays), or a `NotRun` for a cell the
    backend cannot run; `judge` turns that data into a `Record` in the parent, where no framework is
    imported. A suite that measures time asks for several rounds of each cell (`rounds`), each in a fresh
    worker, and judges them together (`judge_rounds`).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_spec: ClassVar[ModelSpec] = ModelSpec()
    """The spec used for every model option the command line leaves out."""
    default_hidden: ClassVar[tuple[int, ...]] = (ModelSpec().hidden,)
    """Hidden sizes used when ``--hidden`` is left out."""
    quick_spec: ClassVar[ModelSpec | None] = None
    """With ``--quick``: a smaller default spec (None: ``--quick`` changes nothing for this suite)."""
    quick_hidden: ClassVar[tuple[int, ...] | None] = None
    run_order: ClassVar[int] = 100
    """Where the suite runs and prints among others (``--suite all``, ``--suite checks``, ``bench check``):
    lower first, ties by name. The built-ins: params 10, shapes 20, gradients 30, training 40, train 50,
    infer 60."""
    measures_time: ClassVar[bool] = False
    """Timing suites say True: the run measures the CPU's GEMM peak and applies the timing options, and
    reports compare their medians. Every other suite is a *check* (``--suite checks``, ``bench check``)."""
    per_device: ClassVar[bool] = False
    """One cell per device in ``--device`` (timing and equivalence suites); others run on the CPU."""

    def declaration(self) -> dict[str, Any]:
        """What the suite declares about itself, saved in a run's metadata so that reports read a run
        correctly even where the suite's plugin is not installed."""
        return {"description": self.description, "measures_time": self.measures_time, "run_order": self.run_order}

    def cells(self, spec: ModelSpec, options: SuiteOptions) -> list[Cell]:
        """The cells this suite measures for one requested spec: one per device in ``options.devices`` for a
        `per_device` suite, else one on the CPU."""
        if self.per_device:
            return [Cell(self.name, spec, options.replace(device=device)) for device in options.devices]
        return [Cell(self.name, spec, options.replace(device="cpu"))]

    def record_details(self, options: SuiteOptions) -> dict[str, Any]:
        """Fields every record of this cell carries, even an error or unavailable one (the device)."""
        return {"device": options.device} if self.per_device else {}

    def device_unavailable(self, backend: Backend, options: SuiteOptions) -> str | None:
        """Why ``backend`` cannot run this cell's device, or None when it can."""
        devices = backend.devices()
        if options.device in devices:
            return None
        return f"no {options.device} device for this backend (it has: {', '.join(devices)})"

    def not_run(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions) -> Record | None:
        """The record of a cell the backend did not run, when `measure` returned a `NotRun`; None when it ran.

        A measurement of the 0.1 form, a dict ``{"skipped": why}`` or ``{"unsupported": why}``, is read the
        same way, so older third-party suites keep working.
        """
        if isinstance(measurement, dict):
            legacy = [status for status in (SKIPPED, UNSUPPORTED) if status in measurement]
            measurement = NotRun(legacy[0], str(measurement[legacy[0]])) if legacy else measurement
        if isinstance(measurement, NotRun):
            return Record(self.name, backend_name, measurement.status, spec.to_dict(), f"{backend_name}: {measurement.reason}",
                          self.record_details(options))
        return None

    def rounds(self, options: SuiteOptions) -> int:
        """How many rounds (fresh worker processes) each cell is measured in; checks need one."""
        return 1

    def judge_rounds(self, spec: ModelSpec, backend_name: str, measurements: list[Any], options: SuiteOptions) -> Record:
        """The record of a cell from the measurements of all its rounds, in round order. A suite measured
        once is judged by `judge` on its only measurement; a multi-round suite overrides this."""
        return self.judge(spec, backend_name, measurements[0], options)

    def round_to_json(self, measurement: Any) -> dict[str, Any]:
        """One round's measurement as JSON, kept in the run directory until the cell's last round is done
        (so an interrupted run resumes at the round it was on). Needed only when `rounds` exceeds 1."""
        raise NotImplementedError(f"suite {self.name!r} measures more than one round but cannot save a round")

    def round_from_json(self, data: dict[str, Any]) -> Any:
        """The measurement saved by `round_to_json`."""
        raise NotImplementedError(f"suite {self.name!r} measures more than one round but cannot load a round")

    @abstractmethod
    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> Any:
        """Build and exercise ``backend``'s model for ``spec``; runs in the backend's worker."""

    @abstractmethod
    def judge(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions) -> Record:
        """Compare a measurement with the contract and say pass or fail, naming what differs."""

    @abstractmethod
    def tables(self, records: list[Record]) -> list[Table]:
        """The tables ``bench run`` prints for this suite's records."""

    def report_tables(self, records: list[Record]) -> list[Table]:
        """The suite's section of ``bench report`` (terminal, markdown and HTML) for its records in a saved
        run; by default the tables ``bench run`` prints. The records are read back from the run's files, so
        a suite whose tables need more than its records' details must save it in them."""
        return self.tables(records)
