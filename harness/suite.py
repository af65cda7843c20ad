"""The suite contract: measure in the backend's worker, judge and tabulate in the parent."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.contract import Backend
from harness.records import Record, Table
from harness.spec import ModelSpec


@dataclass(frozen=True)
class SuiteOptions:
    """Settings that suites share, given on the command line and sent to every worker.

    Attributes:
        steps: optimizer steps per training run (suite ``training``).
    """

    steps: int = 20


class Suite(ABC):
    """A check or benchmark run for every selected backend and spec.

    The split keeps frameworks out of the parent process: `measure` runs inside the backend's worker
    and returns plain, picklable data (dicts, tuples, NumPy arrays); `judge` turns that data into a
    `Record` in the parent, where nothing but NumPy is imported.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    def task_specs(self, spec: ModelSpec) -> list[ModelSpec]:
        """The specs this suite measures for one requested spec (default: just that spec)."""
        return [spec]

    @abstractmethod
    def measure(self, backend: Backend, spec: ModelSpec, options: SuiteOptions) -> Any:
        """Build and exercise ``backend``'s model for ``spec``; runs in the backend's worker."""

    @abstractmethod
    def judge(self, spec: ModelSpec, backend_name: str, measurement: Any, options: SuiteOptions) -> Record:
        """Compare a measurement with the contract and say pass or fail, naming what differs."""

    @abstractmethod
    def tables(self, records: list[Record]) -> list[Table]:
        """The tables ``bench run`` prints for this suite's records."""
