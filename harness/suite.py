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
from harness.results.record import SKIPPED, UNSUPPORTED, Record


@dataclass(frozen=True)
class SuiteOptions:
    """Settings that suites share, given on the command line and sent to every worker.

    Attributes:
        steps: optimizer steps per training run (suite ``training``).
        devices: devices the per-device suites (timing, gradients, training) run on, one cell each.
        device: the device of this cell (set per cell by `Suite.cells`).
        budget: how long to time each cell.
        cpu_peak_gflops: the CPU's measured float32 GEMM throughput at the run's thread count.
    """

    steps: int = 20
    devices: tuple[str, ...] = ("cpu",)
    device: str = "cpu"
    budget: TimingBudget = field(default_factory=TimingBudget)
    cpu_peak_gflops: float | None = None

    def replace(self, **changes: Any) -> SuiteOptions:
        return replace(self, **changes)


class Suite(ABC):
    """A check or benchmark run for every selected backend and spec.

    The split keeps frameworks out of the parent process: `measure` runs inside the backend's worker
    and returns plain, picklable data (dicts, tuples, NumPy arrays); `judge` turns that data into a
    `Record` in the parent, where nothing but NumPy is imported.
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

    def not_run(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions,
                kinds: tuple[str, ...] = (SKIPPED, UNSUPPORTED)) -> Record | None:
        """The record of a cell the backend did not run, when `measure` returned ``{"skipped": why}`` or
        ``{"unsupported": why}`` (the key is the record's status; only those in ``kinds`` count); None when
        it ran."""
        for status in kinds:
            if isinstance(measurement, dict) and status in measurement:
                return Record(self.name, backend_name, status, spec.to_dict(), f"{backend_name}: {measurement[status]}",
                              self.record_details(options))
        return None

    @abstractmethod
    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> Any:
        """Build and exercise ``backend``'s model for ``spec``; runs in the backend's worker."""

    @abstractmethod
    def judge(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions) -> Record:
        """Compare a measurement with the contract and say pass or fail, naming what differs."""

    @abstractmethod
    def tables(self, records: list[Record]) -> list[Table]:
        """The tables ``bench run`` prints for this suite's records."""
